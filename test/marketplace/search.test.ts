import MiniSearch from "minisearch"
import { describe, expect, it } from "vitest"
import { signItem, type GlobalId } from "../../src/marketplace/items.ts"
import { CatalogIndex, type CatalogHit, type IndexableItem } from "../../src/marketplace/searchIndex.ts"
import { MAX_LIMIT, parseSearchQuery } from "../../src/marketplace/searchQuery.ts"
import { textTerms } from "../../src/marketplace/textIndex.ts"
import type { MarketItem, MarketSearchQuery } from "../../src/schema/index.ts"
import { errorOf } from "../helpers/errors.ts"
import { alice, bob, carol, MARKET, T0 } from "./fixtures.ts"

const item = (itemId: string, extra: Partial<MarketItem> = {}, origin = bob): MarketItem => ({
  marketplaceId: MARKET,
  itemId,
  originNodeId: origin.nodeId,
  version: 1,
  type: "plugin",
  title: `Plugin ${itemId}`,
  description: "Does things",
  category: "tools",
  tags: ["tools"],
  pricing: { model: "one_time", price: 500, currency: "credits" },
  ...extra,
})
const gid = (itemId: string, origin = bob): GlobalId => `${origin.nodeId}:${itemId}` as GlobalId
const ids = (hits: readonly CatalogHit[]): string[] => hits.map((h) => h.itemId)

/** A small catalog over three origins, every field varied. */
function catalog(): CatalogIndex {
  const index = new CatalogIndex()
  index.upsertMany([
    signItem(bob, item("img-gen", { title: "Image Generator", description: "Paints pictures from prompts", category: "media", tags: ["ai", "images"], pricing: { model: "one_time", price: 1200, currency: "credits" } }), T0 + 1),
    signItem(bob, item("translator", { title: "Translator", description: "Translates documents between languages", category: "text", tags: ["ai", "language"], type: "service", pricing: { model: "one_time", price: 300, currency: "EUR" } }), T0 + 5),
    signItem(alice, item("chess", { title: "chess coach", description: "A persona that teaches chess openings", category: "games", tags: ["Games"], type: "persona", pricing: { model: "free", price: 0, currency: "credits" } }, alice), T0 + 3),
    signItem(alice, item("audio", { title: "Audio Cleaner", description: "Removes noise from recordings", category: "media", tags: ["audio", "ai"], pricing: { model: "one_time", price: 300, currency: "credits" } }, alice), T0 + 2),
    signItem(carol, item("weather", { title: "Weather Data", description: "Hourly weather observations", category: "data", tags: ["weather"], type: "dataset", pricing: { model: "one_time", price: 5000, currency: "credits" } }, carol), T0 + 4),
  ])
  index.setRating(gid("img-gen"), { overallRating: 4.5, ratingCount: 2 })
  index.setRating(gid("translator"), { overallRating: 3, ratingCount: 1 })
  index.setRating(gid("audio", alice), { overallRating: 4.5, ratingCount: 4 })
  return index
}

describe("CatalogIndex text search", () => {
  it("finds items by words of their title, tags and description, by prefix and despite a typo", () => {
    const index = catalog()
    expect(ids(index.search({ text: "image" }).items)).toEqual(["img-gen"])
    expect(ids(index.search({ text: "pictures" }).items)).toEqual(["img-gen"])
    expect(ids(index.search({ text: "weath" }).items)).toEqual(["weather"])
    expect(ids(index.search({ text: "tranzlator" }).items)).toEqual(["translator"])
    expect(ids(index.search({ text: "CHESS openings" }).items)).toEqual(["chess"])
    expect(index.search({ text: "chess weather" }).total).toBe(0) // every word must match
  })

  it("ranks a title match above a description match, with a score", () => {
    const index = new CatalogIndex()
    index.upsertMany([item("a", { title: "Noise gate", description: "Audio tool" }), item("b", { title: "Audio tool", description: "Removes noise" })])
    const page = index.search({ text: "noise" })
    expect(ids(page.items)).toEqual(["a", "b"])
    expect(page.items[0]!.score).toBeGreaterThan(page.items[1]!.score)
    expect(page.items[1]!.score).toBeGreaterThan(0)
  })

  it("combines text with every filter and sort", () => {
    const index = catalog()
    // audio (alice) and translator (bob) both cost 300: their global ids break the tie
    const tie = gid("audio", alice) < gid("translator") ? ["audio", "translator"] : ["translator", "audio"]
    expect(ids(index.search({ text: "ai", sort: "price" }).items)).toEqual([...tie, "img-gen"])
    expect(ids(index.search({ text: "ai", currency: "credits", sort: "-price" }).items)).toEqual(["img-gen", "audio"])
    expect(ids(index.search({ text: "ai", origin: alice.nodeId }).items)).toEqual(["audio"])
    expect(ids(index.search({ text: "ai", minRating: 4, sort: "title" }).items)).toEqual(["audio", "img-gen"])
    expect(index.search({ text: "ai", offset: 1, limit: 1, sort: "price" })).toMatchObject({ total: 3, offset: 1, limit: 1, items: [{ itemId: tie[1] }] })
  })
})

