/**
 * A marketplace's whole ledger: one pure fold over every signed record of trade a
 * replica holds (credit grants, purchases, disputes and their votes), so every replica
 * that holds the same records shows the same balances, in any order, with repeats.
 *
 * Events apply in time order: a grant at its signed time, a purchase at its signed time
 * (ledger.ts: one per id, equivocations refused, never overdrawing), a refund at its
 * dispute's resolution time (disputes.ts); at one instant grants come first, then
 * purchases, then refunds. So a purchase can spend only credits granted or refunded
 * before it, and a refund takes back only what its payees still hold (the rest is
 * reported as a shortfall). Credits exist only by grants: the sum of all balances is
 * always `minted`. Records of another marketplace are refused, not folded.
 *
 * A stake (proof_of_stake, `decideJoin`) is `marketLedgerOf(...).balances[node]`.
 */
import { contentId, envelopeId, type NodeId } from "../identity/index.ts"
import type { MarketplaceConfig } from "../schema/index.ts"
import { applyRefund, decideDispute, type DisputeDecision, type DisputeId, type RefundEntry } from "./disputes.ts"
import { openGrants, type AcceptedGrant, type RefusedGrant } from "./grants.ts"
import {
  applyPurchase,
  checkBalances,
  purchaseCandidates,
  sortedBalances,
  sortRefused,
  type Ledger,
  type LedgerEntry,
  type RefusedPurchase,
} from "./ledger.ts"
import { byCodeUnit, stableKey } from "./signed.ts"

/** What `marketLedgerOf` folds. Every record list is untrusted (any order, repeats allowed). */
export interface MarketLedgerInput {
  marketplaceId: string
  /** The marketplace's owner: the only signer of grants. */
  owner: NodeId | string
  config: MarketplaceConfig
  /** The participants (who votes on disputes under `community`). */
  participants: readonly NodeId[]
  grants?: readonly unknown[]
  purchases?: readonly unknown[]
  disputes?: readonly unknown[]
  disputeVotes?: readonly unknown[]
  /** The clock that times disputes out. */
  now: number
  /** Balances before any record (default none; their total counts as minted). */
  initialBalances?: Readonly<Record<string, number>>
}

/** A dispute or dispute vote that does not count, and why. */
export interface RefusedRecord {
  id: string
  reason: string
  record: unknown
}

/** The ledger of a marketplace. */
export interface MarketLedger extends Ledger {
  /** Total credits in existence: initial balances plus every counted grant; `sum(balances) === minted`. */
  minted: number
  grants: AcceptedGrant[]
  refusedGrants: RefusedGrant[]
  /** Every dispute that counts, with where it stands, sorted by dispute id. */
  disputes: DisputeDecision[]
  refusedDisputes: RefusedRecord[]
  /** Votes on no dispute this ledger counts. (Votes refused within a dispute are in its decision.) */
  refusedDisputeVotes: RefusedRecord[]
  /** Refunds applied, in application order. */
  refunds: RefundEntry[]
}

const otherMarket = (value: unknown, marketplaceId: string): boolean => {
  const payload = typeof value === "object" && value !== null ? (value as { payload?: unknown }).payload : undefined
  const id = typeof payload === "object" && payload !== null ? (payload as { marketplaceId?: unknown }).marketplaceId : undefined
  return typeof id === "string" && id !== marketplaceId
}

const payloadField = (value: unknown, field: string): string | undefined => {
  const payload = typeof value === "object" && value !== null ? (value as { payload?: unknown }).payload : undefined
  const v = typeof payload === "object" && payload !== null ? (payload as Record<string, unknown>)[field] : undefined
  return typeof v === "string" ? v : undefined
}

/** The id a dispute record names itself by (the content id of its payload), when it has one. */
function rawDisputeId(value: unknown): string | undefined {
  const payload = typeof value === "object" && value !== null ? (value as { payload?: unknown }).payload : undefined
  if (typeof payload !== "object" || payload === null) return undefined
  try {
    return contentId(payload)
  } catch {
    return undefined
  }
}

type Event =
  | { time: number; rank: 0; key: string; grant: AcceptedGrant }
  | { time: number; rank: 1; key: string; entry: LedgerEntry }
  | { time: number; rank: 2; key: string; decision: DisputeDecision }

const sameRefusal = (a: RefusedPurchase, b: RefusedPurchase): boolean =>
  a.id === b.id && a.code === b.code && a.reason === b.reason && stableKey(a.purchase) === stableKey(b.purchase)

