/**
 * Key rotation: a record by which a node moves from its old key to a new one, so
 * peers that trusted (or blocked) the old id can follow it to the new id.
 *
 * A record needs the consent of both keys: the new key signs the rotation
 * statement `{ oldId, newId, newPublicKey, rotatedAt }` for ROTATION_CONSENT_PURPOSE,
 * and the old key signs the statement plus that counter-signature for
 * ROTATION_PURPOSE. So an old key cannot hand its standing to a node that did not
 * agree, and a new key cannot claim an old id's standing on its own. Pure: no clock but `now`.
 */
import {
  envelopeId,
  isNodeId,
  publicKeyFromNodeId,
  signEnvelope,
  toBase64,
  verifyEnvelope,
  type Identity,
  type NodeId,
  type SignedEnvelope,
} from "../identity/index.ts"
import { FedhubError, toFedhubError, type ErrorCode } from "../errors.ts"
import { validate, type KeyRotation } from "../schema/index.ts"
import type { AdminLevel } from "./trust.ts"

export type { KeyRotation }

/** Purpose of the rotation record, signed by the old key (v1 records had no counter-signature and are refused). */
export const ROTATION_PURPOSE = "fedhub/key-rotation/v2"
/** Purpose of the new key's counter-signature over the rotation statement (domain separated from the record). */
export const ROTATION_CONSENT_PURPOSE = "fedhub/key-rotation-consent/v1"
/** The purpose of the old, single-signature records. */
const LEGACY_ROTATION_PURPOSE = "fedhub/key-rotation/v1"
/** How far a rotation's time may lie ahead of the verifier's clock. */
export const ROTATION_MAX_SKEW_MS = 5 * 60_000

/** What both keys sign. */
export type RotationStatement = Omit<KeyRotation, "newKeySig">

const statementOf = (p: KeyRotation): RotationStatement => ({
  oldId: p.oldId,
  newId: p.newId,
  newPublicKey: p.newPublicKey,
  rotatedAt: p.rotatedAt,
})

/**
 * Signs the move from `old` to `next`: `next` counter-signs the statement, then `old`
 * signs the record. Throws INVALID_INPUT when both are the same key or `now` is not a timestamp.
 */
export function rotateKey(old: Identity, next: Identity, now = Date.now()): SignedEnvelope<KeyRotation> {
  if (old.nodeId === next.nodeId) throw new FedhubError("INVALID_INPUT", "a rotation needs a new key")
  const statement: RotationStatement = {
    oldId: old.nodeId,
    newId: next.nodeId,
    newPublicKey: toBase64(next.publicKey),
    rotatedAt: now,
  }
  const consent = signEnvelope(next, ROTATION_CONSENT_PURPOSE, statement, now)
  return signEnvelope(old, ROTATION_PURPOSE, validate("key-rotation", { ...statement, newKeySig: consent.sig }), now)
}

/** Options of `verifyRotation`. */
export interface VerifyRotationOptions {
  /** Clock for the future-skew check; defaults to Date.now(). */
  now?: number
  /** The directory key the record was stored under: it must be the record's oldId (WRONG_SIGNER otherwise). */
  storedUnder?: string
}

/**
 * Verifies an untrusted rotation record and returns it typed. Refuses: a v1 record
 * (WRONG_PURPOSE: it has no counter-signature), what verifyEnvelope refuses (shape,
 * purpose, signature; the signer must be the payload's oldId: WRONG_SIGNER), SCHEMA_INVALID,
 * a record stored under another key than its oldId (WRONG_SIGNER), no new id or
 * newId = oldId (INVALID_INPUT), a new key that is not the one newId commits to
 * (WRONG_SIGNER), an envelope time other than rotatedAt (INVALID_INPUT), a time more
 * than 5 min ahead (STALE_TIMESTAMP), and a missing or bad counter-signature by the
 * new key (SIGNATURE_INVALID / SIGNATURE_MALLEABLE).
 */
