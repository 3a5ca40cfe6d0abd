/**
 * Marketplaces across real hubs (issue 13, join with approval): a private marketplace on
 * hub A, a join request from B that reaches A in a document of B's own, signed votes by
 * the participants A and C, and access that follows the outcome on every hub.
 */
import { afterEach, describe, expect, it } from "vitest"
import { canonicalJson } from "../../src/identity/index.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import type { MarketView } from "../../src/marketplace/MarketplaceService.ts"
import { signVote } from "../../src/marketplace/votes.ts"
import { openSigned, MARKET_PURPOSE } from "../../src/marketplace/signed.ts"
import { hubPool, waitForDoc } from "../helpers/hubs.ts"
import { link, until } from "../helpers/market.ts"

const pool = hubPool()
const hub = pool.start
afterEach(pool.cleanup)

const distributed = { federation: { governanceModel: "distributed", consensusMechanism: { type: "distributed", parameters: { minimumStake: 0, votingPower: "one_node_one_vote", voteDeadlineHours: 24 } } } }

/** A, B, C and D, every one linked to A; A creates a private marketplace with C as a participant, C holds it. */
async function setup() {
  const [a, b, c, d] = [await hub(), await hub(), await hub(), await hub()]
  for (const h of [b, c, d]) await link(h, a)
  const market = await a.hub.market.create({ name: "Plugins", visibility: "private", participants: [c.hub.nodeId], config: distributed })
  await waitForDoc(await c.hub.docs.find(market.url), doc => (doc as { kind?: unknown }).kind !== undefined)
  return { a, b, c, d, market }
}

const requestOf = (view: MarketView, requester: string) => view.requests.find(r => r.requester === requester)

