import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { signEnvelope, type NodeId } from "../../src/identity/index.ts"
import { createMarketplaceConfig } from "../../src/marketplace/config.ts"
import { grantIdOf, openGrants, signCreditGrant } from "../../src/marketplace/grants.ts"
import { signPurchase } from "../../src/marketplace/ledger.ts"
import { marketLedgerOf } from "../../src/marketplace/marketLedger.ts"
import { decideJoin, signJoinRequest, signVote } from "../../src/marketplace/votes.ts"
import type { CreditGrant } from "../../src/schema/index.ts"
import { alice, bob, carol, dave, MARKET, purchase, T0 } from "./fixtures.ts"

const config = createMarketplaceConfig({ name: "M", creator: alice.nodeId }, T0)
const grant = (to: typeof bob, amount: number, grantId: string, extra: Partial<CreditGrant> = {}): CreditGrant => ({
  marketplaceId: MARKET,
  to: to.nodeId,
  amount,
  grantId,
  ...extra,
})
const ledger = (grants: unknown[], purchases: unknown[] = []) =>
  marketLedgerOf({ marketplaceId: MARKET, owner: alice.nodeId, config, participants: [alice.nodeId, bob.nodeId, carol.nodeId], grants, purchases, now: T0 })

describe("credit grants", () => {
  it("credits come from the owner's signed grants, and the total is what was granted", () => {
    const l = ledger([signCreditGrant(alice, grant(carol, 1_000, "g1", { reason: "welcome" }), T0), signCreditGrant(alice, grant(bob, 250, "g2"), T0)])
    expect(l.balances).toEqual({ [bob.nodeId]: 250, [carol.nodeId]: 1_000 })
    expect(l.minted).toBe(1_250)
    expect(l.grants.map((g) => g.grant.payload.grantId).sort()).toEqual(["g1", "g2"])
    expect(l.refusedGrants).toEqual([])
  })

  it("counts a repeated grant once, even re-signed later", () => {
    const body = grant(carol, 500, "g1")
    const l = ledger([signCreditGrant(alice, body, T0), signCreditGrant(alice, body, T0 + 99), signCreditGrant(alice, body, T0)])
    expect(l.balances[carol.nodeId]).toBe(500)
    expect(l.grants).toEqual([expect.objectContaining({ id: grantIdOf(body) })])
    expect(l.grants[0]!.grant.time).toBe(T0)
  })

  it("refuses a grant not signed by the owner, with the reason", () => {
    const l = ledger([signCreditGrant(bob, grant(bob, 1_000_000, "mine"), T0)])
    expect(l.balances).toEqual({})
    expect(l.refusedGrants).toEqual([expect.objectContaining({ reason: expect.stringMatching(/not by the marketplace's owner/) })])
  })

  it("refuses forged, tampered, wrong-purpose and foreign-marketplace grants", () => {
    const good = signCreditGrant(alice, grant(carol, 10, "g1"), T0)
    const tampered = { ...good, payload: { ...good.payload, amount: 10_000 } }
    const wrongPurpose = signEnvelope(alice, "fedhub/market-purchase/v1", grant(carol, 10, "g2"), T0)
    const foreign = signCreditGrant(alice, grant(carol, 10, "g3", { marketplaceId: "3vQB7B6MrGQZaxCuFg4oh" }), T0)
    const forged = { ...good, signer: alice.nodeId, sig: signCreditGrant(bob, grant(carol, 10, "g4"), T0).sig, payload: grant(carol, 10, "g4") }
    const l = ledger([tampered, wrongPurpose, foreign, forged, "junk", null])
    expect(l.balances).toEqual({})
    const reasons = l.refusedGrants.map((r) => r.reason).join("\n")
    expect(reasons).toMatch(/SIGNATURE_INVALID/)
    expect(reasons).toMatch(/WRONG_PURPOSE/)
    expect(reasons).toMatch(/another marketplace/)
    expect(l.refusedGrants).toHaveLength(6)
  })

  it("refuses out-of-range and fractional amounts, at signing and as records", () => {
    for (const amount of [0, -5, 2 ** 53, 1.5]) expect(() => signCreditGrant(alice, grant(carol, amount, "g"), T0)).toThrow()
    const zero = signEnvelope(alice, "fedhub/market-credit-grant/v1", grant(carol, 0, "z"), T0)
    const negative = signEnvelope(alice, "fedhub/market-credit-grant/v1", grant(carol, -10, "n"), T0)
    const good = signCreditGrant(alice, grant(carol, 10, "f"), T0)
    const float = { ...good, payload: { ...good.payload, amount: 10.5 } }
    const l = ledger([zero, negative, float])
    expect(l.balances).toEqual({})
    const reasons = l.refusedGrants.map((r) => r.reason).join("\n")
    expect(reasons).toMatch(/amount must be >= 1/)
    expect(reasons).toMatch(/FLOAT_IN_PAYLOAD/)
  })

  it("refuses both of two different grants the owner signed with one grantId", () => {
    const l = ledger([signCreditGrant(alice, grant(carol, 10, "g1"), T0), signCreditGrant(alice, grant(bob, 10, "g1"), T0 + 1)])
    expect(l.balances).toEqual({})
    expect(l.refusedGrants.map((r) => r.reason)).toEqual([expect.stringMatching(/equivocation/), expect.stringMatching(/equivocation/)])
  })

  it("refuses a grant that would take the granted total past the largest safe integer", () => {
    const big = Number.MAX_SAFE_INTEGER - 10
    const { accepted, refused } = openGrants(
      [signCreditGrant(alice, grant(carol, big, "a"), T0), signCreditGrant(alice, grant(bob, 11, "b"), T0 + 1)],
      alice.nodeId,
      MARKET,
    )
    expect(accepted.map((g) => g.grant.payload.grantId)).toEqual(["a"])
    expect(refused).toEqual([expect.objectContaining({ reason: expect.stringMatching(/largest safe integer/) })])
  })

  it("applies grants in time order: a purchase cannot spend credits granted after it", () => {
    const buy = signPurchase(carol, purchase(carol, bob, 1, 100), T0 + 10)
    const early = ledger([signCreditGrant(alice, grant(carol, 100, "g1"), T0)], [buy])
    expect(early.applied).toHaveLength(1)
    const late = ledger([signCreditGrant(alice, grant(carol, 100, "g1"), T0 + 20)], [buy])
    expect(late.applied).toEqual([])
    expect(late.refused).toEqual([expect.objectContaining({ code: "INSUFFICIENT_FUNDS" })])
    expect(late.balances[carol.nodeId]).toBe(100)
  })

  it("gives proof_of_stake votes the ledger balance as stake", () => {
    const pos = createMarketplaceConfig(
      { name: "M", creator: alice.nodeId, federation: { consensusMechanism: { type: "proof_of_stake", parameters: { minimumStake: 100, votingPower: "stake_weighted", voteDeadlineHours: 24 } } } },
      T0,
    )
    const l = ledger([signCreditGrant(alice, grant(bob, 300, "b"), T0), signCreditGrant(alice, grant(carol, 200, "c"), T0)])
    const request = signJoinRequest(dave, MARKET, undefined, T0)
    const members: NodeId[] = [bob.nodeId, carol.nodeId]
    expect(decideJoin(pos, members, l.balances, request, [signVote(bob, request, true, { time: T0 + 1 })], T0 + 2)).toMatchObject({
      status: "approved",
      tally: { yes: 300, eligible: 500 },
    })
  })

  it("gives the same balances for any order and duplication of grants", () => {
    const records = [
      signCreditGrant(alice, grant(carol, 100, "a"), T0),
      signCreditGrant(alice, grant(carol, 100, "a"), T0 + 5),
      signCreditGrant(alice, grant(bob, 7, "b"), T0 + 1),
      signCreditGrant(alice, grant(bob, 9, "c"), T0 + 1),
      signCreditGrant(alice, grant(dave, 9, "c"), T0 + 2),
      signCreditGrant(bob, grant(bob, 50, "d"), T0),
    ]
    const expected = ledger(records)
    expect(expected.balances).toEqual({ [bob.nodeId]: 7, [carol.nodeId]: 100 })
    fc.assert(
      fc.property(fc.shuffledSubarray(records, { minLength: records.length }), fc.array(fc.constantFrom(...records), { maxLength: 6 }), (perm, dups) => {
        expect(ledger([...perm, ...dups])).toEqual(expected)
      }),
      { numRuns: 100 },
    )
  })
})
