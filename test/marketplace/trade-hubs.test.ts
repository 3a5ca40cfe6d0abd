/**
 * Credits, purchases, disputes, stakes and metadata conflicts across real hubs (issue 13,
 * parts 2, 7, 8, 9): every hub folds the same signed records into the same ledger.
 */
import { cp } from "node:fs/promises"
import { afterEach, describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import type { ItemInput } from "../../src/marketplace/CatalogService.ts"
import { nextPolicy } from "../../src/replication/access/policy.ts"
import { hubPool, tempDir } from "../helpers/hubs.ts"
import { link, until } from "../helpers/market.ts"

const pool = hubPool()
const hub = pool.start
afterEach(pool.cleanup)

const item = (itemId: string, price: number): ItemInput => ({
  itemId,
  type: "plugin",
  title: `Plugin ${itemId}`,
  pricing: { model: "one_time", price, currency: "credits" },
})

/** A owns a private marketplace with B and C; B and C linked to A only; everyone holds it. */
async function setup(config: (a: RunningHub) => Record<string, unknown> = () => ({})) {
  const [a, b, c] = [await hub(), await hub(), await hub()]
  for (const h of [b, c]) await link(h, a)
  const market = await a.hub.market.create({ name: "Shop", visibility: "private", participants: [b.hub.nodeId, c.hub.nodeId], config: config(a) })
  for (const h of [b, c]) await until(h, () => h.hub.market.show(market.url).catch(() => undefined), v => v !== undefined, "the participant holds the marketplace")
  return { a, b, c, market }
}

describe("trading across hubs", () => {
  it("grants credits, buys with an exact split, refuses an overdraft, refunds by an arbitrator's vote; every hub shows the same ledger", async () => {
    // community: the participants vote on disputes, never the buyer or the seller (here: A alone)
    const { a, b, c, market } = await setup(() => ({ federation: { disputeResolution: { mechanism: "community", arbitrators: [], timeoutDays: 30, defaultOutcome: "pay_seller" } } }))
    await expect(b.hub.market.grant(market.url, b.hub.nodeId, 1_000_000)).rejects.toMatchObject({ code: "FORBIDDEN" })
    expect(await a.hub.market.grant(market.url, c.hub.nodeId, 1000, "welcome")).toMatchObject({ amount: 1000, balance: 1000 })
    const [tool] = await b.hub.market.publish(market.url, [item("tool", 700), item("big", 600)])
    await until(c, () => c.hub.market.ledger(market.url), l => l.balances[c.hub.nodeId] === 1000, "C holds its grant")
    await until(c, () => c.hub.market.catalogOf(market.url), v => v.total === 2, "C holds the items")

    const bought = await c.hub.market.buy(market.url, tool!.globalId)
    expect(bought.balance).toBe(300)
    // the default fees: 5% transaction, 2% cross-node, the rest 70/20/10
    await expect(c.hub.market.buy(market.url, `${b.hub.nodeId}:big`)).rejects.toMatchObject({ code: "INSUFFICIENT_FUNDS" })
    for (const h of [a, b, c]) {
      const l = await until(h, () => h.hub.market.ledger(market.url), v => v.applied.length === 1, "the purchase reaches the hub")
      const split = l.applied[0]!.split
      expect(split.creator + split.marketplace + split.network).toBe(700)
      expect(l.balances).toMatchObject({ [c.hub.nodeId]: 300, [b.hub.nodeId]: split.creator })
      expect(Object.values(l.balances).reduce((x, y) => x + y, 0)).toBe(l.minted)
    }

    // C disputes; B (the seller) may not vote; A, the one eligible participant, refunds
    const opened = await c.hub.market.dispute(market.url, bought.purchaseId, "does not start")
    expect(opened).toMatchObject({ status: "open", buyer: c.hub.nodeId })
    const onA = await until(a, () => a.hub.market.ledger(market.url), l => l.disputes.length === 1, "the dispute reaches A")
    const disputeId = onA.disputes[0]!.disputeId!
    await until(b, () => b.hub.market.ledger(market.url), l => l.disputes.length === 1, "the dispute reaches B")
    await expect(b.hub.market.disputeVote(market.url, disputeId, "pay_seller")).rejects.toMatchObject({ code: "DISPUTE_VOTE_INVALID" })
    expect(await a.hub.market.disputeVote(market.url, disputeId, "refund_buyer", "confirmed")).toMatchObject({ status: "resolved", outcome: "refund_buyer" })
    for (const h of [a, b, c]) {
      const l = await until(h, () => h.hub.market.ledger(market.url), v => v.refunds.length === 1, "the refund reaches the hub")
      expect(l.balances[c.hub.nodeId]).toBe(1000)
      expect(Object.values(l.balances).reduce((x, y) => x + y, 0)).toBe(1000)
    }
  })

  it("proof of stake: stakes are ledger balances, so A's granted stake decides B's join", async () => {
    const [a, b] = [await hub(), await hub()]
    await link(b, a)
    const market = await a.hub.market.create({ name: "Staked" }) // the seed's default: proof_of_stake, minimumStake 100
    const before = await b.hub.market.join(market.url, { owner: a.hub.nodeId })
    const pending = await until(a, () => a.hub.market.show(market.url), v => v.requests.length === 1, "A records the request")
    // nobody holds the minimum stake yet: no vote could count, and the request waits (it is not refused)
    expect(pending.requests[0]!.result).toMatchObject({ status: "pending", tally: { eligible: 0 } })
    expect(b.hub.market.list().joining[0]?.status).toBe("pending")
    await a.hub.market.grant(market.url, a.hub.nodeId, 500)
    const staked = await a.hub.market.vote(market.url, { requester: b.hub.nodeId, approve: true })
    expect(staked.result).toMatchObject({ status: "approved" })
    await until(b, () => b.hub.market.list().joining[0]?.status, st => st === "approved", "B is told it was approved")
    expect(staked.result).toMatchObject({ requestId: before.requestId, success: true })
  })

  it("two admins edit the name while apart: both kept, shown as a conflict on every hub, resolved by choosing one", async () => {
    const { a, c, market } = await setup()
    // C becomes an admin of the marketplace (an owner-signed policy version)
    await a.hub.policies.add(market.documentId, [nextPolicy(a.hub.identity, a.hub.policies.state(market.documentId)!, { add: { admins: [c.hub.nodeId] } })])
    // the new policy reaches C at once, with no change to the document
    await until(c, () => c.hub.policies.effective(market.documentId)?.admins ?? [], l => l.includes(c.hub.nodeId), "C is an admin")
    await a.hub.market.edit(market.url, "name", "Shop")
    await until(c, () => c.hub.market.conflicts(market.url), v => v.values.name === "Shop", "C holds A's first edit")
    expect(c.hub.hangUp(a.url)).toBe(true)
    await a.hub.market.edit(market.url, "name", "Shop A")
    await c.hub.market.edit(market.url, "name", "Shop C")
    await c.hub.market.edit(market.url, "tagline", "tools for all")
    await link(c, a)
    for (const h of [a, c]) {
      const v = await until(h, () => h.hub.market.conflicts(market.url), x => x.conflicts.length === 1 && x.values.tagline !== undefined, "both edits reach the hub")
      expect(v.conflicts[0]!.field).toBe("name")
      expect(v.conflicts[0]!.values.map(x => x.value).sort()).toEqual(["Shop A", "Shop C"])
      expect(v.conflicts[0]!.values.map(x => x.by).sort()).toEqual([a.hub.nodeId, c.hub.nodeId].sort())
    }
    await expect(c.hub.market.edit(market.url, "name", "Shop Z", { resolve: true })).rejects.toMatchObject({ code: "METADATA_EDIT_INVALID" })
    await c.hub.market.edit(market.url, "name", "Shop A", { resolve: true })
    for (const h of [a, c]) {
      const v = await until(h, () => h.hub.market.conflicts(market.url), x => x.conflicts.length === 0, "the resolution reaches the hub")
      expect(v.values).toMatchObject({ name: "Shop A", tagline: "tools for all" })
    }
  })
  it("a buyer that spends the same credits on two partitioned hubs is reported as equivocating on every hub once they reconnect, and neither purchase moves credits", async () => {
    const { a, b, c, market } = await setup()
    await a.hub.market.grant(market.url, c.hub.nodeId, 1000)
    await b.hub.market.publish(market.url, [item("left", 700), item("right", 600)])
    await until(c, () => c.hub.market.ledger(market.url), l => l.balances[c.hub.nodeId] === 1000, "C holds its grant")
    await until(c, () => c.hub.market.catalogOf(market.url), v => v.total === 2, "C holds the items")
    // C's identity and documents now run on two hubs (a restored backup, a second machine)
    await pool.stop(c)
    const twinHome = await tempDir()
    await cp(c.paths.home, twinHome, { recursive: true })
    // partition {A, C} | {B, C'}
    expect(b.hub.hangUp(a.url)).toBe(true)
    const [c1, c2] = [await hub(c.paths.home), await hub(twinHome)]
    expect(c2.hub.nodeId).toBe(c1.hub.nodeId)
    await link(c1, a)
    await link(c2, b)
    // each side sees a balance that covers its own purchase: both are sequence 1
    const left = await c1.hub.market.buy(market.url, `${b.hub.nodeId}:left`)
    const right = await c2.hub.market.buy(market.url, `${b.hub.nodeId}:right`)
    expect([left.balance, right.balance]).toEqual([300, 400])
    await until(a, () => a.hub.market.ledger(market.url), l => l.applied.length === 1, "A applies the purchase it saw")

    await link(b, a)
    for (const h of [a, b, c1, c2]) {
      const l = await until(h, () => h.hub.market.ledger(market.url), v => v.equivocations.length === 1, "both purchases reach the hub")
      expect(l.equivocations[0]).toMatchObject({ buyer: c.hub.nodeId, sequence: 1 })
      expect(new Set(l.equivocations[0]!.records.map(r => r.payload.itemGlobalId))).toEqual(new Set([`${b.hub.nodeId}:left`, `${b.hub.nodeId}:right`]))
      expect(l.applied).toEqual([])
      expect(l.balances[c.hub.nodeId]).toBe(1000)
      expect(Object.values(l.balances).reduce((x, y) => x + y, 0)).toBe(l.minted)
    }
    // the buyer goes on from the merged history: its next purchase takes the next sequence number and counts
    await expect(c1.hub.market.buy(market.url, `${b.hub.nodeId}:left`)).resolves.toMatchObject({ balance: 300 })
  })
})
