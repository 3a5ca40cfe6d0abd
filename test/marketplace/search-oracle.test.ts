import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { signItem } from "../../src/marketplace/items.ts"
import { CatalogIndex, DESCRIPTION_INDEX_CHARS } from "../../src/marketplace/searchIndex.ts"
import { searchWords } from "../../src/marketplace/searchQuery.ts"
import { TEXT_SCORING, textTerms } from "../../src/marketplace/textIndex.ts"
import type { MarketItem, MarketSearchQuery } from "../../src/schema/index.ts"
import { alice, bob, carol, MARKET, T0 } from "./fixtures.ts"

// The property: after any sequence of upserts (new versions, withdrawals), bulk loads,
// removes and rating changes, the index answers every query (text, filters, sort, page)
// exactly as a linear scan over the live items does — text matches (exact, prefix, fuzzy)
// and BM25+ scores computed from scratch over those items, in the test.

interface Entry {
  item: MarketItem
  time: number
  rating: number
  count: number
}

const ORIGINS = [alice, bob, carol]
/** Words with prefixes, near-misses (one or two edits), case and punctuation, and non-ASCII text. */
const VOCAB = ["alpha", "alphabet", "Alpine", "beta", "betas", "gamma", "gamme", "gammas", "translator", "translators", "tranzlator", "delta", "omega", "omegas", "zeta", "alpha-beta", "beta.", "café", "über", "x"]
const wordsArb = (max: number): fc.Arbitrary<string> => fc.array(fc.constantFrom(...VOCAB), { minLength: 0, maxLength: max }).map((w) => w.join(" "))

const specArb = fc.record({
  itemId: fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"),
  origin: fc.integer({ min: 0, max: 2 }),
  version: fc.integer({ min: 1, max: 5 }),
  withdrawn: fc.integer({ min: 0, max: 9 }).map((w) => w === 0),
  type: fc.constantFrom<MarketItem["type"]>("persona", "plugin", "dataset"),
  title: wordsArb(4).map((t) => (t.length === 0 ? "untitled" : t)),
  description: wordsArb(6),
  category: fc.constantFrom("x", "y", undefined),
  tags: fc.subarray(["t1", "T2", "gamma", "Alpha"]),
  price: fc.constantFrom(0, 5, 10, 100),
  currency: fc.constantFrom("credits", "EUR"),
  time: fc.constantFrom(T0, T0 + 1, T0 + 2),
})
type Spec = typeof specArb extends fc.Arbitrary<infer T> ? T : never

const toItem = (s: Spec): MarketItem => ({
  marketplaceId: MARKET,
  itemId: s.itemId,
  originNodeId: ORIGINS[s.origin]!.nodeId,
  version: s.version,
  ...(s.withdrawn ? { withdrawn: true } : {}),
  type: s.type,
  title: s.title,
  ...(s.description ? { description: s.description } : {}),
  ...(s.category ? { category: s.category } : {}),
  tags: s.tags,
  pricing: { model: s.price === 0 ? "free" : "one_time", price: s.price, currency: s.currency },
})

type Op =
  | { op: "upsert"; spec: Spec }
  | { op: "bulk"; specs: Spec[] }
  | { op: "remove"; itemId: string; origin: number }
  | { op: "rate"; itemId: string; origin: number; halfStars: number; count: number }
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: specArb.map((spec) => ({ op: "upsert" as const, spec })), weight: 6 },
  { arbitrary: fc.array(specArb, { minLength: 4, maxLength: 30 }).map((specs) => ({ op: "bulk" as const, specs })), weight: 1 },
  { arbitrary: fc.record({ itemId: fc.constantFrom("a", "b", "c"), origin: fc.integer({ min: 0, max: 2 }) }).map((r) => ({ op: "remove" as const, ...r })), weight: 1 },
  {
    arbitrary: fc.record({ itemId: fc.constantFrom("a", "b", "c", "d", "zz"), origin: fc.integer({ min: 0, max: 2 }), halfStars: fc.integer({ min: 2, max: 10 }), count: fc.integer({ min: 0, max: 3 }) }).map((r) => ({ op: "rate" as const, ...r })),
    weight: 2,
  },
)