describe("CatalogIndex text at scale", () => {
  it("answers a word every item holds over every item, the best page by score then global id", () => {
    const index = new CatalogIndex()
    index.upsertMany(Array.from({ length: 3000 }, (_, i) => item(`i${i}`, { title: i % 3 === 0 ? "Item" : `Item number ${i}`, description: "An item" })))
    const page = index.search({ text: "item", limit: 50, offset: 10 })
    expect(page.total).toBe(3000)
    const all = index.search({ text: "item", limit: 100 }).items
    // the one-word titles score higher; among equal scores the global ids ascend
    expect(all.every((h, k) => k === 0 || all[k - 1]!.score > h.score || (all[k - 1]!.score === h.score && all[k - 1]!.globalId < h.globalId))).toBe(true)
    expect(all[0]!.title).toBe("Item")
    expect(page.items.map((h) => h.globalId)).toEqual(all.slice(10, 60).map((h) => h.globalId))
    expect(ids(index.search({ text: "item numbr 2999" }).items)).toEqual(["i2999"])
  })

  it("scores what a fresh index over the same items scores, after removals and replacements", () => {
    const kept = Array.from({ length: 40 }, (_, i) => item(`k${i}`, { title: i % 2 ? "alpha beta" : "alpha", description: i % 5 ? "gamma" : "alpha gamma delta" }))
    const gone = Array.from({ length: 60 }, (_, i) => item(`g${i}`, { title: "alpha alpha", description: "beta" }))
    const churned = new CatalogIndex()
    churned.upsertMany([...gone, ...kept.map((it) => ({ ...it, title: "old words" }))])
    for (const it of gone) churned.remove(gid(it.itemId))
    churned.upsertMany(kept.map((it) => ({ ...it, version: 2 })))
    const fresh = new CatalogIndex()
    fresh.upsertMany(kept.map((it) => ({ ...it, version: 2 })))
    for (const text of ["alpha", "beta", "alph gam", "old"]) {
      const score = (i: CatalogIndex) => i.search({ text, limit: 100 }).items.map((h) => [h.globalId, h.score])
      expect(score(churned)).toEqual(score(fresh))
    }
    expect(churned.search({ text: "old" }).total).toBe(0)
  })

  it("splits text into MiniSearch's terms, ASCII or not", () => {
    const tokenize = MiniSearch.getDefault("tokenize") as (t: string) => string[]
    for (const t of ["Hello, World!", "a$b+c  d\te", "x--y__z", "", " lead", "trail. ", "Ünïcode wörds", "ok\u00a0nbsp", "C++ & C#", "e-mail@x.org\nnext\rline"])
      expect(textTerms(t)).toEqual(tokenize(t).filter((w) => w.length > 0).map((w) => w.toLowerCase()))
  })
})

