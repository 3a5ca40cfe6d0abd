import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fastCheckFor } from "../../src/marketplace/fastSchema.ts"
import { matches } from "../../src/marketplace/schemaCheck.ts"
import { chunkIdFor, decodeChunk } from "../../src/marketplace/shard.ts"
import { isValid, SCHEMA_NAMES, type MarketItem } from "../../src/schema/index.ts"
import { bob, MARKET } from "./fixtures.ts"

const ITEM = "marketplace#MarketItem" as const
const fast = fastCheckFor(ITEM)
const ajv = (v: unknown) => isValid(ITEM, v)

const base = (i: number): MarketItem => ({
  marketplaceId: MARKET,
  itemId: `item-${i}`,
  originNodeId: bob.nodeId,
  version: 1,
  type: "plugin",
  title: `Item ${i}`,
  description: "Helps you format things",
  category: "tools",
  tags: ["format", "lint"],
  license: "MIT",
  pricing: { model: "one_time", price: 100 + i, currency: "credits" },
})

/** Any JSON-ish value, hostile ones included: lone surrogates, astral characters, -0, fractions, huge numbers, nested objects, __proto__ keys. */
const anyValue = fc.letrec(tie => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.string({ unit: "grapheme", maxLength: 220 }),
    fc.constantFrom("", "MIT", "credits", "EUR", "eur", "free", "one_time", "plugin", "tools", "Tools", "item-1", "bad id!", "x".repeat(129), "\u{1F600}".repeat(150), "a".repeat(201), "\uD800", "AB", "ab", "0".repeat(64), "https://x.example/a", "ftp://x", "fh1" + "a".repeat(52), "4RK8nzV8JJw4WUz37YHNteLMVRwh", "0OIl"),
    fc.integer({ min: 0, max: 300 }).map(n => "a".repeat(n)),
    fc.integer({ min: 0, max: 260 }).map(n => "\u{1F600}".repeat(n)),
    fc.integer(),
    fc.constantFrom(0, -0, 1, -1, 0.5, 1.5, 1e21, 2 ** 53, 2 ** 53 - 1, -(2 ** 53), Number.MAX_VALUE),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom("a", "__proto__", "model", "price", "currency", "sha256", "sizeBytes", "url"), tie("value"), { maxKeys: 4 }),
  ),
})).value

const FIELDS = ["marketplaceId", "itemId", "originNodeId", "version", "withdrawn", "type", "title", "description", "category", "tags", "license", "restrictions", "allowedNodes", "territorialLimits", "pricing", "artifact", "extra", "__proto__"] as const

/** A valid item with some fields replaced, removed or added. */
const mutated = fc
  .tuple(
    fc.nat(1_000),
    fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.oneof(anyValue, fc.constant(undefined), fc.constant("__delete__"))), { maxLength: 4 }),
    fc.option(fc.tuple(fc.constantFrom("model", "price", "currency", "extra"), fc.oneof(anyValue, fc.constant("__delete__")))),
  )
  .map(([i, edits, pricingEdit]) => {
    const it: Record<string, unknown> = { ...base(i), pricing: { ...base(i).pricing } }
    for (const [k, v] of edits)
      if (v === "__delete__") delete it[k]
      else if (k === "__proto__") Object.defineProperty(it, k, { value: v, enumerable: true, configurable: true, writable: true })
      else it[k] = v
    if (pricingEdit && typeof it.pricing === "object" && it.pricing !== null) {
      const [k, v] = pricingEdit
      if (v === "__delete__") delete (it.pricing as Record<string, unknown>)[k]
      else (it.pricing as Record<string, unknown>)[k] = v
    }
    return it
  })