export function verifyRotation(envelope: unknown, opts: VerifyRotationOptions = {}): SignedEnvelope<KeyRotation> {
  const now = opts.now ?? Date.now()
  const raw = envelope as { purpose?: unknown; payload?: { oldId?: unknown } } | null
  if (typeof raw === "object" && raw !== null && raw.purpose === LEGACY_ROTATION_PURPOSE)
    throw new FedhubError("WRONG_PURPOSE", `a ${LEGACY_ROTATION_PURPOSE} record is not counter-signed by its new key; re-issue it as ${ROTATION_PURPOSE}`)
  const claimed = typeof raw === "object" && raw !== null ? raw.payload?.oldId : undefined
  if (typeof claimed !== "string") throw new FedhubError("INVALID_INPUT", "rotation names no old node id")
  const env = verifyEnvelope<unknown>(envelope, { purpose: ROTATION_PURPOSE, signer: claimed, now, maxFutureMs: ROTATION_MAX_SKEW_MS })
  const p = validate("key-rotation", env.payload, { label: "key rotation" })
  if (opts.storedUnder !== undefined && opts.storedUnder !== p.oldId)
    throw new FedhubError("WRONG_SIGNER", `rotation of ${p.oldId} stored under ${opts.storedUnder}; a rotation is kept under its own oldId`)
  if (!isNodeId(p.newId) || p.newId === p.oldId) throw new FedhubError("INVALID_INPUT", "rotation names no new node id")
  if (p.newPublicKey !== toBase64(publicKeyFromNodeId(p.newId)))
    throw new FedhubError("WRONG_SIGNER", "rotation's new key is not the one its new id commits to")
  if (env.time !== p.rotatedAt)
    throw new FedhubError("INVALID_INPUT", `rotation signed at ${env.time} but dated rotatedAt ${p.rotatedAt}`)
  try {
    verifyEnvelope({ v: 1, purpose: ROTATION_CONSENT_PURPOSE, signer: p.newId, time: p.rotatedAt, payload: statementOf(p), sig: p.newKeySig }, {
      purpose: ROTATION_CONSENT_PURPOSE,
      signer: p.newId,
    })
  } catch (e) {
    const err = toFedhubError(e)
    throw new FedhubError(err.code, `the new key ${p.newId} did not counter-sign this rotation: ${err.detail}`)
  }
  return { ...env, payload: p }
}

/** What one rotation record did to the administrator levels, for reports. */
export interface RotationOutcome {
  /** envelopeId of the record, or "" when it has none. */
  envelopeId: string
  oldId: string
  newId: string
  /** What the new id inherited: a level, "blocked", or nothing. */
  carried?: AdminLevel
  /** A sentence for the API, CLI and dashboard. */
  reason: string
  /** Set when the record was refused (it carried nothing). */
  code?: ErrorCode
}

