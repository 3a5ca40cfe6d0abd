/**
 * The signed records of a marketplace: their purposes (domain separation), and
 * one way to open an untrusted one (signature, then payload schema, then "the
 * signer is who the payload says"), answering with a reason instead of throwing,
 * so a fold over document state can list what it refused.
 */
import { canonicalJson, contentId, envelopeId, verifyEnvelope, type SignedEnvelope } from "../identity/index.ts"
import type { SchemaName, SchemaTypes } from "../schema/index.ts"
import { isFedhubError } from "../errors.ts"
import { schemaProblems } from "./schemaCheck.ts"

/** Envelope purposes of the marketplace records; a signature for one never verifies for another. */
export const MARKET_PURPOSE = {
  joinRequest: "fedhub/market-join-request/v1",
  vote: "fedhub/market-join-vote/v1",
  item: "fedhub/market-item/v1",
  shardManifest: "fedhub/market-shard-manifest/v3",
  purchase: "fedhub/market-purchase/v1",
  rating: "fedhub/market-rating/v1",
  ratingModeration: "fedhub/market-rating-moderation/v1",
  itemApproval: "fedhub/market-item-approval/v1",
  creditGrant: "fedhub/market-credit-grant/v1",
  dispute: "fedhub/market-dispute/v1",
  disputeVote: "fedhub/market-dispute-vote/v1",
  metadataEdit: "fedhub/market-metadata-edit/v1",
} as const

/** An opened record, or why it was refused. */
export type Opened<T> = { ok: true; env: SignedEnvelope<T>; id: string } | { ok: false; reason: string }

/**
 * Verifies `value` as an envelope for `purpose` whose payload matches `schema`
 * and whose signer is the payload's `signerField` (when given). Never throws.
 */
export function openSigned<N extends SchemaName>(
  value: unknown,
  purpose: string,
  schema: N,
  signerField?: keyof SchemaTypes[N] & string,
): Opened<SchemaTypes[N]> {
  let env: SignedEnvelope<SchemaTypes[N]>
  try {
    env = verifyEnvelope<SchemaTypes[N]>(value, { purpose })
  } catch (e) {
    return { ok: false, reason: isFedhubError(e) ? `${e.code}: ${e.detail}` : String(e) }
  }
  const problems = schemaProblems(schema, env.payload)
  if (problems.length > 0) return { ok: false, reason: `payload: ${problems.join("; ")}` }
  if (signerField !== undefined) {
    const named = (env.payload as Record<string, unknown>)[signerField]
    if (named !== env.signer) return { ok: false, reason: `signed by ${env.signer}, but ${signerField} is ${String(named)}` }
  }
  return { ok: true, env, id: envelopeId(env) }
}

/**
 * Opens each distinct record of `values` (a record repeated counts once): yields the ones
 * that verify, and hands each one that does not to `refused` with its stable key and reason.
 */
export function* openEach<N extends SchemaName>(
  values: Iterable<unknown>,
  purpose: string,
  schema: N,
  refused: (id: string, reason: string) => void,
): Generator<{ env: SignedEnvelope<SchemaTypes[N]>; id: string }> {
  const seen = new Set<string>()
  for (const value of values) {
    const v = openSigned(value, purpose, schema)
    const key = v.ok ? v.id : stableKey(value)
    if (seen.has(key)) continue
    seen.add(key)
    if (v.ok) yield { env: v.env, id: v.id }
    else refused(key, v.reason)
  }
}

/** A stable sort key for anything, even unparseable input: its envelope id, else its content id, else its text. */
export function stableKey(value: unknown): string {
  try {
    const v = value as SignedEnvelope
    if (typeof v === "object" && v !== null && "payload" in v && "signer" in v) return envelopeId(v)
    return contentId(value)
  } catch {
    try {
      return `~${canonicalJson(String(value))}`
    } catch {
      return "~"
    }
  }
}

/** Compares two strings by code units (locale-free, so every replica sorts alike). */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