const QUERY_TEXT = ["alpha", "alp", "alph beta", "gamma", "gamna", "tranzlatr", "translator", "omaga", "bet", "café", "UBER", "über", "alpha gamma", "zeta x", "betas.", "nothing"]
const filterArb = fc.record({
  category: fc.constantFrom("x", "y"),
  type: fc.constantFrom<MarketItem["type"]>("persona", "plugin"),
  origin: fc.integer({ min: 0, max: 2 }).map((i) => ORIGINS[i]!.nodeId),
  tags: fc.subarray(["t1", "t2", "gamma"], { minLength: 1, maxLength: 2 }),
  minPrice: fc.constantFrom(0, 5, 6),
  maxPrice: fc.constantFrom(10, 1000),
  minRating: fc.constantFrom(1, 3.5),
})
/** A query: text (mostly), at most two filters, a sort and a page. */
const queryArb: fc.Arbitrary<MarketSearchQuery> = fc
  .record({
    text: fc.option(fc.constantFrom(...QUERY_TEXT), { nil: undefined, freq: 3 }),
    values: filterArb,
    keys: fc.subarray(["category", "type", "origin", "tags", "minPrice", "maxPrice", "minRating"] as const, { maxLength: 2 }),
    sort: fc.constantFrom("relevance", "price", "-price", "rating", "-rating", "title", "newest"),
    offset: fc.integer({ min: 0, max: 6 }),
    limit: fc.integer({ min: 0, max: 12 }),
  })
  .map(({ text, values, keys, ...page }) => ({ ...(text === undefined ? {} : { text }), ...Object.fromEntries(keys.map((k) => [k, values[k]])), ...page }) as MarketSearchQuery)

const byCode = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
const gidOf = (e: Entry): string => `${e.item.originNodeId}:${e.item.itemId}`

function levenshtein(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1), row[j]! + 1, next[j - 1]! + 1)
    row = next
  }
  return row[b.length]!
}

/** The per-field terms of an item, as the index reads them. */
const fieldsOf = (p: MarketItem): string[][] => [textTerms(p.title), textTerms((p.tags ?? []).join(" ")), textTerms((p.description ?? "").slice(0, DESCRIPTION_INDEX_CHARS))]

/** Text scores of every live item matching all words: a scan over the items (matching and BM25+ from scratch). */
function scanText(live: Entry[], text: string): Map<string, number> {
  const words = [...new Set(searchWords(text.trim()).map((w) => w.toLowerCase()))]
  const fields = live.map((e) => fieldsOf(e.item))
  const df = [new Map<string, number>(), new Map<string, number>(), new Map<string, number>()]
  const total = [0, 0, 0]
  for (const fs of fields)
    fs.forEach((terms, f) => {
      total[f]! += terms.length
      for (const t of new Set(terms)) df[f]!.set(t, (df[f]!.get(t) ?? 0) + 1)
    })
  const avg = total.map((t) => t / live.length)
  const { boosts, k: K, b: B, d: D } = TEXT_SCORING
  const out = new Map<string, number>()
  live.forEach((e, i) => {
    const fs = fields[i]!
    const docTerms = [...new Set(fs.flat())]
    let score = 0
    for (const w of words) {
      // the terms this word stands for in this item: exact, then prefix, then fuzzy, each in code-unit order
      const exact = docTerms.filter((t) => t === w)
      const prefix = w.length >= 3 ? docTerms.filter((t) => t.length > w.length && t.startsWith(w)).sort(byCode) : []
      const edits = Math.min(TEXT_SCORING.maxFuzzy, Math.round(w.length * 0.2))
      const fuzzy = w.length >= 5 && edits > 0 ? docTerms.filter((t) => t !== w && !prefix.includes(t) && levenshtein(t, w) <= edits).sort(byCode) : []
      const matched: [string, number][] = [
        ...exact.map((t): [string, number] => [t, 1]),
        ...prefix.map((t): [string, number] => [t, (TEXT_SCORING.prefixWeight * t.length) / (t.length + 0.3 * (t.length - w.length))]),
        ...fuzzy.map((t): [string, number] => [t, (TEXT_SCORING.fuzzyWeight * t.length) / (t.length + levenshtein(t, w))]),
      ]
      if (matched.length === 0) return
      for (const [t, weight] of matched) {
        let s = 0
        for (let f = 0; f < 3; f++) {
          const tf = Math.min(255, fs[f]!.filter((x) => x === t).length)
          if (tf === 0) continue
          const n = df[f]!.get(t) ?? 0
          const idf = n === 0 ? 0 : Math.log(1 + (live.length - n + 0.5) / (n + 0.5))
          s += boosts[f]! * idf * (D + (tf * (K + 1)) / (tf + K * (1 - B + (B * fs[f]!.length) / avg[f]!)))
        }
        score += weight * s
      }
    }
    out.set(gidOf(e), score)
  })
  return out
}

