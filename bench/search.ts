/**
 * The catalog search index (src/marketplace/searchIndex.ts) on N synthetic items:
 * build time (upsertMany, ratings, sorting the orders), RSS, and p50/p99 of a mix of
 * queries (text, text + filters, filters only, sorted pages). Baseline in the same run:
 * a naive linear scan (filter, then sort, then slice) over the same items.
 *
 * `npm run bench -- search [--items N]` (default 1,000,000).
 */
import type { NodeId, SignedEnvelope } from "../src/identity/index.ts"
import type { MarketItem } from "../src/schema/index.ts"
import { CatalogIndex } from "../src/marketplace/searchIndex.ts"
import type { MarketSearchQuery } from "../src/schema/index.ts"
import { ms, printTable, quantile } from "./stats.ts"

/** `--items N` from the command line. */
function itemsArg(): number {
  const i = process.argv.indexOf("--items")
  const n = i < 0 ? 1_000_000 : Number(process.argv[i + 1])
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--items takes a positive integer (got ${process.argv[i + 1]})`)
  return n
}

/** A seeded generator, so both sides see the same items and queries. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const TYPES: MarketItem["type"][] = ["persona", "plugin", "service", "content", "dataset"]
const SYLLABLES = ["ka", "lo", "mi", "ren", "ta", "vo", "shi", "na", "pe", "ru", "zen", "dor", "ix", "qua", "bel", "tor"]

interface Catalog {
  items: MarketItem[]
  times: number[]
  ratings: Map<string, number>
  vocab: string[]
  categories: string[]
  origins: string[]
}

/** N items over a 20,000-word vocabulary (Zipf-like), 30 categories, 200 origins, 30% rated. */
function makeCatalog(n: number): Catalog {
  const r = rng(42)
  const vocab = Array.from({ length: 20_000 }, (_, i) => {
    let w = ""
    let x = i + 7
    do {
      w += SYLLABLES[x % SYLLABLES.length]
      x = Math.floor(x / SYLLABLES.length)
    } while (x > 0)
    return w
  })
  const word = (): string => vocab[Math.floor(vocab.length * r() ** 2.5)]!
  const words = (k: number): string => Array.from({ length: k }, word).join(" ")
  const categories = Array.from({ length: 30 }, (_, i) => `cat-${i}`)
  const origins = Array.from({ length: 200 }, (_, i) => `fh1${i.toString(32).padStart(4, "a").replace(/[^a-z2-7]/g, "a")}${"q".repeat(48)}`)
  const items: MarketItem[] = []
  const times: number[] = []
  const ratings = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const origin = origins[Math.floor(r() * origins.length)]!
    const it: MarketItem = {
      marketplaceId: "2uZ8fxkEMSPdBLcXhT5VGqpeWbY1",
      itemId: `item-${i}`,
      originNodeId: origin as MarketItem["originNodeId"],
      version: 1,
      type: TYPES[Math.floor(r() * TYPES.length)]!,
      title: words(2 + Math.floor(r() * 4)),
      description: words(10 + Math.floor(r() * 20)),
      category: categories[Math.floor(categories.length * r() ** 1.5)]!,
      tags: [...new Set([word(), word(), word()])].slice(0, 1 + Math.floor(r() * 3)),
      pricing: r() < 0.2 ? { model: "free", price: 0, currency: "credits" } : { model: "one_time", price: Math.floor(r() * 100_000), currency: r() < 0.9 ? "credits" : "EUR" },
    }
    items.push(it)
    times.push(1_760_000_000_000 + Math.floor(r() * 1e9))
    if (r() < 0.3) ratings.set(`${origin}:${it.itemId}`, (2 + Math.floor(r() * 9)) / 2)
  }
  return { items, times, ratings, vocab, categories, origins }
}

interface Kind {
  name: string
  make: () => MarketSearchQuery
}

/** The query mix: what a catalog page and its search box send. */
function kinds(c: Catalog): Kind[] {
  const r = rng(7)
  const common = (): string => c.vocab[Math.floor(r() * 30)]!
  const mid = (): string => c.vocab[30 + Math.floor(r() * 2000)]!
  const rare = (): string => c.vocab[5000 + Math.floor(r() * 15_000)]!
  const cat = (): string => c.categories[Math.floor(r() * c.categories.length)]!
  const origin = (): string => c.origins[Math.floor(r() * c.origins.length)]!
  const typo = (w: string): string => (w.length >= 5 ? w.slice(0, 2) + w[3] + w[2] + w.slice(4) : w)
  return [
    { name: "text: one common word", make: () => ({ text: common() }) },
    { name: "text: one mid word", make: () => ({ text: mid() }) },
    { name: "text: two words", make: () => ({ text: `${mid()} ${common()}` }) },
    { name: "text: rare word, typo", make: () => ({ text: typo(rare()) }) },
    { name: "text: prefix (4 letters)", make: () => ({ text: mid().slice(0, 4) }) },
    { name: "text + category + price", make: () => ({ text: mid(), category: cat(), maxPrice: 50_000 }) },
    { name: "text + rating, by price", make: () => ({ text: common(), minRating: 3, sort: "price" }) },
    { name: "filter: category, by rating", make: () => ({ category: cat(), sort: "-rating" }) },
    { name: "filter: origin + type, newest", make: () => ({ origin: origin(), type: TYPES[Math.floor(r() * 5)]!, sort: "newest" }) },
    { name: "filter: price range, by price", make: () => ({ minPrice: 10_000, maxPrice: 12_000, sort: "price", offset: 20 }) },
    { name: "filter: rating >= 4, by title", make: () => ({ minRating: 4, sort: "title" }) },
    { name: "sorted page: -price, offset 1000", make: () => ({ sort: "-price", offset: 1000, limit: 50 }) },
    { name: "sorted page: newest, page 1", make: () => ({ sort: "newest" }) },
  ]
}

/** The baseline: every query answered by scanning every item. */
function naiveSearch(c: Catalog, q: MarketSearchQuery): { total: number; ids: string[] } {
  const words = (q.text ?? "").toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0)
  const rows: { i: number; gid: string }[] = []
  for (let i = 0; i < c.items.length; i++) {
    const p = c.items[i]!
    if (q.category !== undefined && p.category !== q.category) continue
    if (q.type !== undefined && p.type !== q.type) continue
    if (q.origin !== undefined && p.originNodeId !== q.origin) continue
    if (q.minPrice !== undefined && p.pricing.price < q.minPrice) continue
    if (q.maxPrice !== undefined && p.pricing.price > q.maxPrice) continue
    const gid = `${p.originNodeId}:${p.itemId}`
    const rating = c.ratings.get(gid) ?? 0
    if (q.minRating !== undefined && rating < q.minRating) continue
    if (words.length > 0) {
      const text = `${p.title} ${p.description ?? ""} ${(p.tags ?? []).join(" ")}`.toLowerCase()
      if (!words.every((w) => text.includes(w))) continue
    }
    rows.push({ i, gid })
  }
  const key = (row: { i: number; gid: string }): number | string => {
    const p = c.items[row.i]!
    switch (q.sort) {
      case "price":
      case "-price":
        return p.pricing.price
      case "-rating":
      case "rating":
        return c.ratings.get(row.gid) ?? 0
      case "title":
        return p.title.toLowerCase()
      case "newest":
        return c.times[row.i]!
      default:
        return 0
    }
  }
  const desc = q.sort === "-price" || q.sort === "-rating" || q.sort === "newest" ? -1 : 1
  rows.sort((a, b) => {
    const ka = key(a)
    const kb = key(b)
    const k = ka < kb ? -1 : ka > kb ? 1 : 0
    return desc * k || (a.gid < b.gid ? -1 : a.gid > b.gid ? 1 : 0)
  })
  const offset = q.offset ?? 0
  return { total: rows.length, ids: rows.slice(offset, offset + (q.limit ?? 20)).map((r) => r.gid) }
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`

/** Runs the bench and prints its tables. */
export async function benchSearch(): Promise<void> {
  const n = itemsArg()
  const reps = n >= 500_000 ? 30 : 60
  const naiveReps = n >= 500_000 ? 3 : 10
  let t = performance.now()
  const c = makeCatalog(n)
  const genMs = performance.now() - t
  const rssBefore = process.memoryUsage().rss

  const index = new CatalogIndex()
  t = performance.now()
  // the service loads shard by shard: 1,000 items per call
  // envelopes as the service hands them over once verified (the index reads payload and time, not the signature)
  const envelopes: SignedEnvelope<MarketItem>[] = c.items.map((payload, i) => ({ v: 1, purpose: "fedhub/market-item/v1", signer: payload.originNodeId as NodeId, time: c.times[i]!, payload, sig: "" }))
  for (let i = 0; i < envelopes.length; i += 1000) index.upsertMany(envelopes.slice(i, i + 1000))
  const loadMs = performance.now() - t
  t = performance.now()
  for (const [gid, stars] of c.ratings) index.setRating(gid, { overallRating: stars, ratingCount: 1 })
  const ratingsMs = performance.now() - t
  t = performance.now()
  index.warm()
  const warmMs = performance.now() - t
  const rssAfter = process.memoryUsage().rss

  // one incremental change at full size: a new version with another price and title, and a rating
  const changeTimes: number[] = []
  for (let k = 0; k < 200; k++) {
    const i = (k * 7919) % n
    const p = c.items[i]!
    const next = { ...p, version: p.version + 1 + k, title: `${p.title} v${k}`, pricing: { ...p.pricing, price: (p.pricing.price + 777 * k) % 100_000 } }
    const t0 = performance.now()
    index.upsert({ ...envelopes[i]!, payload: next })
    index.setRating(`${p.originNodeId}:${p.itemId}`, { overallRating: 4, ratingCount: 2 })
    changeTimes.push(performance.now() - t0)
  }
  // the naive baseline must see the same catalog
  for (let k = 0; k < 200; k++) {
    const i = (k * 7919) % n
    const p = c.items[i]!
    c.items[i] = { ...p, version: p.version + 1 + k, title: `${p.title} v${k}`, pricing: { ...p.pricing, price: (p.pricing.price + 777 * k) % 100_000 } }
    c.ratings.set(`${p.originNodeId}:${p.itemId}`, 4)
  }

  printTable(`search index build, ${n.toLocaleString("en")} items (generating them: ${(genMs / 1000).toFixed(1)} s)`, ["step", "time", "note"], [
    ["upsertMany (1,000 per call)", `${(loadMs / 1000).toFixed(2)} s`, `${((loadMs * 1000) / n).toFixed(1)} µs/item`],
    ["setRating (30% of items)", ms(ratingsMs), ""],
    ["warm (sort 5 orders)", ms(warmMs), ""],
    ["upsert new version + setRating", `${ms(quantile(changeTimes, 0.5))} p50`, `${ms(quantile(changeTimes, 0.99))} p99`],
    ["RSS", mb(rssAfter), `+${mb(rssAfter - rssBefore)} for the index (items held by the bench: ${mb(rssBefore)})`],
  ])

  const rows: (string | number)[][] = []
  let mismatches = 0
  for (const kind of kinds(c)) {
    const queries = Array.from({ length: reps }, kind.make)
    for (const q of queries.slice(0, 3)) index.search(q) // warm the JIT
    const times: number[] = []
    let totals = 0
    for (const q of queries) {
      const t0 = performance.now()
      totals += index.search(q).total
      times.push(performance.now() - t0)
    }
    const naiveTimes: number[] = []
    for (const q of queries.slice(0, naiveReps)) {
      const t0 = performance.now()
      const base = naiveSearch(c, q)
      naiveTimes.push(performance.now() - t0)
      // same answer where the two agree on what matches (no text: exactly the same)
      if (q.text === undefined) {
        const got = index.search(q)
        if (got.total !== base.total || got.items.map((h) => h.globalId).join() !== base.ids.join()) mismatches++
      }
    }
    const p50 = quantile(times, 0.5)
    const b50 = quantile(naiveTimes, 0.5)
    rows.push([kind.name, Math.round(totals / queries.length), ms(p50), ms(quantile(times, 0.99)), ms(b50), ms(quantile(naiveTimes, 0.99)), `${(b50 / p50).toFixed(0)}x`])
  }
  printTable(`search queries on ${n.toLocaleString("en")} items (${reps} runs each; baseline: linear scan, ${naiveReps} runs)`, ["query", "avg total", "index p50", "index p99", "scan p50", "scan p99", "speed-up"], rows)
  console.log(mismatches === 0 ? "\nfilter-only answers equal the linear scan's" : `\n${mismatches} filter-only answers DIFFER from the linear scan's`)
}
