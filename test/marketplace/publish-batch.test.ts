/**
 * The publish path (issue 13: 1M items in one call): the writer keeps what it wrote instead
 * of decoding it again and answers counts from `publishBatch`; what it stores must be
 * exactly what the old path stored (`encodeChunk` of each chunk's items, a manifest that
 * `verifyShard` accepts with the item digest), for any sequence of publishes, new versions
 * and licence moves. And the pieces it re-implements: one hash for shard and chunk, the
 * size bound, accepted items read through their chunks.
 */
import type { DocHandle, DocumentId } from "@automerge/automerge-repo"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import type { ItemInput } from "../../src/marketplace/CatalogService.ts"
import { checksumOf, jsonBytesAtMost } from "../../src/marketplace/items.ts"
import { str, type ShardDoc } from "../../src/marketplace/marketDocs.ts"
import { chunkHash, chunkIdFor, decodeChunk, encodeChunk, itemForms, placeOf, shardIdFor, signShardManifest, verifyChunks, verifyDecoded, verifyShard, type DecodedItem } from "../../src/marketplace/shard.ts"
import type { MarketItem } from "../../src/schema/index.ts"
import canonicalize from "canonicalize"
import { startTestHub } from "../helpers/hubs.ts"
import { alice, bob, MARKET } from "./fixtures.ts"

let h: RunningHub
let other: string
beforeAll(async () => {
  h = await startTestHub()
  other = bob.nodeId
})
afterAll(async () => {
  await h?.stop()
})

const word = fc.constantFrom("format", "lint", "review", "plan", "Zürich", "naïve", "日本", "a\"b", "x\\y", "tab\there")
const anInput = (ids: string[]) =>
  fc.record(
    {
      itemId: fc.constantFrom(...ids),
      type: fc.constantFrom("plugin", "persona", "dataset"),
      title: fc.array(word, { minLength: 1, maxLength: 3 }).map(w => w.join(" ")),
      description: fc.array(word, { maxLength: 4 }).map(w => w.join(" ")),
      tags: fc.uniqueArray(word, { maxLength: 3 }),
      licensed: fc.boolean(),
      price: fc.nat({ max: 10_000 }),
    },
    { requiredKeys: ["itemId", "type", "title", "price", "licensed"] },
  )