describe("CatalogIndex filters and sorts", () => {
  it("filters by category, type, origin, currency, tags, price range and rating range", () => {
    const index = catalog()
    const q = (query: MarketSearchQuery): string[] => ids(index.search({ sort: "title", ...query }).items)
    expect(q({ category: "media" })).toEqual(["audio", "img-gen"])
    expect(q({ type: "persona" })).toEqual(["chess"])
    expect(q({ origin: carol.nodeId })).toEqual(["weather"])
    expect(q({ currency: "EUR" })).toEqual(["translator"])
    expect(q({ tags: ["AI", "images"] })).toEqual(["img-gen"])
    expect(q({ tags: ["games"] })).toEqual(["chess"])
    expect(q({ minPrice: 300, maxPrice: 1200 })).toEqual(["audio", "img-gen", "translator"])
    expect(q({ maxPrice: 0 })).toEqual(["chess"])
    expect(q({ minRating: 4.5 })).toEqual(["audio", "img-gen"])
    expect(q({ maxRating: 0 })).toEqual(["chess", "weather"])
    expect(q({ category: "media", minPrice: 1000, origin: bob.nodeId, type: "plugin", currency: "credits", tags: ["ai"], minRating: 1, maxRating: 5 })).toEqual(["img-gen"])
    expect(q({ category: "nothing-here" })).toEqual([])
    expect(index.search({ category: "media" }).total).toBe(2)
  })

  it("sorts by price, rating, title and newest, ties broken by global id in both directions", () => {
    const index = catalog()
    const sorted = (sort: MarketSearchQuery["sort"]): string[] => ids(index.search({ sort }).items)
    // audio (alice) and translator (bob) cost 300; alice's node id sorts first or not: ties follow the global id
    const tie = [gid("audio", alice), gid("translator")].sort()
    const byId = (g: string): string => (g === gid("audio", alice) ? "audio" : "translator")
    expect(sorted("price")).toEqual(["chess", ...tie.map(byId), "img-gen", "weather"])
    expect(sorted("-price")).toEqual(["weather", "img-gen", ...tie.map(byId), "chess"])
    const ratingTie = [gid("audio", alice), gid("img-gen")].sort().map((g) => (g === gid("img-gen") ? "img-gen" : "audio"))
    const zeroTie = [gid("chess", alice), gid("weather", carol)].sort().map((g) => (g === gid("chess", alice) ? "chess" : "weather"))
    expect(sorted("-rating")).toEqual([...ratingTie, "translator", ...zeroTie])
    expect(sorted("rating")).toEqual([...zeroTie, "translator", ...ratingTie])
    expect(sorted("title")).toEqual(["audio", "chess", "img-gen", "translator", "weather"])
    expect(sorted("newest")).toEqual(["translator", "weather", "chess", "audio", "img-gen"])
    expect(index.search({}).items.map((h) => h.globalId)).toEqual([...index.search({ limit: 100 }).items.map((h) => h.globalId)].sort())
  })

  it("pages through every match once, in a stable order", () => {
    const index = new CatalogIndex()
    index.upsertMany(Array.from({ length: 600 }, (_, i) => item(`i${i}`, { pricing: { model: "one_time", price: i % 7, currency: "credits" } })))
    for (const sort of ["price", "-price", "title", "relevance"] as const) {
      const seen: string[] = []
      for (let offset = 0; offset < 600; offset += 100) {
        const page = index.search({ sort, offset, limit: 100 })
        expect(page.total).toBe(600)
        seen.push(...page.items.map((h) => h.globalId))
      }
      expect(new Set(seen).size).toBe(600)
      expect(index.search({ sort, offset: 600 }).items).toEqual([])
    }
  })

  it("answers a hit with the item's summary", () => {
    const index = catalog()
    expect(index.get(gid("img-gen"))).toEqual({
      globalId: gid("img-gen"),
      score: 0,
      itemId: "img-gen",
      origin: bob.nodeId,
      version: 1,
      time: T0 + 1,
      type: "plugin",
      title: "Image Generator",
      category: "media",
      tags: ["ai", "images"],
      pricing: { model: "one_time", price: 1200, currency: "credits" },
      overallRating: 4.5,
      ratingCount: 2,
    })
    expect(index.get(gid("nope"))).toBeUndefined()
  })
})