/** The scan's answer: every live item filtered, sorted and paged. */
function scan(model: Map<string, Entry>, q: MarketSearchQuery): { total: number; page: [string, number][] } {
  const live = [...model.values()]
  const text = q.text !== undefined && searchWords(q.text.trim()).length > 0 ? scanText(live, q.text) : undefined
  const rows = live.filter((e) => {
    const p = e.item
    if (text && !text.has(gidOf(e))) return false
    if (q.category !== undefined && p.category !== q.category) return false
    if (q.type !== undefined && p.type !== q.type) return false
    if (q.origin !== undefined && p.originNodeId !== q.origin) return false
    const tags = new Set((p.tags ?? []).map((t) => t.toLowerCase()))
    if (q.tags && !q.tags.every((t) => tags.has(t.toLowerCase()))) return false
    if (q.minPrice !== undefined && p.pricing.price < q.minPrice) return false
    if (q.maxPrice !== undefined && p.pricing.price > q.maxPrice) return false
    if (q.minRating !== undefined && e.rating < q.minRating) return false
    return true
  })
  const sort = q.sort ?? "relevance"
  const key = (e: Entry): number | string => {
    switch (sort) {
      case "price":
      case "-price":
        return e.item.pricing.price
      case "rating":
      case "-rating":
        return e.rating
      case "title":
        return e.item.title.toLowerCase()
      case "newest":
        return e.time
      default:
        return text?.get(gidOf(e)) ?? 0
    }
  }
  const descending = sort === "-price" || sort === "-rating" || sort === "newest" || (sort === "relevance" && text !== undefined)
  rows.sort((a, b) => {
    const ka = key(a)
    const kb = key(b)
    const c = typeof ka === "string" ? byCode(ka, kb as string) : ka - (kb as number)
    return (descending ? -c : c) || byCode(gidOf(a), gidOf(b))
  })
  const offset = q.offset ?? 0
  return { total: rows.length, page: rows.slice(offset, offset + Math.min(q.limit ?? 20, 100)).map((e) => [gidOf(e), text?.get(gidOf(e)) ?? 0]) }
}