/** The result of `carryRotations`. */
export interface CarriedLevels {
  /** Administrator levels after rotations: the input's plus what rotations carried. */
  adminLevels: Map<NodeId, AdminLevel | undefined>
  /** New ids whose level came from a rotation, mapped to the old id it came from. */
  carriedFrom: Map<NodeId, NodeId>
  /** One outcome per distinct record, sorted by old id, new id, envelope id. */
  outcomes: RotationOutcome[]
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
const RANK: Record<"trusted" | "partner", number> = { trusted: 0, partner: 1 }

/**
 * Carries administrator levels across key rotations (pure; input order never matters).
 * Each record is verified here (refused ones carry nothing). Rules:
 * - a block always carries: the new id of a blocked old id (transitively) is blocked,
 *   even when an administrator trusted the new id — a rotation proves one party holds both keys;
 * - trusted/partner carries from an old id (set by an administrator, or itself carried) to a
 *   new id that is not blocked and has no administrator level of its own, transitively;
 *   when several old ids reach one new id, the weaker level wins;
 * - an old id that rotated to more than one new id carries no trust at all (only its block);
 * - a rotation to a blocked new id carries nothing.
 */
export function carryRotations(
  adminLevels: ReadonlyMap<NodeId, AdminLevel | undefined>,
  rotations: readonly unknown[],
  now: number,
): CarriedLevels {
  const outcomes = new Map<string, RotationOutcome>()
  const valid = new Map<string, SignedEnvelope<KeyRotation>>()
  for (const raw of rotations) {
    let env: SignedEnvelope<KeyRotation>
    try {
      env = verifyRotation(raw, { now })
    } catch (e) {
      const err = toFedhubError(e)
      const r = raw as { payload?: { oldId?: unknown; newId?: unknown } } | null
      let id = ""
      try {
        id = envelopeId(raw as SignedEnvelope)
      } catch {
        // malformed: no id
      }
      const oldId = typeof r?.payload?.oldId === "string" ? r.payload.oldId : ""
      const newId = typeof r?.payload?.newId === "string" ? r.payload.newId : ""
      outcomes.set(`refused:${id}:${err.code}:${oldId}:${newId}`, { envelopeId: id, oldId, newId, code: err.code, reason: `refused: ${err.detail}` })
      continue
    }
    valid.set(envelopeId(env), env)
  }
  const records = [...valid.entries()]
    .map(([id, env]) => ({ id, oldId: env.payload.oldId as NodeId, newId: env.payload.newId as NodeId }))
    .sort((a, b) => byString(a.oldId, b.oldId) || byString(a.newId, b.newId) || byString(a.id, b.id))
  const targets = new Map<NodeId, Set<NodeId>>()
  for (const r of records) (targets.get(r.oldId) ?? targets.set(r.oldId, new Set()).get(r.oldId)!).add(r.newId)
  const ambiguous = (old: NodeId): boolean => (targets.get(old)?.size ?? 0) > 1

  const levels = new Map<NodeId, AdminLevel | undefined>(adminLevels)
  const carriedFrom = new Map<NodeId, NodeId>()

  // 1. blocks carry to every new id, transitively
  const blocked = new Set<NodeId>([...adminLevels].filter(([, l]) => l === "blocked").map(([n]) => n))
  for (let changed = true; changed; ) {
    changed = false
    for (const r of records)
      if (blocked.has(r.oldId) && !blocked.has(r.newId)) {
        blocked.add(r.newId)
        if (adminLevels.get(r.newId) !== "blocked") carriedFrom.set(r.newId, r.oldId)
        levels.set(r.newId, "blocked")
        changed = true
      }
  }

  // 2. trust carries breadth-first from the administrator's anchors, the weaker level on ties
  const anchored = new Map<NodeId, "trusted" | "partner">()
  for (const [n, l] of adminLevels) if ((l === "trusted" || l === "partner") && !blocked.has(n)) anchored.set(n, l)
  let frontier = [...anchored.keys()].sort(byString)
  while (frontier.length > 0) {
    const next = new Map<NodeId, { level: "trusted" | "partner"; from: NodeId }>()
    for (const old of frontier) {
      if (ambiguous(old)) continue
      const level = anchored.get(old)!
      for (const r of records) {
        if (r.oldId !== old) continue
        if (blocked.has(r.newId) || adminLevels.get(r.newId) !== undefined || anchored.has(r.newId)) continue
        const cur = next.get(r.newId)
        if (!cur || RANK[level] < RANK[cur.level] || (RANK[level] === RANK[cur.level] && old < cur.from)) next.set(r.newId, { level, from: old })
      }
    }
    for (const [n, { level, from }] of next) {
      anchored.set(n, level)
      levels.set(n, level)
      carriedFrom.set(n, from)
    }
    frontier = [...next.keys()].sort(byString)
  }

  // 3. one outcome per valid record
  for (const r of records) {
    const key = `ok:${r.id}`
    const base = { envelopeId: r.id, oldId: r.oldId, newId: r.newId }
    if (blocked.has(r.oldId)) outcomes.set(key, { ...base, carried: "blocked", reason: `${r.oldId} is blocked; the block carries to ${r.newId}` })
    else if (blocked.has(r.newId)) outcomes.set(key, { ...base, reason: `${r.newId} is blocked; the rotation carries nothing` })
    else if (ambiguous(r.oldId))
      outcomes.set(key, { ...base, reason: `${r.oldId} rotated to ${targets.get(r.oldId)!.size} different keys; no trust carries` })
    else if (carriedFrom.get(r.newId) === r.oldId)
      outcomes.set(key, { ...base, carried: levels.get(r.newId), reason: `${levels.get(r.newId)} carried from ${r.oldId}` })
    else if (adminLevels.get(r.newId) !== undefined)
      outcomes.set(key, { ...base, reason: `${r.newId} keeps the level an administrator set for it` })
    else outcomes.set(key, { ...base, reason: anchored.has(r.oldId) ? `${r.newId} already inherits a weaker level` : `${r.oldId} has no administrator level to carry` })
  }
  const sorted = [...outcomes.values()].sort(
    (a, b) => byString(a.oldId, b.oldId) || byString(a.newId, b.newId) || byString(a.envelopeId, b.envelopeId) || byString(a.code ?? "", b.code ?? ""),
  )
  return { adminLevels: levels, carriedFrom, outcomes: sorted }
}