describe("CatalogIndex changes", () => {
  it("a new version replaces the old one in the text and in every filter and sort", () => {
    const index = catalog()
    index.upsert(signItem(bob, item("img-gen", { version: 2, title: "Picture Painter", description: "Draws", category: "art", tags: ["drawing"], type: "content", pricing: { model: "one_time", price: 10, currency: "USD" } }), T0 + 9))
    expect(index.size).toBe(5)
    expect(index.search({ text: "generator" }).total).toBe(0)
    expect(ids(index.search({ text: "painter" }).items)).toEqual(["img-gen"])
    expect(index.search({ category: "media" }).items.map((h) => h.itemId)).toEqual(["audio"])
    expect(ids(index.search({ category: "art", type: "content", currency: "USD", tags: ["drawing"] }).items)).toEqual(["img-gen"])
    expect(index.search({ tags: ["images"] }).total).toBe(0)
    expect(ids(index.search({ sort: "price" }).items)[1]).toBe("img-gen")
    expect(ids(index.search({ sort: "newest" }).items)[0]).toBe("img-gen")
    expect(index.get(gid("img-gen"))).toMatchObject({ version: 2, overallRating: 4.5, ratingCount: 2 })
  })

  it("ignores an older or equal version replayed", () => {
    const index = catalog()
    expect(index.upsert(item("img-gen", { version: 3, title: "Third" }))).toBe(true)
    expect(index.upsert(item("img-gen", { version: 2, title: "Second" }))).toBe(false)
    expect(index.upsert(item("img-gen", { version: 3, title: "Third again" }))).toBe(false)
    expect(index.get(gid("img-gen"))?.title).toBe("Third")
  })

  it("a withdrawal removes the item; an older version replayed stays out; a newer version comes back", () => {
    const index = catalog()
    expect(index.upsert(item("img-gen", { version: 2, withdrawn: true }))).toBe(true)
    expect(index.has(gid("img-gen"))).toBe(false)
    expect(index.size).toBe(4)
    expect(index.search({ text: "image" }).total).toBe(0)
    expect(index.search({ category: "media" }).total).toBe(1)
    expect(index.search({ sort: "price" }).total).toBe(4)
    expect(index.upsert(item("img-gen", { version: 1 }))).toBe(false)
    expect(index.upsert(item("img-gen", { version: 3, title: "Image Generator 3" }))).toBe(true)
    expect(index.search({ text: "image" }).items).toMatchObject([{ itemId: "img-gen", version: 3, overallRating: 4.5 }])
  })

  it("remove takes an item out; its rating returns with a later version", () => {
    const index = catalog()
    expect(index.remove(gid("audio", alice))).toBe(true)
    expect(index.remove(gid("audio", alice))).toBe(false)
    expect(index.search({ tags: ["audio"] }).total).toBe(0)
    expect(index.search({ sort: "-rating" }).total).toBe(4)
    index.upsert(item("audio", { version: 2, title: "Audio Cleaner 2" }, alice))
    expect(index.get(gid("audio", alice))).toMatchObject({ version: 2, overallRating: 4.5, ratingCount: 4 })
  })

  it("a rating change moves the item in rating filters and sorts; a rating set before its item applies when it arrives", () => {
    const index = catalog()
    index.setRating(gid("weather", carol), { overallRating: 5, ratingCount: 1 })
    expect(ids(index.search({ sort: "-rating", limit: 1 }).items)).toEqual(["weather"])
    expect(ids(index.search({ minRating: 5 }).items)).toEqual(["weather"])
    index.setRating(gid("weather", carol), { overallRating: 0, ratingCount: 0 })
    expect(index.search({ minRating: 5 }).total).toBe(0)
    index.setRating(gid("later"), { overallRating: 2.5, ratingCount: 3 })
    index.upsert(item("later"))
    expect(index.get(gid("later"))).toMatchObject({ overallRating: 2.5, ratingCount: 3 })
    expect(ids(index.search({ minRating: 2, maxRating: 3 }).items).sort()).toEqual(["later", "translator"])
  })

  it("refuses a rating outside 0 to 5 stars or a count that is not a whole number", () => {
    const index = catalog()
    for (const r of [{ overallRating: 5.5, ratingCount: 1 }, { overallRating: -1, ratingCount: 1 }, { overallRating: Number.NaN, ratingCount: 1 }, { overallRating: 3, ratingCount: 1.5 }, { overallRating: 3, ratingCount: 0 }])
      expect(errorOf(() => index.setRating(gid("img-gen"), r)).code).toBe("INVALID_INPUT")
    expect(index.get(gid("img-gen"))?.overallRating).toBe(4.5)
  })

  it("a bulk load followed by single changes keeps every sorted order right", () => {
    const index = new CatalogIndex()
    index.upsertMany(Array.from({ length: 300 }, (_, i) => item(`b${i}`, { title: `T${i % 10}`, pricing: { model: "one_time", price: (i * 37) % 101, currency: "credits" } })))
    index.upsert(item("b5", { version: 2, pricing: { model: "one_time", price: 1000, currency: "credits" } }))
    expect(ids(index.search({ sort: "-price", limit: 1 }).items)).toEqual(["b5"]) // first sort after the bulk: rebuilt
    index.upsert(item("b6", { version: 2, pricing: { model: "one_time", price: 2000, currency: "credits" } }))
    index.remove(gid("b5"))
    index.upsert(item("b7", { version: 2, pricing: { model: "one_time", price: 50, currency: "credits" } }))
    const pages = [0, 100, 200].flatMap((offset) => index.search({ sort: "-price", offset, limit: 100 }).items)
    expect(pages).toHaveLength(299)
    expect(pages[0]!.itemId).toBe("b6")
    const prices = pages.map((h) => h.pricing.price)
    expect(prices).toEqual([...prices].sort((a, b) => b - a))
    expect(pages.find((h) => h.itemId === "b7")?.pricing.price).toBe(50)
    expect(pages.some((h) => h.itemId === "b5")).toBe(false)
  })
})

