/**
 * Key rotation: a record signed by the old key naming the new node id, so peers
 * that trusted the old key can follow the node to its new one.
 */
import { publicKeyFromNodeId, signEnvelope, toBase64, verifyEnvelope, isNodeId, type Identity, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import { FedhubError } from "../errors.ts"

export const ROTATION_PURPOSE = "fedhub/key-rotation/v1"

/** The payload of a rotation record. */
export interface KeyRotation {
  oldId: NodeId
  newId: NodeId
  newPublicKey: string
  rotatedAt: number
}

/** Signs, with the old identity, the move to `next`. */
export function rotateKey(old: Identity, next: Identity, now = Date.now()): SignedEnvelope<KeyRotation> {
  if (old.nodeId === next.nodeId) throw new FedhubError("INVALID_INPUT", "a rotation needs a new key")
  return signEnvelope(old, ROTATION_PURPOSE, { oldId: old.nodeId, newId: next.nodeId, newPublicKey: toBase64(next.publicKey), rotatedAt: now }, now)
}

/** Verifies a rotation record: signed by the old key, naming a well-formed new id and its key. */
export function verifyRotation(envelope: unknown): SignedEnvelope<KeyRotation> {
  const claimed = (envelope as { payload?: { oldId?: unknown } } | null)?.payload?.oldId
  const env = verifyEnvelope<KeyRotation>(envelope, { purpose: ROTATION_PURPOSE, signer: typeof claimed === "string" ? claimed : undefined })
  const p = env.payload
  if (!isNodeId(p.newId) || p.newId === p.oldId) throw new FedhubError("INVALID_INPUT", "rotation names no new node id")
  if (p.newPublicKey !== toBase64(publicKeyFromNodeId(p.newId)))
    throw new FedhubError("WRONG_SIGNER", "rotation's new key is not the one its new id commits to")
  return env
}
