/**
 * Self-certifying node ids: `"fh1"` + lowercase base32 of the 32-byte ed25519
 * public key, so anyone holding an id can verify that node's signatures.
 */
import { FedhubError } from "../errors.ts"
import { fromBase32, toBase32 } from "./encoding.ts"

/** A validated fedhub node id (55 chars: "fh1" + 52 base32 chars). */
export type NodeId = string & { __nodeId: true }

/** Prefix of every node id; the "1" is the id format version. */
export const NODE_ID_PREFIX = "fh1"
/** Length of every node id: prefix + base32 of 32 bytes. */
export const NODE_ID_LENGTH = NODE_ID_PREFIX.length + 52

const NODE_ID_RE = /^fh1[a-z2-7]{52}$/

/** Derives the node id of an ed25519 public key. */
export function nodeIdFromPublicKey(pk: Uint8Array): NodeId {
  if (!(pk instanceof Uint8Array) || pk.length !== 32)
    throw new FedhubError("INVALID_INPUT", "an ed25519 public key is 32 bytes")
  return (NODE_ID_PREFIX + toBase32(pk)) as NodeId
}

/** Recovers the public key inside a node id; throws BAD_NODE_ID if `id` is not one. */
export function publicKeyFromNodeId(id: string): Uint8Array {
  if (typeof id !== "string") throw new FedhubError("BAD_NODE_ID", "a node id is a string")
  if (!id.startsWith(NODE_ID_PREFIX)) throw new FedhubError("BAD_NODE_ID", `a node id starts with "${NODE_ID_PREFIX}"`)
  if (id.length !== NODE_ID_LENGTH)
    throw new FedhubError("BAD_NODE_ID", `a node id is ${NODE_ID_LENGTH} characters, got ${id.length}`)
  if (!NODE_ID_RE.test(id)) throw new FedhubError("BAD_NODE_ID", "a node id holds lowercase base32 (a-z, 2-7) after its prefix")
  try {
    return fromBase32(id.slice(NODE_ID_PREFIX.length))
  } catch {
    // only non-zero trailing bits can fail here: a second spelling of some key
    throw new FedhubError("BAD_NODE_ID", "a node id's last character must encode zero padding bits")
  }
}

/** True when `s` is a well-formed node id (no exceptions). */
export function isNodeId(s: unknown): s is NodeId {
  if (typeof s !== "string" || !NODE_ID_RE.test(s)) return false
  try {
    fromBase32(s.slice(NODE_ID_PREFIX.length))
    return true
  } catch {
    return false
  }
}

/** Validates untrusted input as a node id; throws BAD_NODE_ID with the reason. */
export function parseNodeId(s: unknown): NodeId {
  if (typeof s !== "string") throw new FedhubError("BAD_NODE_ID", "a node id is a string")
  publicKeyFromNodeId(s)
  return s as NodeId
}
