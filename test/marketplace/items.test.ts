import { describe, expect, it } from "vitest"
import { contentId, signEnvelope } from "../../src/identity/index.ts"
import { createMarketplaceConfig } from "../../src/marketplace/config.ts"
import { acceptVersion, assertValidItem, checksumOf, globalIdOf, itemGlobalId, signItem, validateItem } from "../../src/marketplace/items.ts"
import { chunkHash, chunkIdFor, encodeChunk, shardIdFor, signShardManifest, verifyShard } from "../../src/marketplace/shard.ts"
import type { MarketItem } from "../../src/schema/index.ts"
import { errorOf } from "../helpers/errors.ts"
import { alice, bob, MARKET, T0 } from "./fixtures.ts"

const item = (itemId: string, version = 1, extra: Partial<MarketItem> = {}): MarketItem => ({
  marketplaceId: MARKET,
  itemId,
  originNodeId: bob.nodeId,
  version,
  type: "plugin",
  title: `Plugin ${itemId}`,
  description: "Does things",
  license: "MIT",
  tags: ["tools"],
  pricing: { model: "one_time", price: 500, currency: "credits" },
  ...extra,
})
const config = createMarketplaceConfig(
  {
    name: "M",
    creator: alice.nodeId,
    catalog: { categories: [{ id: "tools", name: "Tools" }] },
    quality: { qualityStandards: { requiredFields: ["description", "category"], allowedLicenses: ["MIT", "Apache-2.0"], maxSizeBytes: 2_000, bannedPatterns: ["eval\\(", "crypto ?miner"] } },
  },
  T0,
)

describe("item ids and checksums", () => {
  it("globalId is originNodeId:itemId and the checksum is sha256 of canonical content", () => {
    const it = item("p1")
    expect(itemGlobalId(it)).toBe(globalIdOf(bob.nodeId, "p1"))
    expect(itemGlobalId(it)).toBe(`${bob.nodeId}:p1`)
    expect(checksumOf(it)).toBe(contentId(it))
    expect(checksumOf({ ...it, pricing: { ...it.pricing, price: 1 } })).not.toBe(checksumOf(it))
  })

  it("only the origin signs its item", () => {
    expect(errorOf(() => signItem(alice, item("p1"))).code).toBe("NOT_ORIGIN")
  })
})

