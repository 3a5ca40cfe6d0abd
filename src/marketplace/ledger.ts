/**
 * Purchases and the per-node ledger: a pure fold over the signed purchase
 * records a replica holds, so every replica that holds the same records shows
 * the same balances, whatever order they arrived in.
 *
 * - A purchase's id is the hex SHA-256 of its payload (not of the envelope), so a
 *   retried request re-signed later is the same purchase, counted once.
 * - Each buyer numbers its purchases (`sequence`). Two different purchases with one
 *   number are an equivocation (e.g. the same credits spent on two partitioned hubs):
 *   both are reported and neither moves money, on every replica that holds both.
 * - Purchases apply in (time, buyer, sequence, id) order; one that would take the
 *   buyer below zero is refused (INSUFFICIENT_FUNDS), so no balance is ever negative.
 * - Only `credits` move balances; stripe, paypal and crypto are recorded as external
 *   payment references.
 * - Accounts are node ids plus two pools: "marketplace" and "network". The cross-node
 *   fee applies when buyer and seller are different nodes (a hub buying for its own
 *   users from its own items pays no cross-node fee).
 *
 * `ledgerOf` folds purchases over given balances; a marketplace's whole ledger, with the
 * credit grants balances start from and the refunds of disputes, is `marketLedgerOf`
 * (marketLedger.ts), built on the pieces exported here.
 */
import { FedhubError, type ErrorCode } from "../errors.ts"
import { contentId, type Identity, type NodeId, signEnvelope, type SignedEnvelope } from "../identity/index.ts"
import type { Purchase } from "../schema/index.ts"
import { byCodeUnit, MARKET_PURPOSE, openSigned, stableKey } from "./signed.ts"
import { splitPrice, type Split } from "./split.ts"

/** A purchase id: hex SHA-256 of the canonical purchase payload. */
export type PurchaseId = string & { __purchaseId: true }
/** A ledger account: a node, or the marketplace's or the network's pool. */
export type AccountId = NodeId | "marketplace" | "network"

/** One purchase the ledger took into account. */
export interface LedgerEntry {
  id: PurchaseId
  purchase: SignedEnvelope<Purchase>
  split: Split
}
/** A record the ledger did not apply, and why. */
export interface RefusedPurchase {
  id: string
  code: ErrorCode
  reason: string
  purchase: unknown
}
/** Two or more different purchases one buyer signed with one sequence number. */
export interface Equivocation {
  buyer: NodeId
  sequence: number
  records: SignedEnvelope<Purchase>[]
}
/** The ledger a replica shows. */
export interface Ledger {
  balances: Record<string, number>
  /** Credit purchases applied, in application order. */
  applied: LedgerEntry[]
  /** Purchases paid outside (stripe, paypal, crypto): recorded, no balance moves. */
  external: LedgerEntry[]
  refused: RefusedPurchase[]
  equivocations: Equivocation[]
}

/** The id of a purchase payload. */
export const purchaseIdOf = (p: Purchase): PurchaseId => contentId(p) as PurchaseId

/** Signs a purchase as its buyer (`purchase.buyer` must be `buyer`'s node id). */
export function signPurchase(buyer: Identity, purchase: Purchase, time?: number): SignedEnvelope<Purchase> {
  if (purchase.buyer !== buyer.nodeId) throw new FedhubError("PURCHASE_INVALID", "a purchase is signed by its buyer")
  return signEnvelope(buyer, MARKET_PURPOSE.purchase, purchase, time)
}

/** Why a well-signed purchase still makes no sense, or undefined. */
function incoherence(p: Purchase): string | undefined {
  if (!p.itemGlobalId.startsWith(`${p.seller}:`)) return "the seller is not the item's origin"
  if (p.paymentMethod === "credits" && p.currency !== "credits") return "a credits payment is in credits"
  if (p.paymentMethod !== "credits" && p.externalReference === undefined)
    return `a ${p.paymentMethod} payment carries its external reference`
  const t = p.terms
  if (t.revenueSharing.creator + t.revenueSharing.marketplace + t.revenueSharing.network !== 100)
    return "revenue sharing does not add up to 100%"
  if (t.transactionFeePercentage + t.crossNodeFeePercentage > 100) return "the fees add up to more than 100%"
  return undefined
}

/** Copies initial balances, refusing any that is not a non-negative safe integer (INVALID_INPUT). */
export function checkBalances(initial: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = Object.create(null) as Record<string, number>
  for (const [k, v] of Object.entries(initial)) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new FedhubError("INVALID_INPUT", `initial balance of ${k} is a non-negative integer (got ${String(v)})`)
    out[k] = v
  }
  return out
}

/** The purchases a ledger may apply (verified, coherent, no equivocation), in application order, and the rest. */
export interface PurchaseCandidates {
  candidates: LedgerEntry[]
  refused: RefusedPurchase[]
  equivocations: Equivocation[]
}

/**
 * Opens untrusted purchase records (any order, repeats allowed): one entry per
 * purchase id, equivocations set apart, the rest sorted in application order
 * (time, buyer, sequence, id). Moves no money.
 */
