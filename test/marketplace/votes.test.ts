import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { signEnvelope, type NodeId } from "../../src/identity/index.ts"
import { createMarketplaceConfig } from "../../src/marketplace/config.ts"
import { decideJoin, joinRequestIdOf, signJoinRequest, signVote } from "../../src/marketplace/votes.ts"
import type { ConsensusType, MarketplaceConfig } from "../../src/schema/index.ts"
import { alice, bob, carol, dave, MARKET, T0 } from "./fixtures.ts"

const HOUR = 3_600_000
const configFor = (type: ConsensusType, minimumStake = 100): MarketplaceConfig =>
  createMarketplaceConfig(
    {
      name: "M",
      creator: alice.nodeId,
      federation: {
        consensusMechanism: {
          type,
          parameters: { minimumStake, votingPower: type === "proof_of_stake" ? "stake_weighted" : "one_node_one_vote", voteDeadlineHours: 24 },
        },
      },
    },
    T0,
  )
const members: NodeId[] = [alice.nodeId, bob.nodeId, carol.nodeId]
const request = signJoinRequest(dave, MARKET, "let me in", T0)
const now = T0 + HOUR

describe("decideJoin", () => {
  it("centralized: the creator decides, others' votes are refused with a reason", () => {
    const c = configFor("centralized")
    expect(decideJoin(c, members, {}, request, [signVote(bob, request, true, { time: T0 + 1 })], now)).toMatchObject({
      status: "pending",
      success: false,
      refusedVotes: [{ voter: bob.nodeId, reason: expect.stringMatching(/only the creator/) }],
    })
    expect(decideJoin(c, members, {}, request, [signVote(alice, request, true, { time: T0 + 1 })], now)).toMatchObject({ status: "approved", success: true })
    expect(decideJoin(c, members, {}, request, [signVote(alice, request, false, { time: T0 + 1 })], now).status).toBe("refused")
  })

  it("distributed: more than half approves; a tie refuses", () => {
    const c = configFor("distributed")
    const yes = (who: typeof alice) => signVote(who, request, true, { time: T0 + 1 })
    const no = (who: typeof alice) => signVote(who, request, false, { time: T0 + 1 })
    expect(decideJoin(c, members, {}, request, [yes(alice)], now).status).toBe("pending")
    expect(decideJoin(c, members, {}, request, [yes(alice), yes(bob)], now)).toMatchObject({ status: "approved", tally: { yes: 2, no: 0, eligible: 3 } })
    expect(decideJoin(c, members, {}, request, [no(alice), no(bob)], now).status).toBe("refused")
    const four = [...members, "fh1" + "a".repeat(52)] as NodeId[]
    expect(decideJoin(c, four, {}, request, [yes(alice), yes(bob), no(carol)], now).status).toBe("pending")
    expect(decideJoin(c, four, {}, request, [yes(alice), yes(bob)], T0 + 25 * HOUR).status).toBe("refused")
  })

  it("consortium: two thirds approve", () => {
    const c = configFor("consortium")
    const v = (who: typeof alice, a: boolean) => signVote(who, request, a, { time: T0 + 1 })
    expect(decideJoin(c, members, {}, request, [v(alice, true), v(bob, true)], now).status).toBe("approved")
    expect(decideJoin(c, members, {}, request, [v(alice, true), v(bob, false)], now).status).toBe("pending")
    expect(decideJoin(c, members, {}, request, [v(alice, false), v(bob, false)], now).status).toBe("refused")
  })

  it("proof_of_stake: stake-weighted, minimumStake enforced on voters", () => {
    const c = configFor("proof_of_stake", 100)
    const stakes = { [alice.nodeId]: 500, [bob.nodeId]: 300, [carol.nodeId]: 50 }
    const v = (who: typeof alice, a: boolean) => signVote(who, request, a, { time: T0 + 1 })
    const r = decideJoin(c, members, stakes, request, [v(alice, true), v(carol, true)], now)
    expect(r).toMatchObject({ status: "approved", tally: { yes: 500, no: 0, eligible: 800, voters: 2 } })
    expect(r.refusedVotes).toEqual([expect.objectContaining({ voter: carol.nodeId, reason: expect.stringMatching(/below minimumStake/) })])
    expect(decideJoin(c, members, stakes, request, [v(bob, true)], now)).toMatchObject({
      status: "pending",
      requirements: expect.arrayContaining([expect.stringMatching(/at least 100 credits/)]),
    })
    expect(decideJoin(c, members, stakes, request, [v(alice, false)], now).status).toBe("refused")
    // with no stake anywhere, the request waits (stakes may still be granted), and is refused at the deadline
    expect(decideJoin(c, members, {}, request, [v(alice, true)], now)).toMatchObject({ status: "pending", reason: expect.stringMatching(/eligible/) })
    expect(decideJoin(c, members, {}, request, [v(alice, true)], now + 400 * 3_600_000)).toMatchObject({ status: "refused", reason: expect.stringMatching(/no participant was eligible/) })
  })

  it("the latest vote of a voter counts", () => {
    const c = configFor("distributed")
    const votes = [signVote(alice, request, true, { time: T0 + 1 }), signVote(alice, request, false, { time: T0 + 2 }), signVote(bob, request, true, { time: T0 + 1 })]
    const r = decideJoin(c, members, {}, request, votes, now)
    expect(r.counted.find((x) => x.voter === alice.nodeId)?.approve).toBe(false)
    expect(r.status).toBe("pending")
  })

  it("refuses votes by non-participants, after the deadline, on another request or forged", () => {
    const c = configFor("distributed")
    const other = signJoinRequest(dave, MARKET, "again", T0 + 5)
    const forged = { ...signVote(bob, request, false, { time: T0 + 1 }), payload: { marketplaceId: MARKET, requestId: joinRequestIdOf(request), approve: true } }
    const r = decideJoin(c, members, {}, request, [
      signVote(dave, request, true, { time: T0 + 1 }),
      signVote(alice, request, true, { time: T0 + 25 * HOUR }),
      signVote(bob, other, true, { time: T0 + 1 }),
      forged,
      signEnvelope(carol, "fedhub/market-rating/v1", { marketplaceId: MARKET, requestId: joinRequestIdOf(request), approve: true }, T0),
    ], now)
    expect(r.counted).toEqual([])
    expect(r.refusedVotes).toHaveLength(5)
    const reasons = r.refusedVotes.map((x) => x.reason).join("\n")
    for (const re of [/after the deadline/, /another request/, /not a participant/, /SIGNATURE_INVALID/, /WRONG_PURPOSE/]) expect(reasons).toMatch(re)
  })

  it("refuses a forged join request and approves an existing participant at once", () => {
    const c = configFor("distributed")
    const forged = { ...request, payload: { ...request.payload, nodeId: bob.nodeId } }
    expect(decideJoin(c, members, {}, forged, [], now)).toMatchObject({ status: "refused", requestId: null })
    expect(decideJoin(c, [...members, dave.nodeId], {}, request, [], now).status).toBe("approved")
  })

  it("gives the same result for any permutation and duplication of the votes", () => {
    const stakes = { [alice.nodeId]: 500, [bob.nodeId]: 300, [carol.nodeId]: 250 }
    const pool = [
      signVote(alice, request, true, { time: T0 + 1 }),
      signVote(alice, request, false, { time: T0 + 3 }),
      signVote(bob, request, false, { time: T0 + 2 }),
      signVote(bob, request, true, { time: T0 + 2 }),
      signVote(carol, request, true, { time: T0 + 4 }),
      signVote(carol, request, false, { time: T0 + 25 * HOUR }),
      signVote(dave, request, true, { time: T0 + 1 }),
    ]
    for (const type of ["centralized", "distributed", "consortium", "proof_of_stake"] as const) {
      const c = configFor(type)
      fc.assert(
        fc.property(fc.subarray(pool), fc.infiniteStream(fc.nat()), fc.array(fc.nat({ max: pool.length - 1 }), { maxLength: 6 }), (subset, rnd, dupIdx) => {
          const expected = decideJoin(c, members, stakes, request, subset, now)
          const shuffled = [...subset, ...dupIdx.map((i) => pool[i]!).filter((v) => subset.includes(v))]
          const it = rnd[Symbol.iterator]()
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = it.next().value! % (i + 1)
            ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
          }
          expect(decideJoin(c, members, stakes, request, shuffled, now)).toEqual(expected)
        }),
        { numRuns: 60 },
      )
    }
  })
})
