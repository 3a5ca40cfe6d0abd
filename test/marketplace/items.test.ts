import { describe, expect, it } from "vitest"
import { contentId, signEnvelope } from "../../src/identity/index.ts"
import { createMarketplaceConfig } from "../../src/marketplace/config.ts"
import { acceptVersion, assertValidItem, checksumOf, globalIdOf, itemGlobalId, signItem, validateItem } from "../../src/marketplace/items.ts"
import { signShardManifest, verifyShard } from "../../src/marketplace/shard.ts"
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
  const signed = items.map((it) => signItem(bob, it, T0))
  const manifest = signShardManifest(bob, MARKET, "s0", 1, items, T0)

  it("accepts a shard with one signature verification", () => {
    const r = verifyShard(manifest, signed)
    expect(r.manifestProblem).toBeNull()
    expect(r.accepted).toHaveLength(20)
    expect(r.rejected).toEqual([])
    expect(r.signaturesChecked).toBe(1)
  })

  it("rejects a price tampered by a relay, and an older version replayed, with reasons", () => {
    const tampered = { ...signed[3]!, payload: { ...signed[3]!.payload, pricing: { model: "one_time" as const, price: 1, currency: "credits" } } }
    const v2items = [...items.slice(0, 5), item("i5", 2)]
    const m2 = signShardManifest(bob, MARKET, "s0", 2, v2items, T0 + 1)
    const r = verifyShard(m2, [...signed.slice(0, 3), tampered, signed[4]!, signed[5]!])
    expect(r.accepted.map((e) => e.payload.itemId).sort()).toEqual(["i0", "i1", "i2", "i4"])
    expect(r.rejected.map((x) => x.reason)).toEqual(expect.arrayContaining([expect.stringMatching(/checksum differs/), expect.stringMatching(/older than the origin's manifest/)]))
  })

  it("verifies items the manifest does not cover by their own signatures", () => {
    const newer = signItem(bob, item("i0", 2), T0 + 5)
    const unlisted = signItem(bob, item("extra"), T0)
    const forgedUnlisted = { ...signItem(bob, item("extra2"), T0), sig: signed[0]!.sig }
    const r = verifyShard(manifest, [signed[0]!, newer, unlisted, forgedUnlisted])
    expect(r.accepted.map((e) => `${e.payload.itemId}@${e.payload.version}`)).toEqual([`extra@1`, `i0@2`].sort())
    expect(r.rejected.map((x) => x.reason)).toEqual(expect.arrayContaining([expect.stringMatching(/superseded by version 2/), expect.stringMatching(/SIGNATURE_INVALID/)]))
    expect(r.signaturesChecked).toBe(4)
  })

  it("falls back to each item's signature when the manifest is forged", () => {
    const forged = { ...manifest, payload: { ...manifest.payload, sequence: 9 } }
    const r = verifyShard(forged, signed.slice(0, 3))
    expect(r.manifestProblem).toMatch(/SIGNATURE_INVALID/)
    expect(r.accepted).toHaveLength(3)
    expect(r.signaturesChecked).toBe(4)
  })
})
