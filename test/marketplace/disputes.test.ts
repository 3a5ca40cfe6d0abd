import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Identity, signEnvelope, type NodeId } from "../../src/identity/index.ts"
import { createMarketplaceConfig } from "../../src/marketplace/config.ts"
import { decideDispute, disputeIdOf, signDispute, signDisputeVote } from "../../src/marketplace/disputes.ts"
import { signCreditGrant } from "../../src/marketplace/grants.ts"
import { purchaseCandidates, purchaseIdOf, signPurchase } from "../../src/marketplace/ledger.ts"
import { marketLedgerOf, type MarketLedgerInput } from "../../src/marketplace/marketLedger.ts"
import type { DisputeResolution, MarketplaceConfig, Purchase } from "../../src/schema/index.ts"
import { alice, bob, carol, dave, MARKET, purchase, T0 } from "./fixtures.ts"

const erin = Identity.generate("erin")
const frank = Identity.generate("frank")
const DAY = 86_400_000
const configWith = (rules: Partial<DisputeResolution> = {}): MarketplaceConfig =>
  createMarketplaceConfig(
    {
      name: "M",
      creator: alice.nodeId,
      federation: {
        disputeResolution: { mechanism: "arbitration", arbitrators: [dave.nodeId, erin.nodeId, frank.nodeId], timeoutDays: 7, defaultOutcome: "refund_buyer", ...rules },
      },
    },
    T0,
  )
const config = configWith()
const participants: NodeId[] = [alice.nodeId, bob.nodeId, carol.nodeId, dave.nodeId]
const grantTo = (who: Identity, amount: number, name: string, time = T0) =>
  signCreditGrant(alice, { marketplaceId: MARKET, to: who.nodeId, amount, grantId: name }, time)

// carol buys bob's item for 10 000 credits (seller 6 510, marketplace 2 360, network 1 130)
const buy = signPurchase(carol, purchase(carol, bob, 1, 10_000), T0 + 1_000)
const dispute = signDispute(carol, buy, "the plugin does not start", T0 + 2_000)
const vote = (who: Identity, outcome: "refund_buyer" | "pay_seller", time: number) => signDisputeVote(who, dispute, outcome, { time })
const entries = purchaseCandidates([buy]).candidates

const ledger = (over: Partial<MarketLedgerInput> = {}) =>
  marketLedgerOf({
    marketplaceId: MARKET,
    owner: alice.nodeId,
    config,
    participants,
    grants: [grantTo(carol, 12_000, "carol")],
    purchases: [buy],
    disputes: [dispute],
    disputeVotes: [],
    now: T0 + 3_000,
    ...over,
  })
const total = (b: Record<string, number>): number => Object.values(b).reduce((s, v) => s + v, 0)

