/**
 * Endorsements: one node's signed statement that another node holds the key its id
 * commits to, valid for a bounded time. Chains of them, starting at a node an
 * administrator trusts, make a node "verified" (see ./trust.ts). Pure: no clock but `now`.
 */
import { FedhubError } from "../errors.ts"
import {
  envelopeId,
  parseNodeId,
  publicKeyFromNodeId,
  signEnvelope,
  toBase64,
  verifyEnvelope,
  type Identity,
  type NodeId,
  type SignedEnvelope,
} from "../identity/index.ts"
import { validate, type Endorsement, type EndorsementRevocation } from "../schema/index.ts"

/** Purpose string of endorsement envelopes (domain separation). */
export const ENDORSEMENT_PURPOSE = "fedhub/endorsement/v1"

/** Purpose string of endorsement revocation envelopes (domain separation). */
export const REVOCATION_PURPOSE = "fedhub/endorsement-revocation/v1"

/** How far an endorsement's `issuedAt` (and envelope time) may lie ahead of the verifier's clock. */
export const ENDORSEMENT_MAX_SKEW_MS = 5 * 60_000

/** Levels an endorsement may carry: it vouches for at least key possession checked by the issuer. */
const ENDORSABLE_LEVELS: ReadonlySet<string> = new Set(["verified", "trusted", "partner"])

/** Options of `endorse`. */
export interface EndorseOptions {
  /** The level granted; only "verified" is issued (higher trust is an administrator's decision). */
  level?: "verified"
  /** Validity from `now`, in integer milliseconds (> 0). */
  ttlMs: number
  /** Issue time in ms since the epoch; defaults to Date.now(). */
  now?: number
}

/** Options of `verifyEndorsement`. */
export interface VerifyEndorsementOptions {
  /** Clock for the validity window; defaults to Date.now(). */
  now?: number
  /** When set, an endorsement of any other node is refused (WRONG_SUBJECT). */
  subject?: NodeId
}

