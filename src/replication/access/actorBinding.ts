/**
 * Actor bindings: a node's signed statement that an Automerge actor id writes on its
 * behalf in one document. A hub's actor ids are derived from its node id, the
 * document and an epoch (one actor per hub per document per epoch), so a binding is
 * checkable by anyone and no other node can claim the actor: binding someone else's
 * actor would need a SHA-256 preimage.
 */
import { isValidDocumentId } from "@automerge/automerge-repo"
import { FedhubError } from "../../errors.ts"
import { contentId, signEnvelope, verifyEnvelope, type Identity, type NodeId, type SignedEnvelope } from "../../identity/index.ts"
import { validate, type ActorBinding } from "../../schema/index.ts"

/** Purpose string of actor bindings (domain separation). */
export const ACTOR_BINDING_PURPOSE = "fedhub/actor-binding/v1"
/** Domain of the hash an actor id is derived from. */
export const ACTOR_ID_PURPOSE = "fedhub/actor-id/v1"
/** Highest epoch (a 32-bit counter). */
export const MAX_EPOCH = 0xffff_ffff

/** A signed actor binding. */
export type ActorBindingRecord = SignedEnvelope<ActorBinding>

/**
 * The actor id `nodeId` writes `documentId` under in `epoch`: the first 32 hex digits
 * (16 bytes) of SHA-256 of canonical {purpose: "fedhub/actor-id/v1", nodeId, documentId, epoch}.
 */
export function actorIdFor(nodeId: NodeId, documentId: string, epoch = 0): string {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH)
    throw new FedhubError("INVALID_INPUT", `an actor epoch is an integer from 0 to ${MAX_EPOCH}`)
  return contentId({ purpose: ACTOR_ID_PURPOSE, nodeId, documentId, epoch }).slice(0, 32)
}

/** Options of `bindActor`. */
export interface BindActorOptions {
  /** Which of this node's actors in the document (default 0). */
  epoch?: number
  /** Signing time in ms; defaults to Date.now(). */
  now?: number
}

/**
 * Signs the binding of this node's derived actor for `documentId` (and epoch); the
 * actor id is `record.payload.actorId`, to be given to Automerge (`A.clone(doc, { actor })`).
 */
export function bindActor(identity: Identity, documentId: string, opts: BindActorOptions = {}): ActorBindingRecord {
  if (!isValidDocumentId(documentId)) throw new FedhubError("BAD_DOC_URL", `not a document id: ${JSON.stringify(documentId)}`)
  const epoch = opts.epoch ?? 0
  const payload = validate(
    "actor-binding",
    { documentId, nodeId: identity.nodeId, epoch, actorId: actorIdFor(identity.nodeId, documentId, epoch) },
    { code: "ACTOR_BINDING_INVALID" },
  )
  return signEnvelope(identity, ACTOR_BINDING_PURPOSE, payload, opts.now ?? Date.now())
}

/**
 * Verifies an untrusted binding and returns it typed: what verifyEnvelope refuses,
 * then ACTOR_BINDING_INVALID for a bad payload, a nodeId other than the signer, an
 * actor not derived from (nodeId, documentId, epoch), or another document than `documentId` when given.
 */
export function verifyBinding(envelope: unknown, expect: { documentId?: string } = {}): ActorBindingRecord {
  return checkBinding(verifyEnvelope<unknown>(envelope, { purpose: ACTOR_BINDING_PURPOSE }), expect)
}

/** The payload checks of `verifyBinding`, for an envelope whose signature is already verified. */
export function checkBinding(env: SignedEnvelope<unknown>, expect: { documentId?: string } = {}): ActorBindingRecord {
  const b = validate("actor-binding", env.payload, { code: "ACTOR_BINDING_INVALID", label: "actor binding" })
  if (b.nodeId !== env.signer) throw new FedhubError("ACTOR_BINDING_INVALID", `binds to ${b.nodeId} but is signed by ${env.signer}`)
  if (expect.documentId !== undefined && b.documentId !== expect.documentId)
    throw new FedhubError("ACTOR_BINDING_INVALID", `binds an actor of ${b.documentId}, not of ${expect.documentId}`)
  if (b.actorId !== actorIdFor(env.signer, b.documentId, b.epoch))
    throw new FedhubError("ACTOR_BINDING_INVALID", `actor ${b.actorId} is not derived from ${env.signer}, its document and epoch ${b.epoch}`)
  return { ...env, payload: b }
}
