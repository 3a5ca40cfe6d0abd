import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { signEnvelope } from "../../src/identity/index.ts"
import { ledgerOf, purchaseIdOf, signPurchase } from "../../src/marketplace/ledger.ts"
import { splitPrice } from "../../src/marketplace/split.ts"
import { alice, bob, carol, purchase, T0 } from "./fixtures.ts"

const seedFees = { transactionFeePercentage: 5, crossNodeFeePercentage: 2 }
const seedSharing = { creator: 70, marketplace: 20, network: 10 }

describe("splitPrice", () => {
  it("splits the seed's terms: fees off the top, the rest 70/20/10", () => {
    expect(splitPrice(10_000, seedFees, seedSharing, true)).toEqual({
      price: 10_000, transactionFee: 500, crossNodeFee: 200, net: 9_300,
      creator: 6_510, marketplace: 500 + 1_860, network: 200 + 930,
    })
  })

  it("charges no cross-node fee when buyer and seller are one node", () => {
    expect(splitPrice(1_000, seedFees, seedSharing, false).crossNodeFee).toBe(0)
  })

  it("gives leftover units to the largest remainders, ties to the creator first", () => {
    const s = splitPrice(1, { transactionFeePercentage: 0, crossNodeFeePercentage: 0 }, { creator: 34, marketplace: 33, network: 33 })
    expect([s.creator, s.marketplace, s.network]).toEqual([1, 0, 0])
    const t = splitPrice(2, { transactionFeePercentage: 0, crossNodeFeePercentage: 0 }, { creator: 33, marketplace: 34, network: 33 })
    expect([t.creator, t.marketplace, t.network]).toEqual([1, 1, 0])
  })

  it("always adds up exactly to the price, each share within one unit of its exact value", () => {
    const pctTriple = fc
      .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }))
      .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const)
      .map(([a, b]) => ({ creator: a, marketplace: b - a, network: 100 - b }))
    const fees = fc
      .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }))
      .filter(([a, b]) => a + b <= 100)
      .map(([a, b]) => ({ transactionFeePercentage: a, crossNodeFeePercentage: b }))
    fc.assert(
      fc.property(fc.maxSafeNat(), fees, pctTriple, fc.boolean(), (price, f, sharing, cross) => {
        const s = splitPrice(price, f, sharing, cross)
        expect(BigInt(s.creator) + BigInt(s.marketplace) + BigInt(s.network)).toBe(BigInt(price))
        expect(s.transactionFee + s.crossNodeFee + s.net).toBe(price)
        for (const v of [s.creator, s.marketplace, s.network, s.transactionFee, s.crossNodeFee]) {
          expect(Number.isSafeInteger(v)).toBe(true)
          expect(v).toBeGreaterThanOrEqual(0)
        }
        const exact = (BigInt(s.net) * BigInt(sharing.creator) * 1000n) / 100n
        expect(BigInt(s.creator) * 1000n - exact).toBeLessThanOrEqual(1000n)
        expect(exact - BigInt(s.creator) * 1000n).toBeLessThan(1000n)
      }),
      { numRuns: 2000 },
    )
  })

  it("refuses a sharing that does not add up to 100 and a fractional price", () => {
    expect(() => splitPrice(100, seedFees, { creator: 70, marketplace: 20, network: 20 })).toThrow(/100%/)
    expect(() => splitPrice(1.5, seedFees, seedSharing)).toThrow(/INVALID_INPUT/)
  })
})