describe("marketplaces across hubs", () => {
  it("admits B by the signed votes of A and C; B then reads the marketplace, D never gets it", async () => {
    const { a, b, c, d, market } = await setup()
    expect(market).toMatchObject({ owner: a.hub.nodeId, role: "owner", visibility: "private", participants: 2 })
    expect(market.policy.readers).toEqual([c.hub.nodeId])

    const asked = await b.hub.market.join(market.url, { owner: a.hub.nodeId, message: "we publish personas" })
    expect(asked).toMatchObject({ marketplace: market.url, status: "pending" })
    expect(b.hub.market.list().joining).toEqual([asked])
    // the request reaches A in B's own document, and A records it for the participants
    const onA = await until(a, () => a.hub.market.show(market.url), v => requestOf(v, b.hub.nodeId) !== undefined, "A records B's request")
    expect(requestOf(onA, b.hub.nodeId)).toMatchObject({ requestId: asked.requestId, message: "we publish personas", result: { status: "pending", tally: { eligible: 2 } } })
    await until(c, () => c.hub.market.show(market.url), v => requestOf(v, b.hub.nodeId) !== undefined, "C sees B's request")

    // a vote by a non-participant: B cannot even read the marketplace, D neither
    await expect(b.hub.market.vote(market.url, { requester: b.hub.nodeId, approve: true })).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    await expect(d.hub.market.vote(market.url, { requester: b.hub.nodeId, approve: true })).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    // and D's signed vote, written into the document by a participant, is shown refused and not counted
    const stored = (await a.hub.docs.show(market.url)).content as { requests: Record<string, string> }
    const request = openSigned(JSON.parse(stored.requests[b.hub.nodeId]!), MARKET_PURPOSE.joinRequest, "marketplace#JoinRequest", "nodeId")
    if (!request.ok) throw new Error(request.reason)
    const forged = signVote(d.hub.identity, request.env, true)
    await a.hub.docs.put(market.url, ["votes", `${request.id}:${d.hub.nodeId}`], canonicalJson(forged))

    const first = await a.hub.market.vote(market.url, { requester: b.hub.nodeId, approve: true })
    expect(first.result).toMatchObject({ status: "pending", tally: { yes: 1, eligible: 2 } })
    expect(first.result.refusedVotes).toEqual([expect.objectContaining({ voter: d.hub.nodeId, reason: "the voter is not a participant" })])
    expect(a.hub.policies.effective(market.documentId)?.readers).not.toContain(b.hub.nodeId)

    await c.hub.market.vote(market.url, { requester: b.hub.nodeId, approve: true, reason: "good catalog" })
    // C's vote syncs to A, whose hub decides and widens the policy
    const admitted = await until(a, () => a.hub.market.show(market.url), v => v.participants === 3, "A admits B")
    expect(admitted.participantList.map(p => p.nodeId).sort()).toEqual([a.hub.nodeId, b.hub.nodeId, c.hub.nodeId].sort())
    expect(admitted.policy.readers).toContain(b.hub.nodeId)
    expect(admitted.policy.writers).toContain(b.hub.nodeId)
    expect(requestOf(admitted, b.hub.nodeId)?.result).toMatchObject({ status: "approved", success: true })

    // B now syncs the marketplace and is told in its request document
    // (B asked for it once before, and was answered "unavailable": the pushed document still arrives)
    const onB = await until(b, () => b.hub.docs.find(market.url).catch(() => undefined), h => h !== undefined, "B holds the marketplace")
    await waitForDoc(onB!, doc => Object.keys((doc as { participants?: object }).participants ?? {}).includes(b.hub.nodeId))
    expect(await b.hub.market.show(market.url)).toMatchObject({ role: "participant", participants: 3 })
    await until(b, () => b.hub.market.list().joining[0]?.status, s => s === "approved", "B is told it was approved")

    // D, never admitted, gets nothing, even asking by document id
    await expect(d.hub.docs.find(market.documentId)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    await expect(d.hub.market.show(market.documentId)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    expect(d.hub.market.list().marketplaces).toEqual([])
  })

  it("a refused request leaves B with nothing", async () => {
    const { a, b, c, market } = await setup()
    await b.hub.market.join(market.url, { owner: a.hub.nodeId })
    await until(c, () => c.hub.market.show(market.url), v => requestOf(v, b.hub.nodeId) !== undefined, "C sees B's request")
    await c.hub.market.vote(market.url, { requester: b.hub.nodeId, approve: false, reason: "no" })
    // one no of two eligible votes already decides: more than half can no longer approve
    const onA = await until(a, () => a.hub.market.show(market.url), v => requestOf(v, b.hub.nodeId)?.result.status === "refused", "A decides")
    expect(requestOf(onA, b.hub.nodeId)?.result).toMatchObject({ tally: { yes: 0, no: 1 }, reason: expect.stringMatching(/can no longer be reached/) })
    await until(b, () => b.hub.market.list().joining[0]?.status, s => s === "refused", "B is told it was refused")
    // a later vote changes nothing
    await a.hub.market.vote(market.url, { requester: b.hub.nodeId, approve: true })
    expect(onA.participants).toBe(2)
    expect(a.hub.policies.effective(market.documentId)?.readers).toEqual([c.hub.nodeId])
    await expect(b.hub.docs.find(market.documentId)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    expect(b.hub.market.list().marketplaces).toEqual([])
  })

  it("a bad config gets one error listing every problem; a public marketplace is readable by every hub", async () => {
    const a = await hub()
    const b = await hub()
    await link(b, a)
    await expect(
      a.hub.market.create({ name: "Bad", config: { economics: { revenueSharing: { creator: 90, marketplace: 20, network: 10 }, feeStructure: { listingFee: 0, transactionFeePercentage: 90, crossNodeFeePercentage: 20 } } } }),
    ).rejects.toMatchObject({ code: "MARKETPLACE_CONFIG_INVALID", extra: { problems: [expect.stringMatching(/revenueSharing/), expect.stringMatching(/feeStructure/)] } })
    const open = await a.hub.market.create({ name: "Open", visibility: "public" })
    expect(open.policy.readers).toEqual(["public"])
    await waitForDoc(await b.hub.docs.find(open.url), doc => (doc as { kind?: unknown }).kind !== undefined)
    // a reader that is not a participant may not vote
    const shown = await b.hub.market.show(open.url)
    expect(shown).toMatchObject({ role: "reader", participants: 1, name: "Open" })
    await expect(b.hub.market.vote(open.url, { requester: a.hub.nodeId, approve: true })).rejects.toMatchObject({ code: "NOT_A_PARTICIPANT" })
  })
})