describe("decideDispute", () => {
  it("stays open until more than half of the arbitrators agree, then resolves at that vote", () => {
    const one = decideDispute(config, participants, dispute, [vote(dave, "refund_buyer", T0 + 2_100)], T0 + 3_000, entries)
    expect(one).toMatchObject({ status: "open", outcome: null, tally: { refund_buyer: 1, pay_seller: 0, eligible: 3 } })
    const two = decideDispute(config, participants, dispute, [vote(dave, "refund_buyer", T0 + 2_100), vote(erin, "refund_buyer", T0 + 2_200)], T0 + 3_000, entries)
    expect(two).toMatchObject({ status: "resolved", outcome: "refund_buyer", resolvedAt: T0 + 2_200, disputeId: disputeIdOf(dispute.payload) })
    expect(two.deadline).toBe(T0 + 2_000 + 7 * DAY)
  })

  it("counts each arbitrator's latest vote, and refuses votes after the resolution", () => {
    const votes = [
      vote(dave, "pay_seller", T0 + 2_100),
      vote(dave, "refund_buyer", T0 + 2_150),
      vote(erin, "refund_buyer", T0 + 2_200),
      vote(frank, "pay_seller", T0 + 2_300),
      vote(dave, "pay_seller", T0 + 2_400),
    ]
    const d = decideDispute(config, participants, dispute, votes, T0 + 3_000, entries)
    expect(d).toMatchObject({ status: "resolved", outcome: "refund_buyer", resolvedAt: T0 + 2_200 })
    expect(d.counted.map((c) => [c.voter, c.outcome])).toEqual(
      [[dave.nodeId, "refund_buyer"], [erin.nodeId, "refund_buyer"]].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    )
    expect(d.refusedVotes.map((r) => r.reason)).toEqual([expect.stringMatching(/after the dispute was resolved/), expect.stringMatching(/after the dispute was resolved/)])
  })

  it("resolves by the default outcome when the timeout passes undecided", () => {
    const votes = [vote(dave, "pay_seller", T0 + 2_100)]
    expect(decideDispute(config, participants, dispute, votes, T0 + 2_000 + 7 * DAY - 1, entries).status).toBe("open")
    expect(decideDispute(config, participants, dispute, votes, T0 + 2_000 + 7 * DAY, entries)).toMatchObject({
      status: "timed_out",
      outcome: "refund_buyer",
      resolvedAt: T0 + 2_000 + 7 * DAY,
    })
    const paySeller = configWith({ defaultOutcome: "pay_seller" })
    expect(decideDispute(paySeller, participants, dispute, [], T0 + 8 * DAY, entries)).toMatchObject({ status: "timed_out", outcome: "pay_seller" })
  })

  it("refuses votes by non-arbitrators, by a party, before the opening and after the deadline", () => {
    const votes = [
      vote(alice, "refund_buyer", T0 + 2_100),
      vote(carol, "refund_buyer", T0 + 2_100),
      vote(dave, "refund_buyer", T0 + 1_500),
      vote(erin, "refund_buyer", T0 + 2_000 + 7 * DAY + 1),
      signEnvelope(frank, "fedhub/market-dispute-vote/v1", { marketplaceId: "3vQB7B6MrGQZaxCuFg4oh", disputeId: disputeIdOf(dispute.payload), outcome: "refund_buyer" }, T0 + 2_100),
      signEnvelope(frank, "fedhub/market-dispute-vote/v1", { marketplaceId: MARKET, disputeId: "0".repeat(64), outcome: "refund_buyer" }, T0 + 2_100),
    ]
    const d = decideDispute(config, participants, dispute, votes, T0 + 3_000, entries)
    expect(d.status).toBe("open")
    expect(d.counted).toEqual([])
    const reasons = d.refusedVotes.map((r) => r.reason).join("\n")
    expect(reasons).toMatch(/not an arbitrator/)
    expect(reasons).toMatch(/party to the dispute/)
    expect(reasons).toMatch(/before the dispute was opened/)
    expect(reasons).toMatch(/after the deadline/)
    expect(reasons).toMatch(/in another marketplace/)
    expect(reasons).toMatch(/on another dispute/)
  })

  it("under community, the participants other than buyer and seller vote", () => {
    const community = configWith({ mechanism: "community", arbitrators: [] })
    const votes = [vote(alice, "pay_seller", T0 + 2_100), vote(bob, "pay_seller", T0 + 2_100), vote(erin, "pay_seller", T0 + 2_100)]
    const d = decideDispute(community, participants, dispute, votes, T0 + 3_000, entries)
    expect(d.eligible).toEqual([alice.nodeId, dave.nodeId].sort())
    expect(d.status).toBe("open")
    expect(d.refusedVotes.map((r) => r.reason).sort()).toEqual([expect.stringMatching(/party/), expect.stringMatching(/not a participant/)].sort())
    expect(decideDispute(community, participants, dispute, [...votes, vote(dave, "pay_seller", T0 + 2_200)], T0 + 3_000, entries)).toMatchObject({
      status: "resolved",
      outcome: "pay_seller",
    })
  })

  it("refuses a dispute not signed by the buyer, on an unknown purchase, or dated before the purchase", () => {
    expect(() => signDispute(bob, buy, "mine")).toThrow(/DISPUTE_INVALID/)
    const bySeller = signEnvelope(bob, "fedhub/market-dispute/v1", dispute.payload, T0 + 2_000)
    expect(decideDispute(config, participants, bySeller, [], T0, entries)).toMatchObject({ status: "refused", reason: expect.stringMatching(/not by the purchase's buyer/) })
    expect(decideDispute(config, participants, dispute, [], T0, [])).toMatchObject({ status: "refused", reason: expect.stringMatching(/did not apply/) })
    const early = signDispute(carol, buy, "early", T0 + 999)
    expect(decideDispute(config, participants, early, [], T0, entries)).toMatchObject({ status: "refused", reason: expect.stringMatching(/before the purchase/) })
  })

  it("refuses forged, tampered and wrong-purpose disputes and votes", () => {
    const tampered = { ...dispute, payload: { ...dispute.payload, reason: "other" } }
    expect(decideDispute(config, participants, tampered, [], T0, entries)).toMatchObject({ status: "refused", reason: expect.stringMatching(/SIGNATURE_INVALID/) })
    const wrongPurpose = signEnvelope(carol, "fedhub/market-purchase/v1", dispute.payload, T0 + 2_000)
    expect(decideDispute(config, participants, wrongPurpose, [], T0, entries).reason).toMatch(/WRONG_PURPOSE/)
    expect(decideDispute(config, participants, "junk", [], T0, entries).status).toBe("refused")
    const good = vote(dave, "refund_buyer", T0 + 2_100)
    const forgedVote = { ...good, signer: erin.nodeId }
    const tamperedVote = { ...good, payload: { ...good.payload, outcome: "pay_seller" } }
    const floatVote = { ...good, time: T0 + 0.5 }
    const joinPurpose = signEnvelope(erin, "fedhub/market-join-vote/v1", good.payload, T0 + 2_100)
    const d = decideDispute(config, participants, dispute, [forgedVote, tamperedVote, floatVote, joinPurpose, 42], T0 + 3_000, entries)
    expect(d.counted).toEqual([])
    expect(d.refusedVotes).toHaveLength(5)
    expect(d.refusedVotes.map((r) => r.reason).join("\n")).toMatch(/WRONG_PURPOSE/)
  })
})

describe("disputes in the ledger", () => {
  it("a refund gives the buyer the price back from seller and pools, at the resolution time", () => {
    const before = ledger()
    expect(before.balances).toEqual({ [bob.nodeId]: 6_510, [carol.nodeId]: 2_000, marketplace: 2_360, network: 1_130 })
    const l = ledger({ disputeVotes: [vote(dave, "refund_buyer", T0 + 2_100), vote(frank, "refund_buyer", T0 + 2_500)] })
    expect(l.disputes).toEqual([expect.objectContaining({ status: "resolved", outcome: "refund_buyer" })])
    expect(l.refunds).toEqual([
      { disputeId: disputeIdOf(dispute.payload), purchaseId: purchaseIdOf(buy.payload), buyer: carol.nodeId, time: T0 + 2_500, owed: 10_000, refunded: 10_000, shortfalls: [] },
    ])
    expect(l.balances).toEqual({ [bob.nodeId]: 0, [carol.nodeId]: 12_000, marketplace: 0, network: 0 })
    expect(total(l.balances)).toBe(l.minted)
  })

  it("pay_seller leaves the purchase standing", () => {
    const l = ledger({ disputeVotes: [vote(dave, "pay_seller", T0 + 2_100), vote(erin, "pay_seller", T0 + 2_200)] })
    expect(l.disputes[0]).toMatchObject({ status: "resolved", outcome: "pay_seller" })
    expect(l.refunds).toEqual([])
    expect(l.balances[carol.nodeId]).toBe(2_000)
  })

  it("a timed-out dispute refunds by default at its deadline, and not before", () => {
    expect(ledger({ now: T0 + 2_000 + 7 * DAY - 1 }).refunds).toEqual([])
    const l = ledger({ now: T0 + 2_000 + 7 * DAY })
    expect(l.disputes[0]).toMatchObject({ status: "timed_out", outcome: "refund_buyer" })
    expect(l.refunds[0]!.time).toBe(T0 + 2_000 + 7 * DAY)
    expect(l.balances[carol.nodeId]).toBe(12_000)
  })

  it("a seller that spent its share gives back what it holds; the shortfall is reported, nothing goes negative", () => {
    // bob spends 6 000 of its 6 510 on alice's item before the dispute resolves
    const spend = signPurchase(bob, purchase(bob, alice, 1, 6_000, { itemGlobalId: `${alice.nodeId}:x` }), T0 + 2_050)
    const l = ledger({ purchases: [buy, spend], disputeVotes: [vote(dave, "refund_buyer", T0 + 2_100), vote(erin, "refund_buyer", T0 + 2_200)] })
    expect(l.applied).toHaveLength(2)
    const r = l.refunds[0]!
    expect(r.shortfalls).toEqual([{ account: bob.nodeId, owed: 6_510, taken: 510 }])
    expect(r.refunded).toBe(510 + 2_360 + 1_130)
    expect(l.balances[bob.nodeId]).toBe(0)
    expect(l.balances[carol.nodeId]).toBe(2_000 + r.refunded)
    for (const v of Object.values(l.balances)) expect(v).toBeGreaterThanOrEqual(0)
    expect(total(l.balances)).toBe(l.minted)
  })

  it("refunded credits can be spent after the resolution, not before it", () => {
    const votes = [vote(dave, "refund_buyer", T0 + 2_100), vote(erin, "refund_buyer", T0 + 2_200)]
    const again = (time: number) => signPurchase(carol, purchase(carol, bob, 2, 9_000, { itemGlobalId: `${bob.nodeId}:other` }), time)
    expect(ledger({ purchases: [buy, again(T0 + 2_150)], disputeVotes: votes }).refused).toEqual([expect.objectContaining({ code: "INSUFFICIENT_FUNDS" })])
    const after = ledger({ purchases: [buy, again(T0 + 2_300)], disputeVotes: votes })
    expect(after.applied).toHaveLength(2)
    expect(after.balances[carol.nodeId]).toBe(3_000)
  })

  it("refuses a dispute on a purchase the ledger did not apply, a second dispute and foreign records", () => {
    const poor = ledger({ grants: [grantTo(carol, 100, "carol")], disputeVotes: [vote(dave, "refund_buyer", T0 + 2_100), vote(erin, "refund_buyer", T0 + 2_200)] })
    expect(poor.disputes).toEqual([])
    expect(poor.refunds).toEqual([])
    expect(poor.refusedDisputes).toEqual([expect.objectContaining({ reason: expect.stringMatching(/did not apply/) })])
    expect(poor.balances).toEqual({ [carol.nodeId]: 100 })

    const second = signDispute(carol, buy, "again", T0 + 2_500)
    const foreign = signDispute(carol, { ...buy.payload, marketplaceId: "3vQB7B6MrGQZaxCuFg4oh" }, "elsewhere", T0 + 2_500)
    const stray = signDisputeVote(dave, second, "refund_buyer", { time: T0 + 2_600 })
    const l = ledger({ disputes: [second, dispute, foreign], disputeVotes: [stray] })
    expect(l.disputes.map((d) => d.disputeId)).toEqual([disputeIdOf(dispute.payload)])
    const reasons = l.refusedDisputes.map((r) => r.reason).join("\n")
    expect(reasons).toMatch(/already has a dispute/)
    expect(reasons).toMatch(/another marketplace/)
    expect(l.refusedDisputeVotes).toEqual([expect.objectContaining({ reason: expect.stringMatching(/no dispute/) })])
  })

  it("refuses a dispute on an external payment (refunded outside, no credits moved)", () => {
    const stripe = signPurchase(carol, purchase(carol, bob, 1, 500, { paymentMethod: "stripe", currency: "EUR", externalReference: "pi_1" }), T0 + 1_000)
    const d = signDispute(carol, stripe, "never arrived", T0 + 2_000)
    const l = ledger({ purchases: [stripe], disputes: [d], now: T0 + 30 * DAY })
    expect(l.refunds).toEqual([])
    expect(l.refusedDisputes).toEqual([expect.objectContaining({ reason: expect.stringMatching(/did not apply/) })])
  })

  it("gives the same ledger for any order and duplication of the same records", () => {
    const spend = signPurchase(bob, purchase(bob, alice, 1, 6_000, { itemGlobalId: `${alice.nodeId}:x` }), T0 + 2_050)
    const records: { kind: "grants" | "purchases" | "disputes" | "disputeVotes"; r: unknown }[] = [
      { kind: "grants", r: grantTo(carol, 12_000, "carol") },
      { kind: "grants", r: grantTo(bob, 5, "bob", T0 + 3) },
      { kind: "grants", r: signCreditGrant(bob, { marketplaceId: MARKET, to: bob.nodeId, amount: 9, grantId: "self" }, T0) },
      { kind: "purchases", r: buy },
      { kind: "purchases", r: spend },
      { kind: "purchases", r: signPurchase(carol, purchase(carol, bob, 1, 10_000), T0 + 9_000) },
      { kind: "disputes", r: dispute },
      { kind: "disputes", r: signEnvelope(carol, "fedhub/market-dispute/v1", dispute.payload, T0 + 5_000) },
      { kind: "disputes", r: signDispute(carol, buy, "again", T0 + 2_500) },
      { kind: "disputeVotes", r: vote(dave, "refund_buyer", T0 + 2_100) },
      { kind: "disputeVotes", r: vote(erin, "pay_seller", T0 + 2_150) },
      { kind: "disputeVotes", r: vote(erin, "refund_buyer", T0 + 2_200) },
      { kind: "disputeVotes", r: vote(frank, "pay_seller", T0 + 2_300) },
      { kind: "disputeVotes", r: vote(alice, "pay_seller", T0 + 2_300) },
      { kind: "disputeVotes", r: "junk" },
    ]
    const build = (list: typeof records) => {
      const by = (k: string) => list.filter((x) => x.kind === k).map((x) => x.r)
      return ledger({ grants: by("grants"), purchases: by("purchases"), disputes: by("disputes"), disputeVotes: by("disputeVotes") })
    }
    const expected = build(records)
    expect(expected.refunds).toHaveLength(1)
    expect(expected.refunds[0]!.shortfalls).toHaveLength(1)
    fc.assert(
      fc.property(fc.shuffledSubarray(records, { minLength: records.length }), fc.array(fc.constantFrom(...records), { maxLength: 8 }), (perm, dups) => {
        const l = build([...perm, ...dups])
        expect(l).toEqual(expected)
        for (const v of Object.values(l.balances)) expect(v).toBeGreaterThanOrEqual(0)
        expect(total(l.balances)).toBe(l.minted)
      }),
      { numRuns: 60 },
    )
  })

  it("after a refund the buyer is whole and the accounts add up to the granted total, whatever the price and terms", () => {
    const pctTriple = fc
      .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }))
      .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const)
      .map(([a, b]) => ({ creator: a, marketplace: b - a, network: 100 - b }))
    const fees = fc
      .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }))
      .filter(([a, b]) => a + b <= 100)
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e12 }), fc.integer({ min: 0, max: 1e12 }), fees, pctTriple, fc.boolean(), (granted, rawPrice, [tx, cross], sharing, refund) => {
        const price = rawPrice % (granted + 1)
        const terms: Purchase["terms"] = { transactionFeePercentage: tx, crossNodeFeePercentage: cross, revenueSharing: sharing }
        const p = signPurchase(carol, purchase(carol, bob, 1, price, { terms }), T0 + 1_000)
        const d = signDispute(carol, p, "broken", T0 + 2_000)
        const outcome = refund ? "refund_buyer" : "pay_seller"
        const l = ledger({
          grants: [grantTo(carol, granted, "g")],
          purchases: [p],
          disputes: [d],
          disputeVotes: [signDisputeVote(dave, d, outcome, { time: T0 + 2_100 }), signDisputeVote(erin, d, outcome, { time: T0 + 2_200 })],
        })
        expect(l.applied).toHaveLength(1)
        expect(total(l.balances)).toBe(granted)
        for (const v of Object.values(l.balances)) expect(v).toBeGreaterThanOrEqual(0)
        expect(l.balances[carol.nodeId]).toBe(refund ? granted : granted - price)
        if (refund) for (const a of [bob.nodeId, "marketplace", "network"]) expect(l.balances[a] ?? 0).toBe(0)
      }),
      { numRuns: 60 },
    )
  })
})