describe("publishing writes what the old path wrote", () => {
  it("for any sequence of publishes, new versions and licence moves: every shard's chunks are encodeChunk of its items, its manifest verifies fully, views and counts agree", async () => {
    let round = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.uniqueArray(anInput(Array.from({ length: 40 }, (_, i) => `it-${i}`)), { selector: i => i.itemId, minLength: 1, maxLength: 25 }),
          { minLength: 1, maxLength: 4 },
        ),
        async batches => {
          const market = await h.hub.market.create({ name: `m${round++}`, participants: [other] })
          const model = new Map<string, MarketItem>()
          for (const [k, batch] of batches.entries()) {
            const inputs: ItemInput[] = batch.map(b => ({
              itemId: b.itemId,
              type: b.type,
              title: b.title,
              ...(b.description === undefined ? {} : { description: b.description }),
              ...(b.tags === undefined ? {} : { tags: b.tags }),
              ...(b.licensed ? { allowedNodes: [other] } : {}),
              pricing: b.price === 0 ? { model: "free", price: 0, currency: "credits" } : { model: "one_time", price: b.price, currency: "credits" },
            })) as ItemInput[]
            // alternate the two answers: views, and counts
            if (k % 2 === 0) {
              const views = await h.hub.market.publish(market.url, inputs)
              expect(views.map(v => v.item.itemId)).toEqual(inputs.map(i => i.itemId))
              for (const v of views) expect(v.checksum).toBe(checksumOf(v.item))
            } else {
              const summary = await h.hub.market.publishBatch(market.url, inputs)
              expect(summary.published).toBe(inputs.length)
            }
            for (const i of inputs) {
              const held = model.get(i.itemId)
              model.set(i.itemId, { ...i, marketplaceId: market.documentId, originNodeId: h.hub.nodeId, version: (held?.version ?? 0) + 1 } as MarketItem)
            }
            // what each shard must hold, by the old path
            const expected = new Map<string, Map<string, MarketItem[]>>()
            for (const it of model.values()) {
              const s = expected.get(shardIdFor(it)) ?? expected.set(shardIdFor(it), new Map()).get(shardIdFor(it))!
              const c = chunkIdFor(it.itemId)
              s.set(c, [...(s.get(c) ?? []), it])
            }
            const shards = h.hub.market.catalog.shards(market.documentId)
            for (const s of shards) {
              const shardId = s.key.slice(s.key.indexOf("/") + 1)
              const handle = h.hub.repo.handles[s.documentId as DocumentId] as DocHandle<ShardDoc>
              const doc = handle.doc()
              const chunks: Record<string, string> = {}
              for (const [id, v] of Object.entries(doc.chunks ?? {})) chunks[id] = str(v)!
              const want = expected.get(shardId) ?? new Map<string, MarketItem[]>()
              expect(Object.keys(chunks).sort()).toEqual([...want.keys()].sort())
              for (const [c, items] of want) expect(chunks[c]).toBe(encodeChunk(items))
              const v = verifyShard(JSON.parse(str(doc.manifest)!), chunks, { marketplaceId: market.documentId, origin: h.hub.nodeId, shardId })
              expect(v.manifestProblem).toBeNull()
              expect(v.accepted.size).toBe(s.items)
              expect(s.problem).toBeNull()
            }
            // every item in exactly the shard the model says, at its version, nothing else
            expect(h.hub.market.catalog.count(market.documentId)).toBe(model.size)
            for (const it of model.values()) {
              const e = h.hub.market.catalog.entry(market.documentId, `${h.hub.nodeId}:${it.itemId}`)
              expect(e?.item).toEqual(it)
              expect(e?.shard).toBe(shardIdFor(it))
              expect(e?.checksum).toBe(checksumOf(it))
            }
            const page = await h.hub.market.catalogOf(market.url, { limit: 100 })
            expect(page.total).toBe(model.size)
            expect(page.items.map(i => `${i.itemId}@${i.version}`).sort()).toEqual([...model.values()].map(i => `${i.itemId}@${i.version}`).sort())
          }
        },
      ),
      { numRuns: 12 },
    )
  })

  it("refuses a batch with one bad item and writes nothing; publishBatch counts a big batch without views", async () => {
    const market = await h.hub.market.create({ name: "big", participants: [other] })
    const items = Array.from({ length: 3_000 }, (_, i) => ({ itemId: `b-${i}`, type: "plugin", title: `B ${i}`, pricing: { model: "free", price: 0, currency: "credits" } }) as ItemInput)
    const bad = [...items.slice(0, 10), { ...items[10]!, title: "" }]
    await expect(h.hub.market.publishBatch(market.url, bad)).rejects.toMatchObject({ code: "ITEM_INVALID" })
    expect(h.hub.market.catalog.count(market.documentId)).toBe(0)
    const summary = await h.hub.market.publishBatch(market.url, items)
    expect(summary).toMatchObject({ marketplace: market.url, published: 3_000 })
    expect(summary.shards.reduce((n, s) => n + s.items, 0)).toBe(3_000)
    expect(summary.shards.every(s => s.manifestSequence === 1)).toBe(true)
    await expect(h.hub.market.publishBatch(market.url, [items[0]!, { ...items[1]!, version: 1 }])).rejects.toMatchObject({ code: "VERSION_REPLAYED" })
    expect((await h.hub.market.catalogOf(market.url, { text: "b", limit: 1 })).total).toBe(3_000)
  })
})