export function purchaseCandidates(purchases: readonly unknown[]): PurchaseCandidates {
  const refused: RefusedPurchase[] = []
  // one representative envelope per purchase id: the earliest, then the smallest envelope id
  const byId = new Map<PurchaseId, { env: SignedEnvelope<Purchase>; key: string }>()
  for (const value of purchases) {
    const opened = openSigned(value, MARKET_PURPOSE.purchase, "marketplace#Purchase", "buyer")
    if (!opened.ok) {
      refused.push({ id: stableKey(value), code: "PURCHASE_INVALID", reason: opened.reason, purchase: value })
      continue
    }
    const id = purchaseIdOf(opened.env.payload)
    const why = incoherence(opened.env.payload)
    if (why !== undefined) {
      refused.push({ id, code: "PURCHASE_INVALID", reason: why, purchase: value })
      continue
    }
    const held = byId.get(id)
    if (!held || opened.env.time < held.env.time || (opened.env.time === held.env.time && opened.id < held.key))
      byId.set(id, { env: opened.env, key: opened.id })
  }

  const bySeq = new Map<string, LedgerEntry[]>()
  for (const [id, { env }] of byId) {
    const p = env.payload
    const entry: LedgerEntry = { id, purchase: env, split: splitPrice(p.price, p.terms, p.terms.revenueSharing, p.buyer !== p.seller) }
    const k = `${p.buyer}#${p.sequence}`
    const list = bySeq.get(k)
    if (list) list.push(entry)
    else bySeq.set(k, [entry])
  }
  const equivocations: Equivocation[] = []
  const candidates: LedgerEntry[] = []
  for (const list of bySeq.values()) {
    if (list.length === 1) {
      candidates.push(list[0]!)
      continue
    }
    list.sort((a, b) => byCodeUnit(a.id, b.id))
    const { buyer, sequence } = list[0]!.purchase.payload
    equivocations.push({ buyer: buyer as NodeId, sequence, records: list.map((e) => e.purchase) })
    for (const e of list)
      refused.push({ id: e.id, code: "EQUIVOCATION", reason: `buyer ${buyer} signed ${list.length} different purchases with sequence ${sequence}`, purchase: e.purchase })
  }
  equivocations.sort((a, b) => byCodeUnit(a.buyer, b.buyer) || a.sequence - b.sequence)
  candidates.sort(comparePurchases)
  return { candidates, refused, equivocations }
}

/** Application order of purchases: time, buyer, sequence, id. */
export const comparePurchases = (a: LedgerEntry, b: LedgerEntry): number =>
  a.purchase.time - b.purchase.time ||
  byCodeUnit(a.purchase.payload.buyer, b.purchase.payload.buyer) ||
  a.purchase.payload.sequence - b.purchase.payload.sequence ||
  byCodeUnit(a.id, b.id)

/**
 * Applies one credits purchase to `balances` (mutated): the buyer pays the price,
 * seller and pools get the split. Answers why not (and changes nothing) when the
 * buyer's balance does not cover it or a balance would pass the largest safe integer.
 */
export function applyPurchase(balances: Record<string, number>, e: LedgerEntry): RefusedPurchase | undefined {
  const p = e.purchase.payload
  const have = balances[p.buyer] ?? 0
  if (have < p.price)
    return { id: e.id, code: "INSUFFICIENT_FUNDS", reason: `${p.buyer} holds ${have} credits, the price is ${p.price}`, purchase: e.purchase }
  const after = [p.seller, "marketplace", "network"].map((a, i) => (balances[a] ?? 0) + [e.split.creator, e.split.marketplace, e.split.network][i]!)
  if (after.some((v) => !Number.isSafeInteger(v)))
    return { id: e.id, code: "PURCHASE_INVALID", reason: "a balance would exceed the largest safe integer", purchase: e.purchase }
  const credit = (account: string, amount: number): void => {
    balances[account] = (balances[account] ?? 0) + amount
  }
  balances[p.buyer] = have - p.price
  credit(p.seller, e.split.creator)
  credit("marketplace", e.split.marketplace)
  credit("network", e.split.network)
  return undefined
}

/** Refusals in a stable order (id, code, record). */
export const sortRefused = (refused: RefusedPurchase[]): RefusedPurchase[] =>
  refused.sort((a, b) => byCodeUnit(a.id, b.id) || byCodeUnit(a.code, b.code) || byCodeUnit(stableKey(a.purchase), stableKey(b.purchase)))

/** Balances as a plain object with keys in code-unit order. */
export function sortedBalances(balances: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const k of Object.keys(balances).sort(byCodeUnit)) out[k] = balances[k]!
  return out
}

/**
 * Folds signed purchase records (untrusted; any order, repeats allowed) over
 * `initialBalances` into balances, applied and refused purchases and equivocations.
 */
export function ledgerOf(purchases: readonly unknown[], initialBalances: Readonly<Record<string, number>> = {}): Ledger {
  const balances = checkBalances(initialBalances)
  const { candidates, refused, equivocations } = purchaseCandidates(purchases)
  const applied: LedgerEntry[] = []
  const external: LedgerEntry[] = []
  for (const e of candidates) {
    if (e.purchase.payload.paymentMethod !== "credits") {
      external.push(e)
      continue
    }
    const why = applyPurchase(balances, e)
    if (why) refused.push(why)
    else applied.push(e)
  }
  return { balances: sortedBalances(balances), applied, external, refused: sortRefused(refused), equivocations }
}
