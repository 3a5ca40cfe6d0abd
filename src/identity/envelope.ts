/**
 * Signed envelopes: the one form in which a hub asserts a fact to others. The
 * signature covers the canonical bytes of purpose, signer, time and payload, so a
 * signature made for one purpose never verifies for another.
 */
import { FedhubError } from "../errors.ts"
import { assertIntegersOnly, canonicalBytes, contentId } from "./canonical.ts"
import { fromBase64, toBase64 } from "./encoding.ts"
import type { Identity } from "./Identity.ts"
import { isMalleableSignature, SIGNATURE_LENGTH, verifyDetached } from "./keys.ts"
import { publicKeyFromNodeId, type NodeId } from "./nodeId.ts"

/** A payload signed by one node for one purpose at one time. */
export interface SignedEnvelope<T = unknown> {
  v: 1
  /** Domain separation, e.g. "fedhub/descriptor"; see PURPOSE_RE. */
  purpose: string
  signer: NodeId
  /** Integer milliseconds since the epoch. */
  time: number
  payload: T
  /** Base64 ed25519 signature over canonicalBytes({ v, purpose, signer, time, payload }). */
  sig: string
}

/** The signed part of an envelope (everything but `sig`). */
export type EnvelopeBody<T = unknown> = Omit<SignedEnvelope<T>, "sig">

/** What `verifyEnvelope` must check besides the signature itself. */
export interface VerifyExpectations {
  /** The purpose the verifier is about to act on; anything else is WRONG_PURPOSE. */
  purpose: string
  /** When set, only this node's signature is accepted (WRONG_SIGNER otherwise). */
  signer?: string
  /** Clock for the age checks; defaults to Date.now(). */
  now?: number
  /** When set, refuse envelopes older than now - maxAgeMs (STALE_TIMESTAMP). */
  maxAgeMs?: number
  /** When set, refuse envelopes dated after now + maxFutureMs (STALE_TIMESTAMP). */
  maxFutureMs?: number
}

/** Current envelope format version. */
export const ENVELOPE_VERSION = 1
/** Purposes are lowercase tokens: a letter or digit, then letters, digits, ".", "/", ":" or "-". */
export const PURPOSE_RE = /^[a-z0-9][a-z0-9./:-]*$/
/** Longest accepted purpose string. */
export const MAX_PURPOSE_LENGTH = 128

const ENVELOPE_KEYS = ["payload", "purpose", "sig", "signer", "time", "v"] as const

/** Throws INVALID_INPUT unless `purpose` is a valid purpose string. */
export function assertPurpose(purpose: unknown): asserts purpose is string {
  if (typeof purpose !== "string" || purpose.length > MAX_PURPOSE_LENGTH || !PURPOSE_RE.test(purpose))
    throw new FedhubError(
      "INVALID_INPUT",
      `a purpose is a string of at most ${MAX_PURPOSE_LENGTH} characters matching ${PURPOSE_RE.source}`,
    )
}

/** The exact bytes an envelope's signature covers. */
export const envelopeSigningBytes = (body: EnvelopeBody): Uint8Array =>
  canonicalBytes({ v: body.v, purpose: body.purpose, signer: body.signer, time: body.time, payload: body.payload })

/**
 * Signs `payload` for `purpose` as `identity`. The payload must be plain JSON with
 * integers only (FLOAT_IN_PAYLOAD / INVALID_INPUT otherwise); do not mutate it afterwards.
 */
export function signEnvelope<T>(identity: Identity, purpose: string, payload: T, time: number = Date.now()): SignedEnvelope<T> {
  assertPurpose(purpose)
  if (!Number.isSafeInteger(time) || time < 0)
    throw new FedhubError("INVALID_INPUT", "an envelope time is a non-negative integer of milliseconds")
  assertIntegersOnly(payload)
  const body: EnvelopeBody<T> = { v: ENVELOPE_VERSION, purpose, signer: identity.nodeId, time, payload }
  return { ...body, sig: toBase64(identity.sign(envelopeSigningBytes(body))) }
}