describe("the market ledger under random records", () => {
  const traders = [bob, carol, dave, erin]
  const voters = [dave, erin, frank, carol]
  const scenario = fc.record({
    grants: fc.array(fc.record({ to: fc.nat(3), amount: fc.integer({ min: 1, max: 2_000 }), t: fc.nat(100) }), { maxLength: 5 }),
    purchases: fc.array(
      fc.record({ buyer: fc.nat(3), seller: fc.nat(3), reuseSeq: fc.nat(4).map((n) => n === 0), price: fc.nat(900), t: fc.nat(100) }),
      { maxLength: 8 },
    ),
    disputes: fc.array(fc.record({ purchase: fc.nat(7), t: fc.nat(50) }), { maxLength: 5 }),
    votes: fc.array(fc.record({ dispute: fc.nat(4), voter: fc.nat(3), refund: fc.boolean(), t: fc.nat(300) }), { maxLength: 12 }),
    late: fc.boolean(),
  })

  it("never takes a balance below zero, keeps the total equal to the grants and ignores order and repeats", () => {
    fc.assert(
      fc.property(scenario, fc.nat(), (s, seed) => {
        const grants = [
          ...traders.map((t, i) => signCreditGrant(alice, { marketplaceId: MARKET, to: t.nodeId, amount: 400, grantId: `base-${i}` }, T0)),
          ...s.grants.map((g, i) => signCreditGrant(alice, { marketplaceId: MARKET, to: traders[g.to]!.nodeId, amount: g.amount, grantId: `g${i}` }, T0 + g.t)),
        ]
        // each buyer numbers its purchases 1, 2, 3…; now and then one reuses its last number (a double spend)
        const next = new Map<string, number>()
        const purchases = s.purchases.map((p, i) => {
          const [b, sl] = [traders[p.buyer]!, traders[p.seller]!]
          const seq = (next.get(b.nodeId) ?? 0) + (p.reuseSeq && next.has(b.nodeId) ? 0 : 1)
          next.set(b.nodeId, seq)
          return signPurchase(b, purchase(b, sl, seq, p.price, { itemGlobalId: `${sl.nodeId}:item-${i}` }), T0 + p.t)
        })
        const disputes = s.disputes
          .filter((d) => d.purchase < purchases.length)
          .map((d) => {
            const p = purchases[d.purchase]!
            const buyer = traders.find((t) => t.nodeId === p.payload.buyer)!
            return signDispute(buyer, p, "bad", p.time + d.t)
          })
        const votes = s.votes
          .filter((v) => v.dispute < disputes.length)
          .map((v) => signDisputeVote(voters[v.voter]!, disputes[v.dispute]!, v.refund ? "refund_buyer" : "pay_seller", { time: disputes[v.dispute]!.time + v.t }))
        const input = { grants, purchases, disputes, disputeVotes: votes, now: s.late ? T0 + 30 * DAY : T0 + 500 }
        const l = ledger(input)
        for (const v of Object.values(l.balances)) expect(v).toBeGreaterThanOrEqual(0)
        expect(l.minted).toBe(1_600 + s.grants.reduce((sum, g) => sum + g.amount, 0))
        expect(total(l.balances)).toBe(l.minted)
        for (const r of l.refunds) expect(r.refunded + r.shortfalls.reduce((sum, x) => sum + x.owed - x.taken, 0)).toBe(r.owed)
        const shuffle = <T>(xs: readonly T[]): T[] => {
          const out = [...xs, ...xs.slice(0, seed % 3)]
          for (let i = out.length - 1; i > 0; i--) {
            const j = (seed * (i + 7)) % (i + 1)
            ;[out[i], out[j]] = [out[j]!, out[i]!]
          }
          return out
        }
        expect(ledger({ ...input, grants: shuffle(grants), purchases: shuffle(purchases), disputes: shuffle(disputes), disputeVotes: shuffle(votes) })).toEqual(l)
      }),
      { numRuns: 60 },
    )
  })
})