describe("the pieces re-implemented", () => {
  it("placeOf gives shardIdFor and chunkIdFor from one hash, for any id and licence", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 130 }), fc.boolean(), (itemId, licensed) => {
        const item = { itemId, ...(licensed ? { allowedNodes: [alice.nodeId, bob.nodeId] } : {}) }
        expect(placeOf(item)).toEqual({ shard: shardIdFor(item), chunk: chunkIdFor(itemId) })
      }),
      { numRuns: 2_000 },
    )
  })

  it("itemForms refuses a string that is not well-formed UTF-16, as canonicalize does", () => {
    const item = { itemId: "x", type: "plugin", title: "bad \ud800 half", version: 1, marketplaceId: MARKET, originNodeId: bob.nodeId, pricing: { model: "free", price: 0, currency: "credits" } } as MarketItem
    expect(() => canonicalize(item)).toThrow()
    expect(() => itemForms(item)).toThrow()
  })

  it("jsonBytesAtMost bounds the UTF-8 bytes of RFC 8785 JSON, for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), v => {
        expect(jsonBytesAtMost(v)).toBeGreaterThanOrEqual(Buffer.byteLength(canonicalize(v)!))
      }),
      { numRuns: 2_000 },
    )
  })

  it("verifyChunks (items read through their chunks) accepts and rejects as verifyDecoded over one flat map, for any tampering", () => {
    const items = Array.from({ length: 60 }, (_, i) => ({ itemId: `v-${i}`, type: "plugin", title: `V ${i}`, version: 1, marketplaceId: MARKET, originNodeId: bob.nodeId, pricing: { model: "free", price: 0, currency: "credits" } }) as MarketItem)
    const texts: Record<string, string> = {}
    const byChunk = new Map<string, MarketItem[]>()
    for (const it of items) byChunk.set(chunkIdFor(it.itemId), [...(byChunk.get(chunkIdFor(it.itemId)) ?? []), it])
    for (const [c, its] of byChunk) texts[c] = encodeChunk(its)
    const ctx = { marketplaceId: MARKET, origin: bob.nodeId, shardId: "s00" }
    const good = verifyShard(undefined, {}, ctx)
    expect(good.manifestProblem).toBeNull()
    fc.assert(
      fc.property(fc.option(fc.constantFrom(...Object.keys(texts))), fc.constantFrom("drop", "price", "move"), (victim, how) => {
        const t = { ...texts }
        if (victim !== null) {
          if (how === "drop") delete t[victim]
          else if (how === "price") t[victim] = t[victim]!.replace('"price":0', '"price":1')
          else t[victim === "c000" ? "c001" : "c000"] = t[victim]!
        }
        const chunks = new Map(Object.entries(t).map(([c, s]) => [c, decodeChunk(s, c, MARKET, bob.nodeId)] as const))
        const flat = new Map<string, DecodedItem>()
        for (const c of chunks.values()) for (const [k, d] of c) flat.set(k, d)
        const hashes = Object.entries(t).map(([c, s]) => [c, chunkHash(s)] as const)
        const manifest = JSON.parse(JSON.stringify(signedOver(texts))) as unknown
        const a = verifyChunks(manifest, chunks, hashes, ctx, { items: true })
        const b = verifyDecoded(manifest, flat, hashes, ctx, { items: true })
        expect(a.manifestProblem).toBe(b.manifestProblem)
        expect([...a.accepted.keys()].sort()).toEqual([...b.accepted.keys()].sort())
        for (const k of a.accepted.keys()) expect(a.accepted.get(k)?.item).toEqual(b.accepted.get(k)?.item)
        // the same items rejected (a copied chunk holds an item twice: the flat map keeps one of them, the chunks list both)
        expect(new Set(a.rejected.map(r => r.globalId))).toEqual(new Set(b.rejected.map(r => r.globalId)))
        expect(a.accepted.size).toBe(victim === null ? items.length : 0)
      }),
      { numRuns: 200 },
    )
  })
})

/** Bob's manifest over `texts` (the shard "s00" of MARKET). */
function signedOver(texts: Record<string, string>) {
  const lines = Object.entries(texts).flatMap(([c, s]) =>
    [...decodeChunk(s, c, MARKET, bob.nodeId)].map(([itemId, d]) => ({ itemId, version: d.ok ? d.item.version : 0, checksum: d.ok ? d.checksum : "" })),
  )
  return signShardManifest(bob, MARKET, "s00", 1, lines, Object.entries(texts).map(([c, s]) => [c, chunkHash(s)] as const))
}