/** Checks the shape of an untrusted envelope; INVALID_INPUT with the first problem found. */
function checkShape(envelope: unknown): asserts envelope is SignedEnvelope {
  const bad = (why: string): never => {
    throw new FedhubError("INVALID_INPUT", `not a signed envelope: ${why}`)
  }
  if (typeof envelope !== "object" || envelope === null || Array.isArray(envelope)) bad("expected an object")
  const proto: unknown = Object.getPrototypeOf(envelope)
  if (proto !== Object.prototype && proto !== null) bad("expected a plain object")
  const env = envelope as Record<string, unknown>
  for (const key of ENVELOPE_KEYS) if (!Object.hasOwn(env, key)) bad(`missing "${key}"`)
  const extra = Object.keys(env).filter((k) => !(ENVELOPE_KEYS as readonly string[]).includes(k))
  if (extra.length > 0) bad(`unexpected field ${JSON.stringify(extra[0])}`)
  if (env.v !== ENVELOPE_VERSION) bad(`unsupported version ${JSON.stringify(env.v) ?? String(env.v)}`)
  if (typeof env.purpose !== "string") bad("purpose is not a string")
  if (typeof env.signer !== "string") bad("signer is not a string")
  if (typeof env.time !== "number" || !Number.isSafeInteger(env.time) || env.time < 0)
    bad("time is not a non-negative integer")
  if (env.payload === undefined) bad("payload is undefined")
  if (typeof env.sig !== "string") bad("sig is not a string")
}

/**
 * Verifies an untrusted envelope and returns it typed. Refuses, in this order:
 * bad shape (INVALID_INPUT), non-integer payload (FLOAT_IN_PAYLOAD), other purpose
 * (WRONG_PURPOSE), other signer (WRONG_SIGNER), bad signer id (BAD_NODE_ID),
 * S >= L (SIGNATURE_MALLEABLE), bad signature (SIGNATURE_INVALID), time outside
 * the window (STALE_TIMESTAMP). The payload's own schema is the caller's to check.
 */
export function verifyEnvelope<T = unknown>(envelope: unknown, expect: VerifyExpectations): SignedEnvelope<T> {
  if (typeof expect !== "object" || expect === null) throw new FedhubError("INVALID_INPUT", "verifyEnvelope needs expectations")
  assertPurpose(expect.purpose)
  for (const key of ["now", "maxAgeMs", "maxFutureMs"] as const) {
    const n = expect[key]
    if (n !== undefined && (typeof n !== "number" || !Number.isFinite(n) || n < 0))
      throw new FedhubError("INVALID_INPUT", `verifyEnvelope: ${key} is a non-negative finite number`)
  }
  if (expect.signer !== undefined && typeof expect.signer !== "string")
    throw new FedhubError("INVALID_INPUT", "verifyEnvelope: signer is a node id string")
  checkShape(envelope)
  const { v, purpose, signer, time, payload, sig } = envelope
  assertIntegersOnly(payload)
  if (purpose !== expect.purpose)
    throw new FedhubError("WRONG_PURPOSE", `signed for "${purpose}", expected "${expect.purpose}"`, {
      purpose,
      expected: expect.purpose,
    })
  if (expect.signer !== undefined && signer !== expect.signer)
    throw new FedhubError("WRONG_SIGNER", `signed by ${signer}, expected ${expect.signer}`, {
      signer,
      expected: expect.signer,
    })
  const publicKey = publicKeyFromNodeId(signer)
  let sigBytes: Uint8Array
  try {
    sigBytes = fromBase64(sig)
  } catch {
    throw new FedhubError("SIGNATURE_INVALID", "sig is not base64")
  }
  if (sigBytes.length !== SIGNATURE_LENGTH)
    throw new FedhubError("SIGNATURE_INVALID", `sig is ${sigBytes.length} bytes, expected ${SIGNATURE_LENGTH}`)
  if (isMalleableSignature(sigBytes))
    throw new FedhubError("SIGNATURE_MALLEABLE", "signature scalar S is not below the group order L")
  const body: EnvelopeBody = { v, purpose, signer, time, payload }
  if (!verifyDetached(publicKey, envelopeSigningBytes(body), sigBytes))
    throw new FedhubError("SIGNATURE_INVALID", `signature of ${signer} does not verify for "${purpose}"`)
  const now = expect.now ?? Date.now()
  if (expect.maxAgeMs !== undefined && time < now - expect.maxAgeMs)
    throw new FedhubError("STALE_TIMESTAMP", `signed ${now - time} ms ago, accepted up to ${expect.maxAgeMs} ms`, {
      time,
      now,
    })
  if (expect.maxFutureMs !== undefined && time > now + expect.maxFutureMs)
    throw new FedhubError("STALE_TIMESTAMP", `dated ${time - now} ms in the future, accepted up to ${expect.maxFutureMs} ms`, {
      time,
      now,
    })
  return { v, purpose, signer: signer as NodeId, time, payload: payload as T, sig }
}

/** The id of an envelope: hex SHA-256 of its canonical signed body, never of its signature. */
export const envelopeId = (env: EnvelopeBody | SignedEnvelope): string =>
  contentId({ v: env.v, purpose: env.purpose, signer: env.signer, time: env.time, payload: env.payload })