describe("ledgerOf", () => {
  it("moves credits from buyer to seller and the two pools, exactly", () => {
    const p = signPurchase(carol, purchase(carol, bob, 1, 10_000), T0)
    const l = ledgerOf([p], { [carol.nodeId]: 12_000 })
    expect(l.applied.map((e) => e.id)).toEqual([purchaseIdOf(p.payload)])
    expect(l.balances[carol.nodeId]).toBe(2_000)
    expect(l.balances[bob.nodeId]).toBe(6_510)
    expect(l.balances.marketplace).toBe(2_360)
    expect(l.balances.network).toBe(1_130)
    expect(Object.values(l.balances).reduce((a, b) => a + b, 0)).toBe(12_000)
  })

  it("counts a repeated purchase once, even re-signed at another time", () => {
    const body = purchase(carol, bob, 1, 100)
    const once = signPurchase(carol, body, T0)
    const again = signPurchase(carol, body, T0 + 5_000)
    const l = ledgerOf([once, again, once], { [carol.nodeId]: 1_000 })
    expect(l.applied).toHaveLength(1)
    expect(l.applied[0]!.purchase.time).toBe(T0)
    expect(l.balances[carol.nodeId]).toBe(900)
    expect(l.refused).toEqual([])
  })

  it("refuses a purchase that would overdraw, so no balance goes below zero", () => {
    const first = signPurchase(carol, purchase(carol, bob, 1, 600), T0)
    const second = signPurchase(carol, purchase(carol, alice, 2, 600, { itemGlobalId: `${alice.nodeId}:x` }), T0 + 1)
    const l = ledgerOf([second, first], { [carol.nodeId]: 1_000 })
    expect(l.applied.map((e) => e.purchase.payload.sequence)).toEqual([1])
    expect(l.refused).toEqual([expect.objectContaining({ code: "INSUFFICIENT_FUNDS", id: purchaseIdOf(second.payload) })])
    expect(l.balances[carol.nodeId]).toBe(400)
  })

  it("detects a double spend across a partition as equivocation, reported with both records", () => {
    const onHubA = signPurchase(carol, purchase(carol, bob, 7, 800), T0)
    const onHubB = signPurchase(carol, purchase(carol, alice, 7, 800, { itemGlobalId: `${alice.nodeId}:y` }), T0 + 10)
    const l = ledgerOf([onHubB, onHubA], { [carol.nodeId]: 1_000 })
    expect(l.equivocations).toHaveLength(1)
    expect(l.equivocations[0]!.buyer).toBe(carol.nodeId)
    expect(l.equivocations[0]!.sequence).toBe(7)
    expect(new Set(l.equivocations[0]!.records.map((r) => r.payload.seller))).toEqual(new Set([bob.nodeId, alice.nodeId]))
    expect(l.applied).toEqual([])
    expect(l.refused.map((r) => r.code)).toEqual(["EQUIVOCATION", "EQUIVOCATION"])
    expect(l.balances[carol.nodeId]).toBe(1_000)
  })

  it("refuses a forged, tampered or wrongly signed purchase with the reason", () => {
    const good = signPurchase(carol, purchase(carol, bob, 1, 100), T0)
    const tampered = { ...good, payload: { ...good.payload, price: 1 } }
    const byOther = signEnvelope(bob, "fedhub/market-purchase/v1", purchase(carol, bob, 2, 100), T0)
    const wrongPurpose = signEnvelope(carol, "fedhub/market-rating/v1", purchase(carol, bob, 3, 100), T0)
    const l = ledgerOf([tampered, byOther, wrongPurpose, "junk"], { [carol.nodeId]: 1_000 })
    expect(l.applied).toEqual([])
    expect(l.refused).toHaveLength(4)
    const reasons = l.refused.map((r) => r.reason).join("\n")
    expect(reasons).toMatch(/SIGNATURE_INVALID/)
    expect(reasons).toMatch(/but buyer is/)
    expect(reasons).toMatch(/WRONG_PURPOSE/)
  })

  it("records external payments without moving credits", () => {
    const p = signPurchase(carol, purchase(carol, bob, 1, 500, { paymentMethod: "stripe", currency: "EUR", externalReference: "pi_123" }), T0)
    const l = ledgerOf([p], {})
    expect(l.external).toHaveLength(1)
    expect(l.applied).toEqual([])
    expect(l.balances).toEqual({})
  })

  it("gives the same ledger for any order and duplication of the same records", () => {
    const records = [
      signPurchase(carol, purchase(carol, bob, 1, 300), T0),
      signPurchase(carol, purchase(carol, bob, 2, 300), T0 + 1),
      signPurchase(carol, purchase(carol, alice, 2, 250, { itemGlobalId: `${alice.nodeId}:z` }), T0 + 2),
      signPurchase(carol, purchase(carol, alice, 3, 900, { itemGlobalId: `${alice.nodeId}:z` }), T0 + 3),
      signPurchase(bob, purchase(bob, alice, 1, 150, { itemGlobalId: `${alice.nodeId}:z` }), T0 + 2),
      signPurchase(bob, purchase(bob, alice, 1, 150, { itemGlobalId: `${alice.nodeId}:z` }), T0 + 9),
      signPurchase(alice, purchase(alice, carol, 1, 50, { itemGlobalId: `${carol.nodeId}:w` }), T0 + 4),
    ]
    const initial = { [carol.nodeId]: 1_000, [bob.nodeId]: 100, [alice.nodeId]: 0 }
    const expected = ledgerOf(records, initial)
    expect(expected.equivocations).toHaveLength(1)
    fc.assert(
      fc.property(fc.shuffledSubarray(records, { minLength: records.length }), fc.array(fc.constantFrom(...records), { maxLength: 5 }), (perm, dups) => {
        expect(ledgerOf([...perm, ...dups], initial)).toEqual(expected)
        for (const v of Object.values(expected.balances)) expect(v).toBeGreaterThanOrEqual(0)
      }),
      { numRuns: 100 },
    )
  })
})
