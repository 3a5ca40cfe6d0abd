/**
 * Chains of key rotations (pure): which records lead to a node's current id, and which id an
 * old id leads to. A hub serves its chain (GET /api/node/rotations, its join) so a peer that
 * knew an older id — a link pinned to it, a trust level, a block — can follow it.
 */
import { envelopeId, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import { toFedhubError } from "../errors.ts"
import { verifyRotation, type KeyRotation } from "./rotation.ts"

/** Most records a chain holds (and a peer's list is read up to): rotations are rare. */
export const MAX_CHAIN = 16

/** The records, newest last, by which `nodeId` was reached from earlier ids (walking back by newId). */
export function rotationChainTo(records: readonly SignedEnvelope<KeyRotation>[], nodeId: NodeId): SignedEnvelope<KeyRotation>[] {
  const chain: SignedEnvelope<KeyRotation>[] = []
  const seen = new Set<string>([nodeId])
  let at: string = nodeId
  while (chain.length < MAX_CHAIN) {
    const into = records.filter(r => r.payload.newId === at && !seen.has(r.payload.oldId))
    if (into.length !== 1) break // none, or two old keys claim this one: the chain stops here
    const r = into[0]!
    chain.unshift(r)
    seen.add(r.payload.oldId)
    at = r.payload.oldId
  }
  return chain
}

/** What `followRotation` found. */
export interface FollowedRotation {
  /** The id `from` leads to (itself when no valid record moves it). */
  to: NodeId
  /** The verified records walked, in order. */
  records: SignedEnvelope<KeyRotation>[]
  /** Records refused, with their code (never used). */
  refused: { envelopeId?: string; code: string; detail: string }[]
}

/**
 * Follows `from` through untrusted records (each verified: both signatures; refused ones are
 * reported and skipped) to the id it leads to. An id that rotated to two different keys leads
 * nowhere further (as in carryRotations: no trust follows an ambiguous rotation). Pure.
 */
export function followRotation(from: NodeId, untrusted: unknown, now = Date.now()): FollowedRotation {
  const list = Array.isArray(untrusted) ? untrusted.slice(0, MAX_CHAIN * 4) : []
  const valid: SignedEnvelope<KeyRotation>[] = []
  const refused: FollowedRotation["refused"] = []
  for (const raw of list) {
    try {
      valid.push(verifyRotation(raw, { now }))
    } catch (e) {
      const err = toFedhubError(e)
      let id: string | undefined
      try {
        id = envelopeId(raw as SignedEnvelope)
      } catch {
        id = undefined
      }
      refused.push({ ...(id ? { envelopeId: id } : {}), code: err.code, detail: err.detail })
    }
  }
  return { ...walkRotations(valid, from), refused }
}

/** Walks `from` through records already verified (no signature checked here): where it leads, and by which records. */
export function walkRotations(valid: readonly SignedEnvelope<KeyRotation>[], from: NodeId): { to: NodeId; records: SignedEnvelope<KeyRotation>[] } {
  const records: SignedEnvelope<KeyRotation>[] = []
  const seen = new Set<string>([from])
  let at: NodeId = from
  while (records.length < MAX_CHAIN) {
    const out = new Map(valid.filter(r => r.payload.oldId === at).map(r => [r.payload.newId, r]))
    if (out.size !== 1) break
    const r = [...out.values()][0]!
    if (seen.has(r.payload.newId)) break
    records.push(r)
    seen.add(r.payload.newId)
    at = r.payload.newId as NodeId
  }
  return { to: at, records }
}