describe("CatalogIndex against a linear scan", () => {
  it("answers as the scan after bulk loads of thousands of items with shared and unique terms (past the term, slot and pool tables' growth), new versions, withdrawals and removes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1200, max: 2600 }), fc.integer({ min: 1, max: 1000 }), fc.constantFrom(1, 7, 244, 5000), (n, seed, batch) => {
        const index = new CatalogIndex({ bulkThreshold: 64 })
        const model = new Map<string, Entry>()
        const items: { item: MarketItem; time: number; origin: number }[] = []
        for (let i = 0; i < n; i++) {
          const w = VOCAB[(i * seed) % VOCAB.length]!
          const w2 = VOCAB[(i * 7 + seed) % VOCAB.length]!
          const origin = (i + seed) % 3
          const item: MarketItem = {
            marketplaceId: MARKET,
            itemId: `item-${i}`,
            originNodeId: ORIGINS[origin]!.nodeId,
            version: 1,
            type: i % 2 === 0 ? "plugin" : "persona",
            // a unique number token per item (ids, versions, names), upper case in some
            title: `Item ${i * 31 + seed} ${w} ${i % 5 === 0 ? w2.toUpperCase() : w2}`,
            description: `Helps you ${w} and ${w2}, number ${i % 97}.`,
            ...(i % 3 === 0 ? { category: "x" } : {}),
            tags: i % 4 === 0 ? [w, w2] : [w2],
            pricing: { model: "one_time", price: (i * 13) % 50, currency: "credits" },
          }
          items.push({ item, time: T0 + (i % 11), origin })
        }
        const load = (list: typeof items): void => {
          for (let i = 0; i < list.length; i += batch) index.upsertMany(list.slice(i, i + batch).map((e) => signItem(ORIGINS[e.origin]!, e.item, e.time)))
          for (const e of list) model.set(`${e.item.originNodeId}:${e.item.itemId}`, { item: e.item, time: e.time, rating: 0, count: 0 })
        }
        load(items)
        const check = (q: MarketSearchQuery): void => {
          const got = index.search(q)
          const want = scan(model, q)
          expect(got.items.map((h) => [h.globalId, h.score])).toEqual(want.page)
          expect(got.total).toBe(want.total)
        }
        const queries: MarketSearchQuery[] = [
          { text: "item" },
          { text: `${31 * 5 + seed}` },
          { text: `item ${31 * 7 + seed} alpha`, limit: 5 },
          { text: "alph", sort: "title" },
          { text: "gamna", sort: "-price", offset: 3 },
          { text: "number 5" },
          { sort: "title", offset: 17 },
          { sort: "relevance", offset: n - 10 },
          { category: "x", sort: "newest" },
        ]
        queries.forEach(check)
        // a second wave: new versions (other titles), withdrawals and removes, then the same queries
        const wave = items.filter((_, i) => i % 9 === seed % 9).map((e, k) => ({ ...e, item: { ...e.item, version: 2, title: `Renamed ${k} ${e.item.title}` } }))
        load(wave)
        for (const e of items.filter((_, i) => i % 13 === 1)) {
          const gone = { ...e.item, version: 3, withdrawn: true as const }
          index.upsert(signItem(ORIGINS[e.origin]!, gone, e.time))
          model.delete(`${e.item.originNodeId}:${e.item.itemId}`)
        }
        for (const e of items.filter((_, i) => i % 17 === 2)) {
          const g = `${e.item.originNodeId}:${e.item.itemId}`
          index.remove(g)
          model.delete(g)
        }
        queries.forEach(check)
        expect(index.size).toBe(model.size)
      }),
      { numRuns: 4 },
    )
  })

  it("answers every text, filter, sort and page query exactly as a scan over the live items, scores included, through upserts, withdrawals, bulk loads, removes and rating changes", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(opArb.map((op) => ({ op })), queryArb.map((query) => ({ query }))), { minLength: 1, maxLength: 50 }), fc.array(queryArb, { minLength: 1, maxLength: 6 }), (steps, finalQueries) => {
        const index = new CatalogIndex({ bulkThreshold: 4 })
        const model = new Map<string, Entry>()
        const withdrawnAt = new Map<string, number>()
        const ratings = new Map<string, { rating: number; count: number }>()
        const apply = (spec: Spec): void => {
          const it = toItem(spec)
          const g = `${it.originNodeId}:${it.itemId}`
          const held = model.get(g)
          if ((held && held.item.version >= it.version) || (withdrawnAt.get(g) ?? 0) >= it.version) return
          if (it.withdrawn) {
            model.delete(g)
            withdrawnAt.set(g, it.version)
            return
          }
          withdrawnAt.delete(g)
          const r = ratings.get(g)
          model.set(g, { item: it, time: spec.time, rating: r?.rating ?? 0, count: r?.count ?? 0 })
        }
        const check = (q: MarketSearchQuery): void => {
          const got = index.search(q)
          const want = scan(model, q)
          expect(got.items.map((h) => [h.globalId, h.score])).toEqual(want.page)
          expect(got.total).toBe(want.total)
        }
        for (const step of steps) {
          if ("query" in step) {
            // queries between changes: the orders and segments they build must follow later changes
            check(step.query)
            continue
          }
          const { op } = step
          if (op.op === "upsert") {
            apply(op.spec)
            index.upsert(signItem(ORIGINS[op.spec.origin]!, toItem(op.spec), op.spec.time))
          } else if (op.op === "bulk") {
            for (const s of op.specs) apply(s)
            index.upsertMany(op.specs.map((s) => signItem(ORIGINS[s.origin]!, toItem(s), s.time)))
          } else if (op.op === "remove") {
            const g = `${ORIGINS[op.origin]!.nodeId}:${op.itemId}`
            model.delete(g)
            index.remove(g)
          } else {
            const g = `${ORIGINS[op.origin]!.nodeId}:${op.itemId}`
            const rating = op.count === 0 ? 0 : op.halfStars / 2
            ratings.set(g, { rating, count: op.count })
            const held = model.get(g)
            if (held) model.set(g, { ...held, rating, count: op.count })
            index.setRating(g, { overallRating: rating, ratingCount: op.count })
          }
        }
        expect(index.size).toBe(model.size)
        for (const [g, e] of model) expect(index.get(g)).toMatchObject({ version: e.item.version, time: e.time, title: e.item.title, overallRating: e.rating, ratingCount: e.count, pricing: e.item.pricing })
        for (const q of finalQueries) check(q)
      }),
      { numRuns: 400 },
    )
  })
})