describe("CatalogIndex hostile queries", () => {
  it("caps a huge limit and refuses a negative offset", () => {
    const index = new CatalogIndex()
    index.upsertMany(Array.from({ length: 150 }, (_, i) => item(`h${i}`)))
    const page = index.search({ limit: 1_000_000_000 })
    expect(page.limit).toBe(MAX_LIMIT)
    expect(page.items).toHaveLength(MAX_LIMIT)
    expect(page.total).toBe(150)
    expect(errorOf(() => index.search({ offset: -1 })).code).toBe("INVALID_INPUT")
  })

  it("answers regex-like text as plain words", () => {
    const index = catalog()
    index.upsert(item("re", { title: "C++ (a+)+ helper", description: ".* [a-z]+ $^ \\d{3}" }))
    for (const text of ["(a+)+$", ".*", "[", "\\", "^$", "(?<x>", "*+?{}", "%00", "' OR 1=1 --", "\u0000"]) {
      const page = index.search({ text })
      expect(page.total).toBeGreaterThanOrEqual(0)
    }
    expect(ids(index.search({ text: "helper (a+)+" }).items)).toEqual(["re"])
  })

  it("refuses 10 KB of text, too many words and unknown fields, listing every problem at once", () => {
    const index = catalog()
    expect(errorOf(() => index.search({ text: "x".repeat(10_000) })).code).toBe("INVALID_INPUT")
    expect(errorOf(() => index.search({ text: Array.from({ length: 17 }, (_, i) => `w${i}`).join(" ") })).detail).toMatch(/17 words/)
    const e = errorOf(() => index.search({ text: 5, sort: "random", limit: -1, minPrice: 9, maxPrice: 1, drop: "table" }))
    expect(e.code).toBe("INVALID_INPUT")
    const problems = e.extra?.problems as string[]
    expect(problems.join("\n")).toMatch(/\/text must be string/)
    expect(problems.join("\n")).toMatch(/\/sort must be one of/)
    expect(problems.join("\n")).toMatch(/\/limit must be >= 0/)
    expect(problems.join("\n")).toMatch(/\/drop is not allowed/)
    expect(errorOf(() => index.search({ minPrice: 9, maxPrice: 1 })).detail).toMatch(/minPrice \(9\) is greater than \/maxPrice \(1\)/)
    expect(errorOf(() => index.search({ minRating: 5, maxRating: 1 })).detail).toMatch(/minRating/)
    expect(errorOf(() => index.search(null)).code).toBe("INVALID_INPUT")
    expect(index.size).toBe(5)
  })

  it("treats text without a word as no text", () => {
    const index = catalog()
    expect(index.search({ text: "   " }).total).toBe(5)
  })
})

describe("parseSearchQuery", () => {
  it("coerces the numbers of a URL query and takes repeated tags", () => {
    const q = parseSearchQuery({ text: "image", minPrice: "10", maxPrice: "2000", minRating: "3.5", offset: "20", limit: "500", tags: ["ai", "Images"], sort: "-price", origin: bob.nodeId })
    expect(q).toMatchObject({ text: "image", minPrice: 10, maxPrice: 2000, minRating: 3.5, offset: 20, limit: MAX_LIMIT, tags: ["ai", "images"], sort: "-price", origin: bob.nodeId })
    expect(parseSearchQuery({ tags: "ai" }).tags).toEqual(["ai"])
    expect(parseSearchQuery({})).toMatchObject({ offset: 0, limit: 20, sort: "relevance", tags: [], words: [] })
  })

  it("lists every problem of a URL query in one error", () => {
    const e = errorOf(() => parseSearchQuery({ limit: "ten", offset: "-5", minPrice: "1.5", sort: ["price", "title"], type: "spaceship", origin: "me", q: "x" }))
    expect(e.code).toBe("INVALID_INPUT")
    const problems = (e.extra?.problems as string[]).join("\n")
    for (const expected of [/\/limit must be integer \(got "ten"\)/, /\/offset must be >= 0/, /\/minPrice must be integer/, /\/sort is given 2 times/, /\/type must be one of/, /\/origin is not a valid NodeId/, /\/q is not allowed/])
      expect(problems).toMatch(expected)
  })
})

// The property over random items, changes and queries (scores computed from scratch, not
// taken from the index) is test/marketplace/search-oracle.test.ts.
