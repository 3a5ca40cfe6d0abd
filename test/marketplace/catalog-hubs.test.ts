/**
 * The catalog across real hubs (issue 13, parts 3, 4, 6, 7, 11): B publishes in its own
 * shard documents, C (linked only to A) verifies, searches, rates and buys, every hub
 * shows the same catalog, ratings and sales, a relay cannot alter an item, and D, never
 * admitted, gets no shard even asking by id.
 */
import * as A from "@automerge/automerge"
import type { DocHandle, DocumentId } from "@automerge/automerge-repo"
import { afterEach, describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import type { ItemInput } from "../../src/marketplace/CatalogService.ts"
import type { ShardDoc } from "../../src/marketplace/marketDocs.ts"
import { chunkIdFor, encodeChunk } from "../../src/marketplace/shard.ts"
import { hubPool, waitForDoc } from "../helpers/hubs.ts"
import { link, until } from "../helpers/market.ts"

const pool = hubPool()
const hub = pool.start
afterEach(pool.cleanup)

/** Re-checks `fn` until `ok` accepts it: at once, then whenever `h` syncs, its marketplace service records something, or a policy changes. */
const plugin = (itemId: string, extra: Partial<ItemInput> = {}): ItemInput => ({
  itemId,
  type: "plugin",
  title: `Plugin ${itemId}`,
  description: "Formats code",
  category: "tools",
  tags: ["dev"],
  license: "MIT",
  pricing: { model: "free", price: 0, currency: "credits" },
  ...extra,
})
const config = { catalog: { categories: [{ id: "tools", name: "Tools" }, { id: "people", name: "Personas" }] } }

/** A, B, C, D, each of B, C, D linked to A only; A's private marketplace has B and C as participants. */
async function setup() {
  const [a, b, c, d] = [await hub(), await hub(), await hub(), await hub()]
  for (const h of [b, c, d]) await link(h, a)
  const market = await a.hub.market.create({ name: "Plugins", visibility: "private", participants: [b.hub.nodeId, c.hub.nodeId], config })
  for (const h of [b, c]) await until(h, () => h.hub.market.show(market.url).catch(() => undefined), v => v !== undefined, "the participant holds the marketplace")
  return { a, b, c, d, market }
}

const total = (h: RunningHub, url: string) => h.hub.market.catalogOf(url).then(v => v.total)

describe("the catalog across hubs", () => {
  it("B publishes; C, through A, verifies, searches, rates and buys; every hub agrees; D gets no shard", async () => {
    const { a, b, c, d, market } = await setup()
    const published = await b.hub.market.publish(market.url, [
      plugin("fmt"),
      plugin("lint", { title: "Linter", tags: ["dev", "quality"], pricing: { model: "one_time", price: 1250, currency: "USD" } }),
      { itemId: "ada", type: "persona", title: "Ada, reviewer", description: "Reviews pull requests", category: "people", license: "MIT", pricing: { model: "free", price: 0, currency: "credits" } },
    ])
    expect(published.map(p => p.globalId)).toEqual([`${b.hub.nodeId}:fmt`, `${b.hub.nodeId}:lint`, `${b.hub.nodeId}:ada`])
    expect(published[0]).toMatchObject({ item: { version: 1, originNodeId: b.hub.nodeId, marketplaceId: market.documentId }, checksum: expect.stringMatching(/^[0-9a-f]{64}$/) })

    for (const h of [a, c]) await until(h, () => total(h, market.url), n => n === 3, "the catalog reaches the hub")
    const onC = await c.hub.market.catalogOf(market.url)
    expect(onC.rejected).toEqual([])
    expect(onC.shards.every(s => s.owner === b.hub.nodeId && s.problem === null)).toBe(true)

    // search by text, category, origin, price; paging
    expect((await c.hub.market.catalogOf(market.url, { text: "review" })).items.map(i => i.itemId)).toEqual(["ada"])
    expect((await c.hub.market.catalogOf(market.url, { category: "tools" })).total).toBe(2)
    expect((await c.hub.market.catalogOf(market.url, { origin: a.hub.nodeId })).total).toBe(0)
    expect((await c.hub.market.catalogOf(market.url, { minPrice: 1 })).items.map(i => i.itemId)).toEqual(["lint"])
    expect((await c.hub.market.catalogOf(market.url, { limit: 2, offset: 2 })).items).toHaveLength(1)

    // C rates and buys; A and B show the same ratings and sales
    const fmt = `${b.hub.nodeId}:fmt`
    await c.hub.market.rate(market.url, fmt, 4.5, "works")
    await expect(c.hub.market.rate(market.url, fmt, 7)).rejects.toMatchObject({ code: "RATING_INVALID" })
    await expect(c.hub.market.rate(market.url, fmt, 3.25)).rejects.toMatchObject({ code: "RATING_INVALID" })
    const bought = await c.hub.market.buy(market.url, fmt)
    expect(bought).toMatchObject({ repeated: false })
    expect(await c.hub.market.buy(market.url, fmt)).toMatchObject({ repeated: true, purchaseId: bought.purchaseId })
    await c.hub.market.buy(market.url, `${b.hub.nodeId}:lint`, { paymentMethod: "stripe", externalReference: "pi_123" })
    for (const h of [a, b, c]) {
      const item = await until(h, () => h.hub.market.item(market.url, fmt), v => v.ratings.ratingCount === 1 && v.sales === 1, "the rating and the sale reach the hub")
      expect(item.ratings.overallRating).toBe(4.5)
      const ledger = await until(h, () => h.hub.market.ledger(market.url), l => l.external.length === 1, "the external purchase reaches the hub")
      expect(ledger.external[0]!.purchase.payload).toMatchObject({ paymentMethod: "stripe", externalReference: "pi_123", price: 1250, currency: "USD" })
    }

    // only the origin may change an item; B's update is a new version everywhere
    await expect(c.hub.market.update(market.url, "fmt", { title: "Mine" })).rejects.toMatchObject({ code: "NOT_ORIGIN" })
    await b.hub.market.update(market.url, "fmt", { title: "Formatter" })
    await until(c, () => c.hub.market.item(market.url, fmt), v => v.item.version === 2 && v.item.title === "Formatter", "the new version reaches C")
    await b.hub.market.withdraw(market.url, "ada")
    await until(a, () => total(a, market.url), n => n === 2, "the withdrawal reaches A")

    // D, never admitted, gets no shard nor activity document, even asking by id
    const ids = (await a.hub.market.catalogOf(market.url)).shards.map(s => s.documentId)
    expect(ids.length).toBeGreaterThan(0)
    for (const id of ids) await expect(d.hub.docs.find(id)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    expect(d.hub.repo.handles[ids[0] as DocumentId]?.isReady() ?? false).toBe(false)
  })

  it("a price altered by a relaying hub is refused on the next hub and listed with the relay; an unsigned item is excluded", async () => {
    const { a, b, c, market } = await setup()
    const [fmt] = await b.hub.market.publish(market.url, [plugin("fmt", { pricing: { model: "one_time", price: 900, currency: "USD" } })])
    await until(c, () => total(c, market.url), n => n === 1, "C holds the item")
    const shardId = (await a.hub.market.catalogOf(market.url)).shards[0]!.documentId
    // A, a participant but not a writer of B's shard, writes straight into its replica
    const onA = a.hub.repo.handles[shardId as DocumentId] as DocHandle<ShardDoc>
    const tampered = { ...fmt!.item, pricing: { model: "one_time" as const, price: 1, currency: "USD" } }
    onA.change(d => void (d.chunks[chunkIdFor("fmt")] = new A.ImmutableString(encodeChunk([tampered]))))
    const rejected = await until(c, () => c.hub.market.catalogOf(market.url).then(v => v.rejected), r => r.length > 0, "C refuses A's change")
    expect(rejected[0]).toMatchObject({ via: a.hub.nodeId, reason: expect.stringMatching(/unbound-actor|NOT_A_WRITER/) })
    expect((await c.hub.market.item(market.url, fmt!.globalId)).item.pricing.price).toBe(900)
    // a pointer a participant forged under B's key, to a document A owns, never counts as B's shard
    const own = await a.hub.docs.create({ kind: "fedhub/market-shard/v1" })
    await a.hub.docs.put(market.url, ["catalog", `${b.hub.nodeId}/s99`], own.documentId)
    const forged = await until(c, () => c.hub.market.catalogOf(market.url).then(v => v.rejected), r => r.some(x => /s99/.test(x.reason)), "C refuses the forged pointer")
    expect(forged.find(x => /s99/.test(x.reason))!.reason).toMatch(new RegExp(`owned by ${a.hub.nodeId}, not ${b.hub.nodeId}|not available to this hub`))
    expect((await c.hub.market.catalogOf(market.url)).shards.map(s => s.key)).not.toContain(`${b.hub.nodeId}/s99`)
    // on A itself the shard no longer matches B's manifest: nothing of it is shown, everything listed
    const onAView = await a.hub.market.catalogOf(market.url)
    expect(onAView.total).toBe(0)
    expect(onAView.rejected).toEqual(expect.arrayContaining([expect.objectContaining({ globalId: fmt!.globalId, reason: expect.stringMatching(/not covered by the origin's manifest/) })]))
  })

  it("publishing and rating offline reconcile when the hubs meet again", async () => {
    const { a, b, c, market } = await setup()
    await b.hub.market.publish(market.url, [plugin("one")])
    await until(c, () => total(c, market.url), n => n === 1, "C holds the first item")
    expect(b.hub.hangUp(a.url)).toBe(true)
    expect(c.hub.hangUp(a.url)).toBe(true)
    // apart: B publishes two more, C rates the one it holds
    await b.hub.market.publish(market.url, [plugin("two"), plugin("three")])
    await c.hub.market.rate(market.url, `${b.hub.nodeId}:one`, 5)
    expect(await total(a, market.url)).toBe(1)
    await link(b, a)
    await link(c, a)
    for (const h of [a, b, c]) {
      await until(h, () => total(h, market.url), n => n === 3, "every item reaches every hub")
      await until(h, () => h.hub.market.item(market.url, `${b.hub.nodeId}:one`), v => v.ratings.ratingCount === 1, "C's rating reaches every hub")
    }
  })

  it("refuses a bad item with every failure listed and writes nothing; holds items back until a curator approves", async () => {
    const a = await hub()
    const b = await hub()
    await link(b, a)
    const market = await a.hub.market.create({
      name: "Curated",
      visibility: "private",
      participants: [b.hub.nodeId],
      config: { ...config, catalog: { ...config.catalog, curationPolicy: { requiresApproval: true, qualityThresholdHalfStars: 6, moderationLevel: "curators", curators: [] } }, quality: { qualityStandards: { requiredFields: ["description"], allowedLicenses: ["MIT"], maxSizeBytes: 5_000, bannedPatterns: ["eval\\("] } } },
    })
    await until(b, () => b.hub.market.show(market.url).catch(() => undefined), v => v !== undefined, "B holds the marketplace")
    const err = await b.hub.market.publish(market.url, [plugin("bad", { license: "GPL-3.0", description: "calls eval(x)", category: "nope" }), plugin("ok")]).catch(e => e)
    expect(err).toMatchObject({ code: "ITEM_INVALID" })
    expect(err.extra.failures).toEqual(expect.arrayContaining([expect.stringMatching(/license "GPL-3.0"/), expect.stringMatching(/banned pattern/), expect.stringMatching(/category "nope"/)]))
    expect((await b.hub.market.catalogOf(market.url)).shards).toEqual([])
    await expect(b.hub.market.publish(market.url, [{ ...plugin("x"), type: "virus" } as unknown as ItemInput])).rejects.toMatchObject({ code: "ITEM_INVALID" })

    const [ok] = await b.hub.market.publish(market.url, [plugin("ok")])
    await expect(b.hub.market.publish(market.url, [plugin("ok", { version: 1 })])).rejects.toMatchObject({ code: "VERSION_REPLAYED" })
    const held = await until(a, () => a.hub.market.catalogOf(market.url), v => v.pending.length === 1, "A sees the item pending")
    expect(held.total).toBe(0)
    await expect(b.hub.market.approve(market.url, ok!.globalId)).rejects.toMatchObject({ code: "FORBIDDEN" })
    await a.hub.market.approve(market.url, ok!.globalId)
    await until(b, () => total(b, market.url), n => n === 1, "the approval reaches B")
    await waitForDoc(b.hub.repo.handles[market.documentId as DocumentId]!, () => true)
  })
})