/** ISO form of a ms timestamp, or the bare number beyond Date's range. */
const iso = (ms: number): string => (Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`)

const isTimestamp = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/**
 * Signs an endorsement of `subject` by `issuer`, valid from `now` for `ttlMs`.
 * Throws BAD_NODE_ID, SELF_ENDORSEMENT or INVALID_INPUT for bad arguments.
 */
export function endorse(issuer: Identity, subject: NodeId, opts: EndorseOptions): SignedEnvelope<Endorsement> {
  const subjectId = parseNodeId(subject)
  if (subjectId === issuer.nodeId) throw new FedhubError("SELF_ENDORSEMENT", `${issuer.nodeId} cannot endorse itself`)
  const level = opts.level ?? "verified"
  if (level !== "verified") throw new FedhubError("INVALID_INPUT", `an endorsement is issued at level "verified", got ${JSON.stringify(level)}`)
  if (typeof opts.ttlMs !== "number" || !Number.isSafeInteger(opts.ttlMs) || opts.ttlMs <= 0)
    throw new FedhubError("INVALID_INPUT", "an endorsement's ttlMs is a positive integer of milliseconds")
  const now = opts.now ?? Date.now()
  if (!isTimestamp(now)) throw new FedhubError("INVALID_INPUT", "an endorsement's issue time is a non-negative integer of milliseconds")
  const payload = validate("endorsement", {
    subject: subjectId,
    subjectPublicKey: toBase64(publicKeyFromNodeId(subjectId)),
    level,
    issuedAt: now,
    expiresAt: now + opts.ttlMs,
  })
  return signEnvelope(issuer, ENDORSEMENT_PURPOSE, payload, now)
}

/**
 * Verifies an untrusted endorsement envelope and returns it typed. Refuses: what
 * verifyEnvelope refuses (signature, purpose, shape; STALE_TIMESTAMP when signed more
 * than 5 min ahead), SCHEMA_INVALID, a level below "verified" (INVALID_INPUT),
 * SELF_ENDORSEMENT, WRONG_SUBJECT, ENDORSEMENT_KEY_MISMATCH, expiresAt ≤ issuedAt
 * (INVALID_INPUT), issuedAt more than 5 min ahead (STALE_TIMESTAMP), ENDORSEMENT_EXPIRED.
 */
export function verifyEndorsement(envelope: unknown, opts: VerifyEndorsementOptions = {}): SignedEnvelope<Endorsement> {
  const now = opts.now ?? Date.now()
  if (!isTimestamp(now)) throw new FedhubError("INVALID_INPUT", "verifyEndorsement: now is a non-negative integer of milliseconds")
  const env = verifyEnvelope<unknown>(envelope, { purpose: ENDORSEMENT_PURPOSE, now, maxFutureMs: ENDORSEMENT_MAX_SKEW_MS })
  const e = validate("endorsement", env.payload, { label: "endorsement" })
  const issuer = env.signer
  if (!ENDORSABLE_LEVELS.has(e.level))
    throw new FedhubError("INVALID_INPUT", `an endorsement at level "${e.level}" vouches for nothing (verified or above is needed)`)
  if (e.subject === issuer) throw new FedhubError("SELF_ENDORSEMENT", `${issuer} endorsed itself`)
  if (opts.subject !== undefined && e.subject !== opts.subject)
    throw new FedhubError("WRONG_SUBJECT", `endorses ${e.subject}, expected ${opts.subject}`, {
      subject: e.subject,
      expected: opts.subject,
    })
  if (e.subjectPublicKey !== toBase64(publicKeyFromNodeId(e.subject)))
    throw new FedhubError("ENDORSEMENT_KEY_MISMATCH", `subjectPublicKey is not the key ${e.subject} commits to`, {
      subject: e.subject,
    })
  if (e.expiresAt <= e.issuedAt)
    throw new FedhubError("INVALID_INPUT", `endorsement expires (${e.expiresAt}) no later than it is issued (${e.issuedAt})`)
  if (e.issuedAt > now + ENDORSEMENT_MAX_SKEW_MS)
    throw new FedhubError(
      "STALE_TIMESTAMP",
      `endorsement issued ${e.issuedAt - now} ms in the future, accepted up to ${ENDORSEMENT_MAX_SKEW_MS} ms`,
      { issuedAt: e.issuedAt, now },
    )
  if (now >= e.expiresAt)
    throw new FedhubError(
      "ENDORSEMENT_EXPIRED",
      `endorsement of ${e.subject} by ${issuer} expired at ${iso(e.expiresAt)} (${e.expiresAt})`,
      { expiresAt: e.expiresAt, now },
    )
  return { ...env, payload: e }
}

/** Options of `revokeEndorsement`. */
export interface RevokeOptions {
  /** Revocation time in ms since the epoch; defaults to Date.now(). Endorsements of the pair issued earlier are revoked too. */
  now?: number
}

/**
 * Signs the revocation of `endorsement` by its issuer. Throws WRONG_SIGNER when `issuer`
 * did not sign the endorsement (only an endorsement's issuer can revoke it), what
 * verifyEnvelope refuses for a malformed or forged endorsement (its signature is checked,
 * not its validity window: an expired endorsement may be revoked), and INVALID_INPUT for
 * a bad time or one before the endorsement was issued.
 */
export function revokeEndorsement(
  issuer: Identity,
  endorsement: unknown,
  opts: RevokeOptions = {},
): SignedEnvelope<EndorsementRevocation> {
  const env = verifyEnvelope<unknown>(endorsement, { purpose: ENDORSEMENT_PURPOSE })
  const e = validate("endorsement", env.payload, { label: "endorsement" })
  if (env.signer !== issuer.nodeId)
    throw new FedhubError("WRONG_SIGNER", `the endorsement was issued by ${env.signer}; only its issuer can revoke it, not ${issuer.nodeId}`, {
      signer: env.signer,
      expected: issuer.nodeId,
    })
  const now = opts.now ?? Date.now()
  if (!isTimestamp(now)) throw new FedhubError("INVALID_INPUT", "a revocation's time is a non-negative integer of milliseconds")
  if (now < e.issuedAt)
    throw new FedhubError("INVALID_INPUT", `a revocation at ${now} cannot precede the endorsement it revokes (issued ${e.issuedAt})`)
  const payload = validate("endorsement-revocation", { subject: e.subject, endorsementId: envelopeId(env), revokedAt: now })
  return signEnvelope(issuer, REVOCATION_PURPOSE, payload, now)
}

/** Options of `verifyRevocation`. */
export interface VerifyRevocationOptions {
  /** Clock for the skew check; defaults to Date.now(). */
  now?: number
}

/**
 * Verifies an untrusted revocation envelope on its own and returns it typed. Refuses: what
 * verifyEnvelope refuses (signature, purpose, shape; STALE_TIMESTAMP when signed more than
 * 5 min ahead), SCHEMA_INVALID, a revocation of the signer's own id (SELF_ENDORSEMENT),
 * revokedAt more than 5 min ahead (STALE_TIMESTAMP). Whether the signer issued the
 * endorsement it names is checked against that endorsement, by `revocationApplies`.
 */
export function verifyRevocation(envelope: unknown, opts: VerifyRevocationOptions = {}): SignedEnvelope<EndorsementRevocation> {
  const now = opts.now ?? Date.now()
  if (!isTimestamp(now)) throw new FedhubError("INVALID_INPUT", "verifyRevocation: now is a non-negative integer of milliseconds")
  const env = verifyEnvelope<unknown>(envelope, { purpose: REVOCATION_PURPOSE, now, maxFutureMs: ENDORSEMENT_MAX_SKEW_MS })
  const r = validate("endorsement-revocation", env.payload, { label: "endorsement revocation" })
  if (r.subject === env.signer) throw new FedhubError("SELF_ENDORSEMENT", `${env.signer} revoked an endorsement of itself, which it cannot have issued`)
  if (r.revokedAt > now + ENDORSEMENT_MAX_SKEW_MS)
    throw new FedhubError(
      "STALE_TIMESTAMP",
      `revocation dated ${r.revokedAt - now} ms in the future, accepted up to ${ENDORSEMENT_MAX_SKEW_MS} ms`,
      { revokedAt: r.revokedAt, now },
    )
  return { ...env, payload: r }
}

/**
 * Whether a verified revocation withdraws a verified endorsement: both have the same issuer
 * (signer) and subject, and the endorsement is the one the revocation names or was issued
 * before it (`issuedAt < revokedAt`), so an older endorsement of the pair cannot be replayed
 * to undo it. An endorsement of the pair issued at or after `revokedAt` is not affected:
 * re-endorsing after a revocation works. Pure.
 */
export function revocationApplies(
  revocation: SignedEnvelope<EndorsementRevocation>,
  endorsement: SignedEnvelope<Endorsement>,
): boolean {
  if (revocation.signer !== endorsement.signer || revocation.payload.subject !== endorsement.payload.subject) return false
  return revocation.payload.endorsementId === envelopeId(endorsement) || endorsement.payload.issuedAt < revocation.payload.revokedAt
}