describe("validateItem", () => {
  it("accepts an item that meets the rules", () => {
    expect(validateItem(config, item("ok", 1, { category: "tools" }), MARKET)).toEqual({ ok: true, failures: [] })
  })

  it("lists every schema failure first, without running the rules", () => {
    const r = validateItem(config, { ...item("bad id!"), version: 0, type: "virus", pricing: { model: "one_time", price: 1.5, currency: "credits" } })
    expect(r.ok).toBe(false)
    expect(r.failures.length).toBeGreaterThanOrEqual(4)
    expect(r.failures.every((f) => f.startsWith("schema: "))).toBe(true)
  })

  it("lists every quality failure: required fields, license, size, banned patterns, category", () => {
    const r = validateItem(config, item("q", 1, { description: "a crypto miner, calls eval(x)", license: "GPL-3.0", category: "nope", tags: ["x".repeat(60)], restrictions: Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(150, "x")) }), MARKET)
    const text = r.failures.join("\n")
    expect(text).toMatch(/license "GPL-3.0"/)
    expect(text).toMatch(/bytes, the limit is 2000/)
    expect(text).toMatch(/\/description matches banned pattern "eval/)
    expect(text).toMatch(/\/description matches banned pattern "crypto/)
    expect(text).toMatch(/category "nope"/)
    const missing = validateItem(config, item("m", 1, { description: "" }))
    expect(missing.failures).toEqual(["quality: /description is required by this marketplace", "quality: /category is required by this marketplace"])
    const e = errorOf(() => assertValidItem(config, item("m", 1, { description: "" })))
    expect(e.code).toBe("ITEM_INVALID")
    expect(e.extra?.failures).toHaveLength(2)
  })
})

describe("acceptVersion", () => {
  const v1 = signItem(bob, item("p", 1), T0)
  it("takes a first version and a newer one from the origin, including a withdrawal", () => {
    expect(acceptVersion(undefined, v1)).toMatchObject({ ok: true })
    expect(acceptVersion(v1, signItem(bob, item("p", 2, { withdrawn: true }), T0 + 1))).toMatchObject({ ok: true })
  })
  it("refuses an older or equal version replayed", () => {
    const v2 = signItem(bob, item("p", 2), T0 + 1)
    expect(acceptVersion(v2, v1)).toMatchObject({ ok: false, code: "VERSION_REPLAYED" })
    expect(acceptVersion(v2, v2)).toMatchObject({ ok: false, code: "VERSION_REPLAYED" })
  })
  it("refuses a version or withdrawal by anyone but the origin", () => {
    const byAlice = signEnvelope(alice, "fedhub/market-item/v1", item("p", 2, { withdrawn: true }), T0 + 1)
    expect(acceptVersion(v1, byAlice)).toMatchObject({ ok: false, code: "NOT_ORIGIN" })
    const hijack = signItem(alice, { ...item("p", 3), originNodeId: alice.nodeId }, T0 + 1)
    expect(acceptVersion(v1, hijack)).toMatchObject({ ok: false, code: "NOT_ORIGIN" })
  })
  it("refuses a tampered item", () => {
    expect(acceptVersion(undefined, { ...v1, payload: { ...v1.payload, title: "Other" } })).toMatchObject({ ok: false, code: "ITEM_INVALID", reason: expect.stringMatching(/SIGNATURE_INVALID/) })
  })
})

describe("verifyShard", () => {
  const items = Array.from({ length: 20 }, (_, i) => item(`i${i}`))
  const stored = (list: MarketItem[]): Record<string, string> => {
    const byChunk = new Map<string, MarketItem[]>()
    for (const it of list) byChunk.set(chunkIdFor(it.itemId), [...(byChunk.get(chunkIdFor(it.itemId)) ?? []), it])
    return Object.fromEntries([...byChunk].map(([c, items]) => [c, encodeChunk(items)]))
  }
  const lines = (list: MarketItem[]) => list.map((it) => ({ itemId: it.itemId, version: it.version, checksum: checksumOf(it) }))
  const hashes = (list: MarketItem[]) => Object.entries(stored(list)).map(([id, text]) => [id, chunkHash(text)] as const)
  const sign = (by: typeof bob, sequence: number, list: MarketItem[], time: number) => signShardManifest(by, MARKET, "s00", sequence, lines(list), hashes(list), time)
  const ctx = { marketplaceId: MARKET, origin: bob.nodeId, shardId: "s00" }
  const manifest = sign(bob, 1, items, T0)

  it("accepts a shard with one signature: stored items decode to the payloads the origin signed", () => {
    const r = verifyShard(manifest, stored(items), ctx)
    expect(r.manifestProblem).toBeNull()
    expect([...r.accepted.values()].map((e) => e.checksum).sort()).toEqual(items.map(checksumOf).sort())
    expect(r.rejected).toEqual([])
    expect(r.sequence).toBe(1)
  })

  it("rejects every item of a shard whose content differs from the manifest (a tampered price, a replayed older version)", () => {
    const tampered = { ...items[3]!, pricing: { model: "one_time" as const, price: 1, currency: "credits" } }
    const r = verifyShard(manifest, stored([...items.slice(0, 3), tampered, ...items.slice(4)]), ctx)
    expect(r.accepted.size).toBe(0)
    expect(r.manifestProblem).toMatch(/differ from the 20 the origin signed/)
    expect(r.rejected).toHaveLength(20)
    const v2 = [...items.slice(0, 19), item("i19", 2)]
    const m2 = sign(bob, 2, v2, T0 + 1)
    expect(verifyShard(m2, stored(v2), ctx).accepted.get("i19")?.item.version).toBe(2)
    expect(verifyShard(m2, stored(items), ctx).accepted.size).toBe(0)
  })

  it("rejects a shard whose chunks hold the same items in other bytes (re-serialized by a relay), and one whose item digest lies", () => {
    const bytes = stored(items)
    const [first] = Object.keys(bytes)
    const reformatted = { ...bytes, [first!]: JSON.stringify(JSON.parse(bytes[first!]!), null, 1) }
    expect(verifyShard(manifest, reformatted, ctx)).toMatchObject({ accepted: new Map(), manifestProblem: expect.stringMatching(/differ from the 20 the origin signed/) })
    const lying = signShardManifest(bob, MARKET, "s00", 1, lines(items).map((l, i) => (i === 0 ? { ...l, version: 7 } : l)), hashes(items), T0)
    expect(verifyShard(lying, stored(items), ctx).manifestProblem).toMatch(/differ from the 20 the origin signed/)
  })

  it("computes an accepted item's checksum (what purchases name) as the canonical hash of its payload", () => {
    const r = verifyShard(manifest, stored(items), ctx)
    for (const it of items) expect(r.accepted.get(it.itemId)?.checksum).toBe(checksumOf(it))
  })

  it("refuses a forged manifest, another origin's, another shard's, and a shard with none", () => {
    const forged = { ...manifest, payload: { ...manifest.payload, sequence: 9 } }
    expect(verifyShard(forged, stored(items), ctx).manifestProblem).toMatch(/SIGNATURE_INVALID/)
    expect(verifyShard(sign(alice, 1, items, T0), stored(items), ctx).manifestProblem).toMatch(/not the shard's origin/)
    expect(verifyShard(manifest, stored(items), { ...ctx, shardId: "s01" }).manifestProblem).toMatch(/a manifest of shard/)
    expect(verifyShard(undefined, stored(items), ctx).manifestProblem).toMatch(/no manifest/)
    expect(verifyShard(undefined, {}, ctx)).toMatchObject({ manifestProblem: null, rejected: [] })
  })

  it("rejects stored values that are not items of this shard", () => {
    const c0 = chunkIdFor("i0")
    const wrongChunk = chunkIdFor("i1") === "c000" ? "c001" : "c000"
    const bad = {
      ...stored(items.slice(0, 1)),
      c900: "not json",
      [wrongChunk]: JSON.stringify({ i1: JSON.parse(encodeChunk([item("i1")]))["i1"] }),
      [chunkIdFor("z")]: JSON.stringify({ z: { itemId: "z" } }),
    }
    const r = verifyShard(manifest, bad, ctx)
    expect(r.rejected.map((x) => x.reason)).toEqual(expect.arrayContaining(["chunk c900 is not a JSON object", `kept in chunk ${wrongChunk}, belongs in ${chunkIdFor("i1")}`, "does not match the item schema"]))
    expect(c0).toMatch(/^c\d{3}$/)
  })

  it("puts open items in one of 16 shards by id, and licensed items in a shard of their allowed set", () => {
    const ids = new Set(Array.from({ length: 400 }, (_, i) => shardIdFor({ itemId: `item-${i}` })))
    expect(ids.size).toBe(16)
    const r1 = shardIdFor({ itemId: "a", allowedNodes: [alice.nodeId, bob.nodeId] })
    expect(r1).toMatch(/^r-[0-9a-f]{24}$/)
    expect(shardIdFor({ itemId: "b", allowedNodes: [bob.nodeId, alice.nodeId] })).toBe(r1)
  })
})