/** Folds a marketplace's signed grants, purchases, disputes and votes into its ledger at time `now`. */
export function marketLedgerOf(input: MarketLedgerInput): MarketLedger {
  const { marketplaceId, config, participants, now } = input
  const balances = checkBalances(input.initialBalances ?? {})
  const initialTotal = Object.values(balances).reduce((a, b) => a + b, 0)

  const { accepted: grants, refused: refusedGrants } = openGrants(input.grants ?? [], input.owner, marketplaceId, initialTotal)

  const foreign: RefusedPurchase[] = []
  const ours: unknown[] = []
  for (const value of input.purchases ?? [])
    if (otherMarket(value, marketplaceId))
      foreign.push({ id: stableKey(value), code: "PURCHASE_INVALID", reason: "a purchase in another marketplace", purchase: value })
    else ours.push(value)
  const { candidates, refused, equivocations } = purchaseCandidates(ours)
  refused.push(...foreign)
  const credits = candidates.filter((e) => e.purchase.payload.paymentMethod === "credits")
  const external = candidates.filter((e) => e.purchase.payload.paymentMethod !== "credits")

  // disputes: decided from their votes; one per purchase (the earliest opened, then the smallest id)
  const refusedDisputes: RefusedRecord[] = []
  const refusedDisputeVotes: RefusedRecord[] = []
  const votesByDispute = new Map<string, unknown[]>()
  for (const value of input.disputeVotes ?? []) {
    const id = payloadField(value, "disputeId") ?? ""
    const list = votesByDispute.get(id)
    if (list) list.push(value)
    else votesByDispute.set(id, [value])
  }
  const creditsById = new Map<string, LedgerEntry>(credits.map((e) => [e.id, e]))
  const decided = new Map<DisputeId, DisputeDecision>()
  for (const value of input.disputes ?? []) {
    if (otherMarket(value, marketplaceId)) {
      refusedDisputes.push({ id: stableKey(value), reason: "a dispute in another marketplace", record: value })
      continue
    }
    const id = rawDisputeId(value)
    const target = creditsById.get(payloadField(value, "purchaseId") ?? "")
    const d = decideDispute(config, participants, value, id === undefined ? [] : (votesByDispute.get(id) ?? []), now, target ? [target] : [])
    if (d.status === "refused" || d.disputeId === null || d.dispute === null) {
      refusedDisputes.push({ id: d.disputeId ?? stableKey(value), reason: d.reason, record: value })
      continue
    }
    // one representative per dispute id: the earliest signed copy, then the smallest envelope id
    const held = decided.get(d.disputeId)
    if (!held || d.dispute.time < held.dispute!.time || (d.dispute.time === held.dispute!.time && envelopeId(d.dispute) < envelopeId(held.dispute!)))
      decided.set(d.disputeId, d)
  }
  const byPurchase = new Map<string, DisputeDecision>()
  for (const d of [...decided.values()].sort((a, b) => a.openedAt! - b.openedAt! || byCodeUnit(a.disputeId!, b.disputeId!))) {
    const first = byPurchase.get(d.purchaseId!)
    if (first) refusedDisputes.push({ id: d.disputeId!, reason: `purchase ${d.purchaseId} already has a dispute (${first.disputeId})`, record: d.dispute })
    else byPurchase.set(d.purchaseId!, d)
  }
  const counted = new Set<string>([...byPurchase.values()].map((d) => d.disputeId!))
  for (const [id, list] of votesByDispute)
    if (!counted.has(id))
      for (const v of list) refusedDisputeVotes.push({ id: stableKey(v), reason: "a vote on no dispute this ledger counts", record: v })

  const events: Event[] = [
    ...grants.map((g): Event => ({ time: g.grant.time, rank: 0, key: g.id, grant: g })),
    ...credits.map((e): Event => ({ time: e.purchase.time, rank: 1, key: "", entry: e })),
    ...[...byPurchase.values()]
      .filter((d) => d.outcome === "refund_buyer")
      .map((d): Event => ({ time: d.resolvedAt!, rank: 2, key: d.disputeId!, decision: d })),
  ]
  const order = new Map<LedgerEntry, number>(credits.map((e, i) => [e, i]))
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time - b.time
    if (a.rank !== b.rank) return a.rank - b.rank
    if (a.rank === 1 && b.rank === 1) return order.get(a.entry)! - order.get(b.entry)!
    return byCodeUnit(a.key, b.key)
  })

  const applied: LedgerEntry[] = []
  const appliedById = new Map<string, LedgerEntry>()
  const refunds: RefundEntry[] = []
  for (const ev of events) {
    if (ev.rank === 0) {
      balances[ev.grant.grant.payload.to] = (balances[ev.grant.grant.payload.to] ?? 0) + ev.grant.grant.payload.amount
    } else if (ev.rank === 1) {
      const why = applyPurchase(balances, ev.entry)
      if (why) refused.push(why)
      else {
        applied.push(ev.entry)
        appliedById.set(ev.entry.id, ev.entry)
      }
    } else {
      const entry = appliedById.get(ev.decision.purchaseId!)
      if (entry) refunds.push(applyRefund(balances, entry, ev.decision.disputeId!, ev.time))
    }
  }
  // a dispute whose purchase the fold did not apply (e.g. it overdrew) does not count
  const disputes: DisputeDecision[] = []
  for (const d of byPurchase.values())
    if (appliedById.has(d.purchaseId!)) disputes.push(d)
    else refusedDisputes.push({ id: d.disputeId!, reason: `a dispute on a purchase the ledger did not apply (${d.purchaseId})`, record: d.dispute })
  disputes.sort((a, b) => byCodeUnit(a.disputeId!, b.disputeId!))
  const byIdThenReason = (a: RefusedRecord, b: RefusedRecord): number =>
    byCodeUnit(a.id, b.id) || byCodeUnit(a.reason, b.reason) || byCodeUnit(stableKey(a.record), stableKey(b.record))
  // the same refused record may reach us more than once: list it once
  const dedupe = (list: RefusedRecord[]): RefusedRecord[] =>
    list.sort(byIdThenReason).filter((r, i, all) => i === 0 || byIdThenReason(all[i - 1]!, r) !== 0)
  const minted = initialTotal + grants.reduce((s, g) => s + g.grant.payload.amount, 0)
  return {
    balances: sortedBalances(balances),
    applied,
    external,
    // a refused record stored more than once is listed once
    refused: sortRefused(refused).filter((r, i, all) => i === 0 || !sameRefusal(all[i - 1]!, r)),
    equivocations,
    minted,
    grants,
    refusedGrants,
    disputes,
    refusedDisputes: dedupe(refusedDisputes),
    refusedDisputeVotes: dedupe(refusedDisputeVotes),
    refunds,
  }
}
