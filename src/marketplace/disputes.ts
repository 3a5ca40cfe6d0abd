/**
 * Disputes on purchases (issue 13 part 8): the buyer of a credits purchase signs a
 * dispute, the eligible voters sign votes, and `decideDispute` computes where it stands
 * as a pure function of those signed records, the same on every replica whatever
 * order or number of copies it holds.
 *
 * - A dispute's id is the hex SHA-256 of its payload `{ marketplaceId, purchaseId, reason,
 *   time }`; `time` opens it (a retry re-signed later is the same dispute). Only the
 *   purchase's buyer may open it, not before the purchase's signed time, and only on a
 *   credits purchase the ledger holds (external payments are refunded outside).
 * - Who votes: `disputeResolution.arbitrators` under `arbitration`, the participants under
 *   `community`; the buyer and the seller never (a party does not judge its own case).
 * - Votes are folded in signed-time order (ties: envelope id); each voter's latest counts.
 *   The dispute is resolved at the first vote after which one outcome holds more than half
 *   of the eligible voters: it can no longer change, so later votes are refused.
 * - Votes signed before the dispute opened or after its deadline (`time + timeoutDays`) are
 *   refused. A dispute still undecided at its deadline resolves by `defaultOutcome`, dated
 *   at the deadline (also when nobody is eligible).
 * - `refund_buyer` reverses the purchase's split in the ledger at the resolution time
 *   (`applyRefund`): each payee (seller, marketplace pool, network pool) gives back its
 *   share, or what it still holds when it has spent part of it; the buyer gets what was
 *   taken and the rest is reported as a shortfall. No balance ever goes below zero and the
 *   accounts still add up to the granted total. `pay_seller` moves nothing.
 */
import { FedhubError } from "../errors.ts"
import { contentId, type Identity, type NodeId, signEnvelope, type SignedEnvelope } from "../identity/index.ts"
import type { Dispute, DisputeOutcome, DisputeVote, MarketplaceConfig, Purchase } from "../schema/index.ts"
import { purchaseIdOf, type LedgerEntry, type PurchaseId } from "./ledger.ts"
import { byCodeUnit, MARKET_PURPOSE, openEach, openSigned } from "./signed.ts"
import { schemaProblems } from "./schemaCheck.ts"

/** A dispute id: hex SHA-256 of the canonical dispute payload. */
export type DisputeId = string & { __disputeId: true }
/** Where a dispute stands. `refused`: the dispute record itself does not count. */
export type DisputeStatus = "open" | "resolved" | "timed_out" | "refused"

/** A vote that counts. */
export interface CountedDisputeVote {
  voter: NodeId
  outcome: DisputeOutcome
  time: number
  id: string
}
/** A vote that does not count, and why. */
export interface RefusedDisputeVote {
  id: string
  voter?: string
  reason: string
}
/** What `decideDispute` answers. */
export interface DisputeDecision {
  status: DisputeStatus
  /** The outcome once resolved or timed out, else null. */
  outcome: DisputeOutcome | null
  reason: string
  disputeId: DisputeId | null
  purchaseId: PurchaseId | null
  buyer: NodeId | null
  seller: NodeId | null
  openedAt: number | null
  deadline: number | null
  /** When the outcome took effect (the deciding vote's signed time, or the deadline). */
  resolvedAt: number | null
  /** Who may vote, sorted. */
  eligible: NodeId[]
  /** The latest vote per voter when the dispute was decided (or now), sorted by voter. */
  counted: CountedDisputeVote[]
  tally: { refund_buyer: number; pay_seller: number; eligible: number }
  refusedVotes: RefusedDisputeVote[]
  /** The dispute record, when it verified. */
  dispute: SignedEnvelope<Dispute> | null
}

/** A refund the ledger applied. */
export interface RefundEntry {
  disputeId: DisputeId
  purchaseId: PurchaseId
  buyer: NodeId
  time: number
  /** The price the buyer paid. */
  owed: number
  /** What the buyer got back (owed minus the shortfalls). */
  refunded: number
  /** Payees that held less than their share when the refund applied. */
  shortfalls: { account: string; owed: number; taken: number }[]
}

const DAY = 86_400_000

/** The id of a dispute payload. */
export const disputeIdOf = (d: Dispute): DisputeId => contentId(d) as DisputeId

/**
 * Signs a dispute on `purchase` (its envelope or payload) as its buyer at `time`
 * (default now); throws DISPUTE_INVALID when `buyer` is not the purchase's buyer.
 */