describe("the item schema's fast path", () => {
  it("is sure of the common item shape (so the fast path is the one taken)", () => {
    for (let i = 0; i < 50; i++) expect(fast(base(i))).toBe(true)
    expect(fast({ ...base(1), artifact: { sha256: "a".repeat(64), sizeBytes: 10 }, withdrawn: true, allowedNodes: [bob.nodeId], territorialLimits: ["DE", "FR"], restrictions: ["no resale"] })).toBe(true)
  })

  it("never accepts what ajv refuses, and matches() answers exactly as ajv (property, against hostile mutations)", () => {
    fc.assert(
      fc.property(mutated, v => {
        const a = ajv(v)
        if (fast(v)) expect(a).toBe(true)
        expect(matches(ITEM, v)).toBe(a)
      }),
      { numRuns: 5_000 },
    )
  })

  it("never accepts what ajv refuses, for arbitrary values", () => {
    fc.assert(
      fc.property(anyValue, v => {
        if (fast(v)) expect(ajv(v)).toBe(true)
        expect(matches(ITEM, v)).toBe(ajv(v))
      }),
      { numRuns: 2_000 },
    )
  })

  it("leaves what it cannot decide to ajv: formats, lengths in code points, duplicate tags", () => {
    const cases: [unknown, boolean][] = [
      [{ ...base(1), artifact: { sha256: "a".repeat(64), sizeBytes: 10, url: "https://x.example/a" } }, true],
      [{ ...base(1), artifact: { sha256: "a".repeat(64), sizeBytes: 10, url: "https://x y" } }, false],
      [{ ...base(1), title: "\u{1F600}".repeat(200) }, true],
      [{ ...base(1), title: "\u{1F600}".repeat(201) }, false],
      [{ ...base(1), title: "a".repeat(201) }, false],
      [{ ...base(1), tags: ["a", "a"] }, false],
      [{ ...base(1), tags: [] }, true],
      [{ ...base(1), version: 1.5 }, false],
      [{ ...base(1), version: 2 ** 53 }, false],
      [{ ...base(1), pricing: { model: "free", price: 0, currency: "eur" } }, false],
      [{ ...base(1), unknown: 1 }, false],
    ]
    for (const [v, expected] of cases) {
      expect(ajv(v)).toBe(expected)
      expect(matches(ITEM, v)).toBe(expected)
      if (!expected) expect(fast(v)).toBe(false)
    }
  })

  it("compiles every schema of schemas/ without accepting what ajv refuses", () => {
    fc.assert(
      fc.property(fc.constantFrom(...SCHEMA_NAMES), anyValue, (name, v) => {
        if (fastCheckFor(name)(v)) expect(isValid(name, v)).toBe(true)
      }),
      { numRuns: 3_000 },
    )
  })
})

describe("a hostile chunk", () => {
  const chunkOf = (items: object[]) => {
    const ids = items.map(i => (i as { itemId: string }).itemId)
    const chunkId = chunkIdFor(ids[0]!)
    const stored = JSON.stringify(Object.fromEntries(items.map((i, k) => [ids[k], { ...i, marketplaceId: undefined, originNodeId: undefined }])))
    return { chunkId, stored }
  }

  it("has each item the schema refuses refused, the rest decoded", () => {
    const good = base(1)
    const sameChunk = (n: number) => Array.from({ length: 5_000 }, (_, i) => `x-${n}-${i}`).filter(id => chunkIdFor(id) === chunkIdFor(good.itemId)).slice(0, 3)
    const [a, b, c] = sameChunk(1) as [string, string, string]
    const bad = [
      { ...base(2), itemId: a, artifact: { sha256: "a".repeat(64), sizeBytes: 1, url: "not a url" } },
      { ...base(3), itemId: b, title: "\u{1F600}".repeat(201) },
      { ...base(4), itemId: c, tags: ["same", "same"] },
    ]
    const { chunkId, stored } = chunkOf([good, ...bad])
    const out = decodeChunk(stored, chunkId, MARKET, bob.nodeId)
    expect(out.get(good.itemId)?.ok).toBe(true)
    for (const it of bad) expect(out.get(it.itemId)).toEqual({ ok: false, reason: "does not match the item schema" })
  })
})
