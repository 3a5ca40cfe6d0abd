/**
 * Credit grants: where a marketplace's credits come from. The marketplace's owner
 * (the node that owns its document; the caller passes it) signs a `CreditGrant`
 * minting `amount` credits to a node; nothing else creates credits (a purchase or a
 * refund only moves them), so the sum of all balances is always the granted total.
 *
 * - A grant's id is the hex SHA-256 of its payload, so a grant stored twice or re-signed
 *   later counts once (its earliest copy dates it).
 * - Two different grants with one `grantId` are an equivocation by the owner: both are
 *   refused on every replica that holds both.
 * - Refused, each with its reason: records that do not verify (signature, purpose, schema,
 *   floats), not signed by the owner, of another marketplace, and a grant that would take
 *   the granted total past the largest safe integer (so no balance can ever overflow).
 *
 * Stakes (proof_of_stake, `decideJoin`'s `stakes`): a node's stake is its credit balance in
 * this marketplace's ledger, `marketLedgerOf(...).balances[node]`, i.e. what the owner
 * granted it plus what it earned from sales, minus what it spent and refunded.
 */
import { FedhubError } from "../errors.ts"
import { contentId, type Identity, type NodeId, signEnvelope, type SignedEnvelope } from "../identity/index.ts"
import type { CreditGrant } from "../schema/index.ts"
import { byCodeUnit, MARKET_PURPOSE, openSigned, stableKey } from "./signed.ts"
import { schemaProblems } from "./schemaCheck.ts"

/** A grant id: hex SHA-256 of the canonical grant payload. */
export type GrantId = string & { __grantId: true }

/** A grant the ledger counts. */
export interface AcceptedGrant {
  id: GrantId
  grant: SignedEnvelope<CreditGrant>
}
/** A grant record the ledger does not count, and why. */
export interface RefusedGrant {
  id: string
  reason: string
  grant: unknown
}

/** The id of a grant payload. */
export const grantIdOf = (g: CreditGrant): GrantId => contentId(g) as GrantId

/** Signs a grant as the marketplace's owner; throws GRANT_INVALID for a payload its schema refuses. */
export function signCreditGrant(owner: Identity, grant: CreditGrant, time?: number): SignedEnvelope<CreditGrant> {
  const problems = schemaProblems("market-trade#CreditGrant", grant)
  if (problems.length > 0) throw new FedhubError("GRANT_INVALID", problems.join("; "), { problems })
  return signEnvelope(owner, MARKET_PURPOSE.creditGrant, grant, time)
}

/** Application order of grants: time, then id. */
export const compareGrants = (a: AcceptedGrant, b: AcceptedGrant): number => a.grant.time - b.grant.time || byCodeUnit(a.id, b.id)

/**
 * Opens untrusted grant records (any order, repeats allowed) of `marketplaceId` signed
 * by `owner`: the grants to count, in application order, and the refused ones with reasons.
 * `alreadyMinted` is the total of initial balances, counted against the safe-integer cap.
 */
export function openGrants(
  grants: readonly unknown[],
  owner: NodeId | string,
  marketplaceId: string,
  alreadyMinted = 0,
): { accepted: AcceptedGrant[]; refused: RefusedGrant[] } {
  const refused: RefusedGrant[] = []
  const byId = new Map<GrantId, { env: SignedEnvelope<CreditGrant>; key: string }>()
  for (const value of grants) {
    const opened = openSigned(value, MARKET_PURPOSE.creditGrant, "market-trade#CreditGrant")
    if (!opened.ok) {
      refused.push({ id: stableKey(value), reason: opened.reason, grant: value })
      continue
    }
    const id = grantIdOf(opened.env.payload)
    if (opened.env.signer !== owner) {
      refused.push({ id, reason: `signed by ${opened.env.signer}, not by the marketplace's owner ${owner}`, grant: value })
      continue
    }
    if (opened.env.payload.marketplaceId !== marketplaceId) {
      refused.push({ id, reason: `a grant in another marketplace (${opened.env.payload.marketplaceId})`, grant: value })
      continue
    }
    const held = byId.get(id)
    if (!held || opened.env.time < held.env.time || (opened.env.time === held.env.time && opened.id < held.key))
      byId.set(id, { env: opened.env, key: opened.id })
  }
  const byName = new Map<string, AcceptedGrant[]>()
  for (const [id, { env }] of byId) {
    const list = byName.get(env.payload.grantId)
    const g = { id, grant: env }
    if (list) list.push(g)
    else byName.set(env.payload.grantId, [g])
  }
  const candidates: AcceptedGrant[] = []
  for (const [name, list] of byName) {
    if (list.length === 1) candidates.push(list[0]!)
    else
      for (const g of list)
        refused.push({ id: g.id, reason: `the owner signed ${list.length} different grants named ${name}: an equivocation, none counts`, grant: g.grant })
  }
  candidates.sort(compareGrants)
  const accepted: AcceptedGrant[] = []
  let minted = BigInt(alreadyMinted)
  for (const g of candidates) {
    if (minted + BigInt(g.grant.payload.amount) > BigInt(Number.MAX_SAFE_INTEGER)) {
      refused.push({ id: g.id, reason: "the granted total would exceed the largest safe integer", grant: g.grant })
      continue
    }
    minted += BigInt(g.grant.payload.amount)
    accepted.push(g)
  }
  const order = (a: RefusedGrant, b: RefusedGrant): number =>
    byCodeUnit(a.id, b.id) || byCodeUnit(a.reason, b.reason) || byCodeUnit(stableKey(a.grant), stableKey(b.grant))
  // a refused record stored more than once is listed once
  const listed = refused.sort(order).filter((r, i, all) => i === 0 || order(all[i - 1]!, r) !== 0)
  return { accepted, refused: listed }
}