export function signDispute(buyer: Identity, purchase: SignedEnvelope<Purchase> | Purchase, reason: string, time: number = Date.now()): SignedEnvelope<Dispute> {
  const p = "payload" in purchase ? purchase.payload : purchase
  if (p.buyer !== buyer.nodeId) throw new FedhubError("DISPUTE_INVALID", "a dispute is opened by the purchase's buyer")
  const payload: Dispute = { marketplaceId: p.marketplaceId, purchaseId: purchaseIdOf(p), reason, time }
  const problems = schemaProblems("market-trade#Dispute", payload)
  if (problems.length > 0) throw new FedhubError("DISPUTE_INVALID", problems.join("; "), { problems })
  return signEnvelope(buyer, MARKET_PURPOSE.dispute, payload, time)
}

/** Signs `voter`'s vote on `dispute`. */
export function signDisputeVote(
  voter: Identity,
  dispute: SignedEnvelope<Dispute>,
  outcome: DisputeOutcome,
  options: { reason?: string; time?: number } = {},
): SignedEnvelope<DisputeVote> {
  const payload: DisputeVote = {
    marketplaceId: dispute.payload.marketplaceId,
    disputeId: disputeIdOf(dispute.payload),
    outcome,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
  }
  const problems = schemaProblems("market-trade#DisputeVote", payload)
  if (problems.length > 0) throw new FedhubError("DISPUTE_VOTE_INVALID", problems.join("; "), { problems })
  return signEnvelope(voter, MARKET_PURPOSE.disputeVote, payload, options.time)
}

const refusedDispute = (reason: string, extra: Partial<DisputeDecision> = {}): DisputeDecision => ({
  status: "refused",
  outcome: null,
  reason,
  disputeId: null,
  purchaseId: null,
  buyer: null,
  seller: null,
  openedAt: null,
  deadline: null,
  resolvedAt: null,
  eligible: [],
  counted: [],
  tally: { refund_buyer: 0, pay_seller: 0, eligible: 0 },
  refusedVotes: [],
  dispute: null,
  ...extra,
})

/**
 * Decides one dispute (untrusted record) from the signed votes (untrusted, any order,
 * repeats allowed) under `config` at time `now`. `purchases` are the credit purchases the
 * ledger may apply (`ledgerOf(...).applied`, or `purchaseCandidates(...).candidates`);
 * a dispute on any other purchase is refused. One dispute per purchase is
 * `marketLedgerOf`'s rule (it sees them all).
 */
