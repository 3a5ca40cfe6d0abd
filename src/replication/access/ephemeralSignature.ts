/**
 * Signed ephemeral messages (issue 12, item 3): automerge-repo relays an ephemeral
 * message hop by hop with whatever `senderId` it carries, so its origin must sign it. The
 * origin hub signs `{documentId, senderId, sessionId, count, dataHash}` (or, for a local
 * client of its own, vouches for it with the same record); the signature travels with the
 * message as `fedhubSig`, and every hub checks it before automerge-repo sees the message.
 */
import { createHash } from "node:crypto"
import type { Message } from "@automerge/automerge-repo/slim"
import { FedhubError } from "../../errors.ts"
import { isNodeId, signEnvelope, verifyEnvelope, type Identity, type SignedEnvelope } from "../../identity/index.ts"

export const EPHEMERAL_PURPOSE = "fedhub/ephemeral/v1"

/** What an ephemeral signature covers. */
export interface EphemeralStatement {
  documentId: string
  senderId: string
  sessionId: string
  count: number
  /** Hex SHA-256 of the message's data bytes. */
  dataHash: string
}

/** An automerge-repo ephemeral message as it travels between hubs, signature included. */
export type SignedEphemeralMessage = Message & EphemeralFields & { fedhubSig?: unknown }

/** The fields of an ephemeral message the signature is about. */
export interface EphemeralFields {
  documentId: string
  senderId: string
  sessionId: string
  count: number
  data: Uint8Array
}

const statementOf = (m: EphemeralFields): EphemeralStatement => ({
  documentId: m.documentId,
  senderId: m.senderId,
  sessionId: m.sessionId,
  count: m.count,
  dataHash: createHash("sha256").update(m.data).digest("hex"),
})

/** Signs an ephemeral message this hub originates, or one of its local clients sends through it. */
export function signEphemeral(identity: Identity, m: EphemeralFields): SignedEnvelope<EphemeralStatement> {
  return signEnvelope(identity, EPHEMERAL_PURPOSE, statementOf(m))
}

/**
 * Checks an ephemeral message's signature: it must verify, cover exactly this message,
 * and be made by its sender, or, for a sender that is not a node (a hub's local client),
 * by a node `vouches` admits. Returns the signing node. Throws SIGNATURE_INVALID otherwise.
 */
export function verifyEphemeral(m: EphemeralFields, signature: unknown, vouches: (signer: string) => boolean): string {
  if (signature === undefined) throw new FedhubError("SIGNATURE_INVALID", `an ephemeral message from ${m.senderId} carries no signature`)
  const signer = (signature as { signer?: unknown } | null)?.signer
  const env = verifyEnvelope<EphemeralStatement>(signature, { purpose: EPHEMERAL_PURPOSE, signer: typeof signer === "string" ? signer : undefined })
  const want = statementOf(m)
  const got = env.payload
  if (
    got.documentId !== want.documentId ||
    got.senderId !== want.senderId ||
    got.sessionId !== want.sessionId ||
    got.count !== want.count ||
    got.dataHash !== want.dataHash
  )
    throw new FedhubError("SIGNATURE_INVALID", "an ephemeral message's signature covers another message")
  const origin = isNodeId(m.senderId)
  if (origin ? env.signer !== m.senderId : !vouches(env.signer))
    throw new FedhubError("SIGNATURE_INVALID", `an ephemeral message claiming ${m.senderId} is signed by ${env.signer}`)
  return env.signer
}