export function decideDispute(
  config: MarketplaceConfig,
  participants: readonly NodeId[],
  dispute: unknown,
  votes: readonly unknown[],
  now: number,
  purchases: readonly LedgerEntry[],
): DisputeDecision {
  const d = openSigned(dispute, MARKET_PURPOSE.dispute, "market-trade#Dispute")
  if (!d.ok) return refusedDispute(`the dispute does not verify: ${d.reason}`)
  const env = d.env
  const disputeId = disputeIdOf(env.payload)
  const entry = purchases.find((e) => e.id === env.payload.purchaseId && e.purchase.payload.paymentMethod === "credits")
  if (entry === undefined)
    return refusedDispute(`a dispute on a purchase the ledger did not apply (${env.payload.purchaseId})`, { disputeId, dispute: env })
  const p = entry.purchase.payload
  const base = { disputeId, dispute: env, purchaseId: entry.id, buyer: p.buyer as NodeId, seller: p.seller as NodeId }
  if (env.signer !== p.buyer) return refusedDispute(`signed by ${env.signer}, not by the purchase's buyer ${p.buyer}`, base)
  if (env.payload.marketplaceId !== p.marketplaceId) return refusedDispute("a dispute in another marketplace than its purchase", base)
  if (env.payload.time < entry.purchase.time)
    return refusedDispute(`opened (${env.payload.time}) before the purchase was made (${entry.purchase.time})`, base)

  const rules = config.federation.disputeResolution
  const openedAt = env.payload.time
  const deadline = openedAt + rules.timeoutDays * DAY
  const pool = rules.mechanism === "arbitration" ? rules.arbitrators : participants
  const parties = new Set<string>([p.buyer, p.seller])
  const eligible = [...new Set(pool)].filter((n) => !parties.has(n)).sort(byCodeUnit) as NodeId[]
  const mayVote = new Set<string>(eligible)

  const refusedVotes: RefusedDisputeVote[] = []
  const valid: { env: SignedEnvelope<DisputeVote>; id: string }[] = []
  for (const v of openEach(votes, MARKET_PURPOSE.disputeVote, "market-trade#DisputeVote", (id, reason) => refusedVotes.push({ id, reason: `does not verify: ${reason}` }))) {
    const key = v.id
    const voter = v.env.signer
    const refuse = (reason: string): void => void refusedVotes.push({ id: key, voter, reason })
    if (v.env.payload.disputeId !== disputeId) refuse("a vote on another dispute")
    else if (v.env.payload.marketplaceId !== env.payload.marketplaceId) refuse("a vote in another marketplace")
    else if (parties.has(voter)) refuse("a party to the dispute cannot vote on it")
    else if (!mayVote.has(voter))
      refuse(rules.mechanism === "arbitration" ? "the voter is not an arbitrator" : "the voter is not a participant")
    else if (v.env.time < openedAt) refuse("cast before the dispute was opened")
    else if (v.env.time > deadline) refuse(`cast after the deadline (${new Date(deadline).toISOString()})`)
    else valid.push({ env: v.env, id: v.id })
  }
  valid.sort((a, b) => a.env.time - b.env.time || byCodeUnit(a.id, b.id))

  const latest = new Map<string, CountedDisputeVote>()
  const count = (o: DisputeOutcome): number => [...latest.values()].filter((c) => c.outcome === o).length
  let outcome: DisputeOutcome | null = null
  let resolvedAt: number | null = null
  for (const { env: v, id } of valid) {
    if (outcome !== null) {
      refusedVotes.push({ id, voter: v.signer, reason: `cast after the dispute was resolved (${new Date(resolvedAt!).toISOString()})` })
      continue
    }
    latest.set(v.signer, { voter: v.signer, outcome: v.payload.outcome, time: v.time, id })
    for (const o of ["refund_buyer", "pay_seller"] as const)
      if (count(o) * 2 > eligible.length) {
        outcome = o
        resolvedAt = v.time
      }
  }
  refusedVotes.sort((a, b) => byCodeUnit(a.id, b.id) || byCodeUnit(a.reason, b.reason))
  const counted = [...latest.values()].sort((a, b) => byCodeUnit(a.voter, b.voter))
  const tally = { refund_buyer: count("refund_buyer"), pay_seller: count("pay_seller"), eligible: eligible.length }
  const result = { ...base, openedAt, deadline, eligible, counted, tally, refusedVotes }
  const who = rules.mechanism === "arbitration" ? "arbitrators" : "participants"
  if (outcome !== null)
    return { ...result, status: "resolved", outcome, resolvedAt, reason: `${outcome} by more than half of the ${eligible.length} eligible ${who}` }
  if (now >= deadline)
    return {
      ...result,
      status: "timed_out",
      outcome: rules.defaultOutcome,
      resolvedAt: deadline,
      reason: `no majority within ${rules.timeoutDays} days: ${rules.defaultOutcome} by default`,
    }
  const waiting = eligible.length === 0 ? `no eligible ${who}: resolves by ${rules.defaultOutcome} at the deadline` : `waiting for votes of the ${who}`
  return { ...result, status: "open", outcome: null, resolvedAt: null, reason: waiting }
}

/**
 * Reverses `entry`'s split in `balances` (mutated): seller, marketplace and network
 * pools each give back their share or, when they hold less, all they hold; the buyer
 * gets what was taken. Never takes a balance below zero; reports the shortfalls.
 */
export function applyRefund(
  balances: Record<string, number>,
  entry: LedgerEntry,
  disputeId: DisputeId,
  time: number,
): RefundEntry {
  const p = entry.purchase.payload
  const shares: [string, number][] = [
    [p.seller, entry.split.creator],
    ["marketplace", entry.split.marketplace],
    ["network", entry.split.network],
  ]
  const shortfalls: RefundEntry["shortfalls"] = []
  let refunded = 0
  for (const [account, owed] of shares) {
    if (owed === 0) continue
    const taken = Math.min(owed, balances[account] ?? 0)
    balances[account] = (balances[account] ?? 0) - taken
    refunded += taken
    if (taken < owed) shortfalls.push({ account, owed, taken })
  }
  balances[p.buyer] = (balances[p.buyer] ?? 0) + refunded
  return { disputeId, purchaseId: entry.id, buyer: p.buyer as NodeId, time, owed: p.price, refunded, shortfalls }
}
