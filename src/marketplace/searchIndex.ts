/**
 * The catalog's search index: the accepted, not withdrawn item versions of one
 * marketplace, kept current one change at a time (the service feeds it from
 * document patches) and queried without scanning every item.
 *
 * - Text: textIndex.ts (typed-array postings sealed in bulk, a hashed term dictionary, a
 *   sorted term list for prefix and fuzzy lookups, MiniSearch's tokenizer and scoring)
 *   over title (boost 3), tags (2) and the description's first DESCRIPTION_INDEX_CHARS
 *   characters; every word must match, by prefix from 3 letters and fuzzily (1 edit
 *   from 5 letters, 2 from 8). A page of a text query is taken by a bounded heap, not
 *   a sort of every match, and needs no sorted order (ties compare global ids).
 * - Filters and sorts live beside it, per slot (a small integer per item) in typed
 *   columns: per-value slot sets (valueSets.ts: category, type, origin, currency, tag)
 *   give the candidates of a query without text; one sorted order per sort key (price,
 *   rating, title, newest, global id) gives its pages, and a price or rating range is a
 *   binary search in its order. An order is built when a query first sorts by it (radix
 *   sorts over the columns, radixSort.ts), kept by binary insertion after that, and
 *   dropped again by a bulk load (built anew on its next use).
 * - Ratings are the derived values of ratings.ts (`overallRating`: mean stars of the
 *   visible ratings, 0 when unrated, and `ratingCount`), in stars, not half stars.
 * - Every sort breaks ties by global id (ascending, also for descending sorts), so
 *   pages are stable.
 * - A replaced or removed item leaves the text index at once (the term frequencies
 *   scores use are updated on removal), so scores never count a removed item.
 * The index holds no item objects (only their indexed text): a hit is a summary; the item is the service's.
 */
import { FedhubError } from "../errors.ts"
import type { NodeId, SignedEnvelope } from "../identity/index.ts"
import type { MarketItem } from "../schema/index.ts"
import { type GlobalId, globalIdOf } from "./items.ts"
import { compareFolded, sortByNumber, sortByString } from "./radixSort.ts"
import { SlotOrder } from "./searchOrder.ts"
import { checkSearchQuery, type CheckedSearchQuery, type SearchSort } from "./searchQuery.ts"
import { byCodeUnit } from "./signed.ts"
import { itemKeyHash, SlotTable } from "./slotTable.ts"
import { TextIndex } from "./textIndex.ts"
import { ValueSets } from "./valueSets.ts"

/** What the index takes: an accepted item version, signed (its time orders "newest") or as its payload (time 0). */
export type IndexableItem = SignedEnvelope<MarketItem> | MarketItem

/** The derived ratings of an item (ratings.ts `ItemRatings`), in stars. */
export interface RatingSummary {
  overallRating: number
  ratingCount: number
}

/** One result: the item's searchable summary and its text score (0 without text). */
export interface CatalogHit {
  globalId: GlobalId
  score: number
  itemId: string
  origin: NodeId
  version: number
  /** The signed time of this version (0 when indexed from a bare payload). */
  time: number
  type: MarketItem["type"]
  title: string
  category?: string
  tags: string[]
  pricing: MarketItem["pricing"]
  overallRating: number
  ratingCount: number
}

/** One page of results. */
export interface CatalogPage {
  /** How many items match (all pages). */
  total: number
  offset: number
  /** The page size used (capped). */
  limit: number
  items: CatalogHit[]
}

const TYPES: readonly MarketItem["type"][] = ["persona", "plugin", "service", "content", "dataset"]
const MODELS: readonly MarketItem["pricing"]["model"][] = ["free", "one_time"]
/** A batch of this many items or more drops the sorted orders (each built again when a query first sorts by it). */
export const BULK_THRESHOLD = 256
/** Characters of a description the text index reads (the cost of indexing is per word; titles and tags are read whole). */
export const DESCRIPTION_INDEX_CHARS = 1000
/** A candidate set smaller than size / this is scanned and sorted instead of walking a sorted order. */
const SET_FACTOR = 8

type Grown = Float64Array | Uint32Array | Uint8Array
const grow = <T extends Grown>(a: T, n: number): T => {
  if (n <= a.length) return a
  const b = new (a.constructor as new (n: number) => T)(Math.max(n, a.length * 2))
  b.set(a)
  return b
}

/** `s.toLowerCase()`, without a new string when `s` is ASCII without upper case. */
const lower = (s: string): string => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 128 || (c >= 65 && c <= 90)) return s.toLowerCase()
  }
  return s
}

const isEnvelope = (x: IndexableItem): x is SignedEnvelope<MarketItem> => "payload" in x && "sig" in x

/** The sort keys that have a sorted order. */
type OrderKey = "gid" | "price" | "rating" | "title" | "time"
/** A sorted order, its key equality, and its numeric key column (radix-sorted; none: a string key). */
interface KeptOrder {
  order: SlotOrder
  same: (a: number, b: number) => boolean
  column?: () => Float64Array
}

/** The catalog index of one marketplace (see the module comment). */
export class CatalogIndex {
  private readonly text = new TextIndex()
  /** Slots by (origin code, item id): a hash table over the per-slot columns, no global id string per item. */
  private readonly slotOf = new SlotTable((s, o, id) => this.origin[s] === o && this.itemIds[s] === id)
  private readonly free: number[] = []
  private cap = 0
  private next = 0
  // per slot
  /** Per slot: 1 while it holds an item. */
  private alive = new Uint8Array(0)
  private itemIds: string[] = []
  private titles: string[] = []
  /** Lowercased titles of titles beyond ASCII, computed when the title order first needs them (an ASCII title is compared with its case folded, no string made). */
  private titleKeys: (string | undefined)[] = []
  private tags: (string[] | undefined)[] = []
  /** Value codes: category + 1 (0: none), origin, currency. */
  private category = new Uint32Array(0)
  private origin = new Uint32Array(0)
  private currency = new Uint32Array(0)
  private type = new Uint8Array(0)
  private model = new Uint8Array(0)
  private price = new Float64Array(0)
  private version = new Float64Array(0)
  private time = new Float64Array(0)
  private rating = new Float64Array(0)
  private ratingCount = new Uint32Array(0)
  /** Per slot: changes at every rewrite or removal (the value sets' entries of an older generation are dead). */
  private gen = new Uint32Array(0)
  /** Text scores of the current query, per slot (scratch). */
  private scores = new Float64Array(0)
  // per value: the slots holding it
  private readonly byCategory = new ValueSets()
  private readonly byType = new ValueSets()
  private readonly byOrigin = new ValueSets()
  private readonly byCurrency = new ValueSets()
  private readonly byTag = new ValueSets()
  /** Ratings of items not (or no longer) indexed, applied when they arrive. */
  private readonly pendingRatings = new Map<GlobalId, RatingSummary>()
  /** Withdrawn items: the withdrawing version, so an older version replayed stays out. */
  private readonly withdrawn = new Map<GlobalId, number>()

  /** Origin codes ranked by `origin + ":"` (so that origin rank, then item id, is global id order), for `rankedOrigins` codes. */
  private originRank = new Uint32Array(0)
  private rankedOrigins = 0
  /** An origin holds ":" (not a node id): global ids are compared whole. */
  private colonOrigin = false
  private readonly gidCmp = (a: number, b: number): number => {
    const oa = this.origin[a]!
    const ob = this.origin[b]!
    if (oa === ob) return byCodeUnit(this.itemIds[a]!, this.itemIds[b]!)
    if (this.rankedOrigins !== this.byOrigin.values.length) this.rankOrigins()
    return this.colonOrigin ? byCodeUnit(this.gidOf(a), this.gidOf(b)) : this.originRank[oa]! - this.originRank[ob]!
  }
  private readonly titleKey = (s: number): string => {
    const t = this.titles[s]!
    for (let i = 0; i < t.length; i++) if (t.charCodeAt(i) >= 128) return (this.titleKeys[s] ??= t.toLowerCase())
    return t
  }
  private readonly orders: Record<OrderKey, KeptOrder> = {
    gid: { order: new SlotOrder(this.gidCmp), same: () => false },
    price: {
      order: new SlotOrder((a, b) => this.price[a]! - this.price[b]! || this.gidCmp(a, b)),
      same: (a, b) => this.price[a] === this.price[b],
      column: () => this.price,
    },
    rating: {
      order: new SlotOrder((a, b) => this.rating[a]! - this.rating[b]! || this.gidCmp(a, b)),
      same: (a, b) => this.rating[a] === this.rating[b],
      column: () => this.rating,
    },
    title: {
      order: new SlotOrder((a, b) => compareFolded(this.titleKey(a), this.titleKey(b)) || this.gidCmp(a, b)),
      same: (a, b) => compareFolded(this.titleKey(a), this.titleKey(b)) === 0,
    },
    time: {
      order: new SlotOrder((a, b) => this.time[a]! - this.time[b]! || this.gidCmp(a, b)),
      same: (a, b) => this.time[a] === this.time[b],
      column: () => this.time,
    },
  }

  private readonly orderList = Object.values(this.orders)
  private readonly bulk: number

  /** `bulkThreshold`: the batch size from which upsertMany stops maintaining the orders (each is sorted again when a query first needs it). */
  constructor(options: { bulkThreshold?: number } = {}) {
    this.bulk = options.bulkThreshold ?? BULK_THRESHOLD
    // no order is kept until a query sorts by it
    for (const o of this.orderList) o.order.invalidate()
  }

  /** Number of indexed (accepted, not withdrawn) items. */
  get size(): number {
    return this.slotOf.size
  }

  /** The slot holding `globalId`, or -1 (an origin never indexed: -1 without hashing). */
  private slotOfGid(globalId: string): number {
    const colon = globalId.indexOf(":")
    if (colon < 0) return -1
    const o = this.byOrigin.find(globalId.slice(0, colon))
    if (o < 0) return -1
    const itemId = globalId.slice(colon + 1)
    return this.slotOf.find(o, itemId, itemKeyHash(o, itemId))
  }

  private gidOf(slot: number): GlobalId {
    return globalIdOf(this.byOrigin.values[this.origin[slot]!]!, this.itemIds[slot]!)
  }

  private rankOrigins(): void {
    const values = this.byOrigin.values
    const byName = Array.from(values.keys()).sort((a, b) => byCodeUnit(`${values[a]!}:`, `${values[b]!}:`))
    this.originRank = new Uint32Array(values.length)
    byName.forEach((c, r) => (this.originRank[c] = r))
    this.rankedOrigins = values.length
    this.colonOrigin = values.some((v) => v.includes(":"))
  }

  /** True when `globalId` is indexed. */
  has(globalId: string): boolean {
    return this.slotOfGid(globalId) >= 0
  }

  /** The indexed summary of `globalId`, if indexed. */
  get(globalId: string): CatalogHit | undefined {
    const slot = this.slotOfGid(globalId)
    return slot < 0 ? undefined : this.hit(slot, 0)
  }

  /**
   * Indexes an accepted item version: a new item, a greater version replacing the
   * held one, or a withdrawal (removed). An older or equal version than the one
   * held or withdrawn is ignored. Returns whether the index changed.
   */
  upsert(item: IndexableItem): boolean {
    const env = isEnvelope(item) ? item : undefined
    const p = env ? env.payload : (item as MarketItem)
    const o = this.byOrigin.find(p.originNodeId)
    const h = o < 0 ? -1 : itemKeyHash(o, p.itemId)
    const slot = o < 0 ? -1 : this.slotOf.find(o, p.itemId, h)
    if (slot >= 0 && this.version[slot]! >= p.version) return false
    // the global id string only when a map keyed by it is in use
    const gid = this.withdrawn.size > 0 || this.pendingRatings.size > 0 || p.withdrawn === true ? globalIdOf(p.originNodeId, p.itemId) : undefined
    if (this.withdrawn.size > 0) {
      const gone = this.withdrawn.get(gid!)
      if (gone !== undefined && gone >= p.version) return false
    }
    if (p.withdrawn === true) {
      if (slot >= 0) this.removeSlot(slot)
      this.withdrawn.set(gid!, p.version)
      return true
    }
    if (this.withdrawn.size > 0) this.withdrawn.delete(gid!)
    if (slot < 0) this.addSlot(gid, p, env?.time ?? 0, h)
    else this.updateSlot(slot, p, env?.time ?? 0)
    return true
  }

  /** Indexes many versions (the initial load of a shard); a large batch stops maintaining the orders (sorted again on first use). Returns how many changed the index. */
  upsertMany(items: Iterable<IndexableItem>): number {
    const list = Array.isArray(items) ? (items as IndexableItem[]) : [...items]
    if (list.length >= this.bulk) for (const o of this.orderList) o.order.invalidate()
    let changed = 0
    for (let i = 0; i < list.length; i++) if (this.upsert(list[i]!)) changed++
    return changed
  }

  /** Takes `globalId` out of the index (its rating is kept for a later version). Returns whether it was indexed. */
  remove(globalId: string): boolean {
    const slot = this.slotOfGid(globalId)
    if (slot < 0) return false
    this.removeSlot(slot)
    return true
  }

  /** Sets the derived rating of `globalId` (also before the item arrives); throws INVALID_INPUT on values outside 0–5 stars or a non-integer count. */
  setRating(globalId: string, r: RatingSummary): void {
    const { overallRating, ratingCount } = r
    if (!Number.isFinite(overallRating) || overallRating < 0 || overallRating > 5 || !Number.isSafeInteger(ratingCount) || ratingCount < 0)
      throw new FedhubError("INVALID_INPUT", `a rating summary is 0–5 stars and a whole count (got ${String(overallRating)}, ${String(ratingCount)})`)
    if (ratingCount === 0 && overallRating !== 0) throw new FedhubError("INVALID_INPUT", "an item without ratings has overallRating 0")
    const gid = globalId as GlobalId
    const slot = this.slotOfGid(gid)
    if (slot < 0) {
      if (ratingCount === 0) this.pendingRatings.delete(gid)
      else this.pendingRatings.set(gid, { overallRating, ratingCount })
      return
    }
    if (this.rating[slot] !== overallRating) {
      this.orders.rating.order.remove(slot)
      this.rating[slot] = overallRating
      this.orders.rating.order.insert(slot)
    }
    this.ratingCount[slot] = ratingCount
  }

  /** Sorts every stale order and the text index's pending postings and term list now (after a bulk load), so that no query pays for it. */
  warm(): void {
    for (const key of Object.keys(this.orders) as OrderKey[]) this.ensure(key)
    this.text.warm()
  }

  /** Answers a search query (see searchQuery.ts); throws INVALID_INPUT listing every problem of a bad one. */
  search(query: unknown = {}): CatalogPage {
    const q = checkSearchQuery(query)
    const pred = this.predicate(q)
    const { total, slots, scores } = q.words.length > 0 ? this.textSearch(q, pred) : this.filterSearch(q, pred)
    return { total, offset: q.offset, limit: q.limit, items: slots.map((s, i) => this.hit(s, scores?.[i] ?? 0)) }
  }

  // ---- text

  private textSearch(q: CheckedSearchQuery, pred: ((slot: number) => boolean) | undefined): { total: number; slots: number[]; scores: number[] } {
    const m = this.text.search(q.words.map((w) => w.toLowerCase()), pred)
    this.scores = grow(this.scores, this.cap)
    const sc = this.scores
    for (let i = 0; i < m.count; i++) sc[m.slots[i]!] = m.scores[i]!
    // ties by global id compared as strings: a text query needs no sorted order
    const cmp = q.sort === "relevance" ? (a: number, b: number) => sc[b]! - sc[a]! || this.gidCmp(a, b) : this.comparator(q.sort)
    // the page: the first offset + limit by a bounded heap (a common word matches every item), then sorted
    const top = new TopK(q.offset + q.limit, cmp)
    for (let i = 0; i < m.count; i++) top.offer(m.slots[i]!)
    const page = top.sorted().slice(q.offset)
    return { total: m.count, slots: page, scores: page.map((s) => sc[s]!) }
  }

  // ---- filters without text

  private filterSearch(q: CheckedSearchQuery, pred: ((slot: number) => boolean) | undefined): { total: number; slots: number[]; scores?: undefined } {
    const sets: [ValueSets, number][] = []
    if (q.category !== undefined) sets.push([this.byCategory, this.byCategory.find(q.category)])
    if (q.type !== undefined) sets.push([this.byType, this.byType.find(q.type)])
    if (q.origin !== undefined) sets.push([this.byOrigin, this.byOrigin.find(q.origin)])
    if (q.currency !== undefined) sets.push([this.byCurrency, this.byCurrency.find(q.currency)])
    for (const t of q.tags) sets.push([this.byTag, this.byTag.find(t)])
    if (sets.some(([v, c]) => v.size(c) === 0)) return { total: 0, slots: [] }
    const smallest = sets.reduce<[ValueSets, number] | undefined>((m, s) => (m === undefined || s[0].size(s[1]) < m[0].size(m[1]) ? s : m), undefined)
    if (smallest !== undefined && smallest[0].size(smallest[1]) * SET_FACTOR < this.size) {
      const hits: number[] = []
      for (const s of smallest[0].slots(smallest[1], this.gen)) if (!pred || pred(s)) hits.push(s)
      hits.sort(this.comparator(q.sort))
      return { total: hits.length, slots: hits.slice(q.offset, q.offset + q.limit) }
    }
    return this.walk(q, pred)
  }

  /** Walks the sorted order of the query's sort, narrowed by binary search to its price or rating range. */
  private walk(q: CheckedSearchQuery, pred: ((slot: number) => boolean) | undefined): { total: number; slots: number[] } {
    const { key, descending } = SORTS[q.sort]
    const { order, same } = this.ensure(key)
    const arr = order.slots
    let lo = 0
    let hi = arr.length
    let rest = pred
    if (key === "price" && (q.minPrice !== undefined || q.maxPrice !== undefined)) {
      const { minPrice = -Infinity, maxPrice = Infinity } = q
      lo = order.partition((s) => this.price[s]! < minPrice)
      hi = order.partition((s) => this.price[s]! <= maxPrice)
      rest = this.predicate({ ...q, minPrice: undefined, maxPrice: undefined })
    } else if (key === "rating" && (q.minRating !== undefined || q.maxRating !== undefined)) {
      const { minRating = -Infinity, maxRating = Infinity } = q
      lo = order.partition((s) => this.rating[s]! < minRating)
      hi = order.partition((s) => this.rating[s]! <= maxRating)
      rest = this.predicate({ ...q, minRating: undefined, maxRating: undefined })
    }
    hi = Math.max(lo, hi)
    const { offset, limit } = q
    const end = offset + limit
    if (!rest && !descending) return { total: hi - lo, slots: [...arr.subarray(Math.min(hi, lo + offset), Math.min(hi, lo + end))] }
    const slots: number[] = []
    let count = 0
    const take = (s: number): void => {
      if (rest && !rest(s)) return
      if (count >= offset && count < end) slots.push(s)
      count++
    }
    if (!descending) {
      for (let i = lo; i < hi; i++) take(arr[i]!)
      return { total: count, slots }
    }
    // descending by key, ties still by ascending global id: each run of equal keys is walked forwards
    for (let i = hi - 1; i >= lo; ) {
      let j = i
      while (j > lo && same(arr[j - 1]!, arr[i]!)) j--
      for (let k = j; k <= i; k++) take(arr[k]!)
      i = j - 1
      if (!rest && count >= end) return { total: hi - lo, slots }
    }
    return { total: count, slots }
  }

  /** The order of `key`, sorted first (radix sorts over the typed columns) if a bulk change left it stale. */
  private ensure(key: OrderKey): KeptOrder {
    const o = this.orders[key]
    if (o.order.isFresh) return o
    let sorted: Uint32Array<ArrayBuffer>
    if (key === "gid") {
      // global id = origin ":" item id, node ids of one length: item ids sorted, then (stably) origins
      sorted = new Uint32Array(this.slotOf.size)
      let i = 0
      const alive = this.alive
      for (let s = 0; s < this.next; s++) if (alive[s] === 1) sorted[i++] = s
      if (this.rankedOrigins !== this.byOrigin.values.length) this.rankOrigins()
      if (this.colonOrigin) sortByString(sorted, (s) => this.gidOf(s))
      else {
        sortByString(sorted, (s) => this.itemIds[s]!)
        if (this.byOrigin.values.length > 1) {
          const originRank = new Float64Array(this.cap)
          for (const s of sorted) originRank[s] = this.originRank[this.origin[s]!]!
          sortByNumber(sorted, originRank)
        }
      }
    } else {
      sorted = this.ensure("gid").order.slots.slice()
      const column = o.column?.()
      if (column) sortByNumber(sorted, column)
      else sortByString(sorted, this.titleKey, true)
    }
    o.order.assign(sorted)
    return o
  }

  /** The comparator of a sort (ties by global id ascending). */
  private comparator(sort: SearchSort): (a: number, b: number) => number {
    const { key, descending } = SORTS[sort]
    const { order, same } = this.orders[key]
    if (!descending) return order.compare
    return (a, b) => (same(a, b) ? this.gidCmp(a, b) : -order.compare(a, b))
  }

  /** The filters of `q` other than text as one test of a slot; undefined when there are none. */
  private predicate(q: Pick<CheckedSearchQuery, "category" | "type" | "origin" | "currency" | "tags" | "minPrice" | "maxPrice" | "minRating" | "maxRating">): ((slot: number) => boolean) | undefined {
    const tests: ((s: number) => boolean)[] = []
    const { category, type, origin, currency, tags, minPrice, maxPrice, minRating, maxRating } = q
    if (category !== undefined) {
      const code = this.byCategory.find(category) + 1
      tests.push((s) => code > 0 && this.category[s] === code)
    }
    if (type !== undefined) {
      const code = TYPES.indexOf(type)
      tests.push((s) => this.type[s] === code)
    }
    if (origin !== undefined) {
      const code = this.byOrigin.find(origin)
      tests.push((s) => code >= 0 && this.origin[s] === code)
    }
    if (currency !== undefined) {
      const code = this.byCurrency.find(currency)
      tests.push((s) => code >= 0 && this.currency[s] === code)
    }
    for (const t of tags) tests.push((s) => this.tags[s]?.some((x) => x.toLowerCase() === t) === true)
    if (minPrice !== undefined) tests.push((s) => this.price[s]! >= minPrice)
    if (maxPrice !== undefined) tests.push((s) => this.price[s]! <= maxPrice)
    if (minRating !== undefined) tests.push((s) => this.rating[s]! >= minRating)
    if (maxRating !== undefined) tests.push((s) => this.rating[s]! <= maxRating)
    if (tests.length === 0) return undefined
    if (tests.length === 1) return tests[0]
    return (s) => tests.every((t) => t(s))
  }

  // ---- slots

  /** `h`: the item's key hash, or -1 when its origin had no code yet. */
  private addSlot(gid: GlobalId | undefined, p: MarketItem, time: number, h: number): void {
    let slot = this.free.pop()
    if (slot === undefined) {
      slot = this.next++
      if (slot >= this.cap) {
        this.cap = Math.max(1024, this.cap * 2)
        this.type = grow(this.type, this.cap)
        this.model = grow(this.model, this.cap)
        this.price = grow(this.price, this.cap)
        this.version = grow(this.version, this.cap)
        this.time = grow(this.time, this.cap)
        this.rating = grow(this.rating, this.cap)
        this.ratingCount = grow(this.ratingCount, this.cap)
        this.category = grow(this.category, this.cap)
        this.origin = grow(this.origin, this.cap)
        this.currency = grow(this.currency, this.cap)
        this.gen = grow(this.gen, this.cap)
        this.alive = grow(this.alive, this.cap)
      }
    }
    this.alive[slot] = 1
    if (this.pendingRatings.size > 0) {
      const pending = this.pendingRatings.get(gid!)
      this.pendingRatings.delete(gid!)
      this.rating[slot] = pending?.overallRating ?? 0
      this.ratingCount[slot] = pending?.ratingCount ?? 0
    } else {
      this.rating[slot] = 0
      this.ratingCount[slot] = 0
    }
    this.write(slot, p, time)
    this.slotOf.add(slot, h >= 0 ? h : itemKeyHash(this.origin[slot]!, p.itemId))
    for (const o of this.orderList) o.order.insert(slot)
    this.addText(slot, p)
  }

  private updateSlot(slot: number, p: MarketItem, time: number): void {
    const moved = {
      price: this.price[slot] !== p.pricing.price,
      title: this.titles[slot] !== p.title,
      time: this.time[slot] !== time,
    }
    for (const k of ["price", "title", "time"] as const) if (moved[k]) this.orders[k].order.remove(slot)
    this.unlink(slot)
    this.write(slot, p, time)
    for (const k of ["price", "title", "time"] as const) if (moved[k]) this.orders[k].order.insert(slot)
    this.removeText(slot)
    this.addText(slot, p)
  }

  private removeSlot(slot: number): void {
    for (const o of this.orderList) o.order.remove(slot)
    this.unlink(slot)
    if (this.ratingCount[slot]! > 0) this.pendingRatings.set(this.gidOf(slot), { overallRating: this.rating[slot]!, ratingCount: this.ratingCount[slot]! })
    this.removeText(slot)
    this.slotOf.delete(slot)
    this.alive[slot] = 0
    this.titles[slot] = this.itemIds[slot] = ""
    this.titleKeys[slot] = undefined
    this.tags[slot] = undefined
    this.free.push(slot)
  }

  /** Writes the item's fields into `slot` and links it into the value sets. */
  private write(slot: number, p: MarketItem, time: number): void {
    this.itemIds[slot] = p.itemId
    this.titles[slot] = p.title
    this.titleKeys[slot] = undefined
    const tags = p.tags && p.tags.length > 0 ? p.tags : undefined
    this.tags[slot] = tags
    const type = TYPES.indexOf(p.type)
    this.type[slot] = type
    this.model[slot] = MODELS.indexOf(p.pricing.model)
    this.price[slot] = p.pricing.price
    this.version[slot] = p.version
    this.time[slot] = time
    const gen = this.gen
    if (p.category !== undefined) {
      const c = this.byCategory.code(p.category)
      this.category[slot] = c + 1
      this.byCategory.add(c, slot, gen)
    } else this.category[slot] = 0
    this.byType.add(this.byType.code(p.type), slot, gen)
    const o = this.byOrigin.code(p.originNodeId)
    this.origin[slot] = o
    this.byOrigin.add(o, slot, gen)
    const cur = this.byCurrency.code(p.pricing.currency)
    this.currency[slot] = cur
    this.byCurrency.add(cur, slot, gen)
    if (tags)
      for (let i = 0; i < tags.length; i++) {
        const t = lower(tags[i]!)
        // each tag once (tags differing only by case are one)
        let dup = false
        for (let j = 0; j < i && !dup; j++) dup = lower(tags[j]!) === t
        if (!dup) this.byTag.add(this.byTag.code(t), slot, gen)
      }
  }

  /** Takes `slot` out of the value sets (its fields still hold the old values): a new generation, and one fewer live slot per value it held. */
  private unlink(slot: number): void {
    this.gen[slot]!++
    const c = this.category[slot]!
    if (c > 0) this.byCategory.drop(c - 1)
    this.byType.drop(this.byType.find(TYPES[this.type[slot]!]!))
    this.byOrigin.drop(this.origin[slot]!)
    this.byCurrency.drop(this.currency[slot]!)
    const tags = this.tags[slot]
    if (tags) for (const t of new Set(tags.map((t) => t.toLowerCase()))) this.byTag.drop(this.byTag.find(t))
  }

  private addText(slot: number, p: MarketItem): void {
    const tags = p.tags ?? ""
    const d = p.description ?? ""
    this.text.addDoc(slot, p.title, tags, d.length > DESCRIPTION_INDEX_CHARS ? d.slice(0, DESCRIPTION_INDEX_CHARS) : d)
  }

  private removeText(slot: number): void {
    this.text.remove(slot)
  }

  private hit(slot: number, score: number): CatalogHit {
    const c = this.category[slot]!
    return {
      globalId: this.gidOf(slot),
      score,
      itemId: this.itemIds[slot]!,
      origin: this.byOrigin.values[this.origin[slot]!] as NodeId,
      version: this.version[slot]!,
      time: this.time[slot]!,
      type: TYPES[this.type[slot]!]!,
      title: this.titles[slot]!,
      ...(c === 0 ? {} : { category: this.byCategory.values[c - 1]! }),
      tags: [...(this.tags[slot] ?? [])],
      pricing: { model: MODELS[this.model[slot]!]!, price: this.price[slot]!, currency: this.byCurrency.values[this.currency[slot]!]! },
      overallRating: this.rating[slot]!,
      ratingCount: this.ratingCount[slot]!,
    }
  }
}

/** The first `k` of a stream by `cmp`: a bounded max-heap (its root sorts last among those kept). */
class TopK {
  readonly items: number[] = []
  constructor(
    private readonly k: number,
    private readonly cmp: (a: number, b: number) => number,
  ) {}

  offer(x: number): void {
    const h = this.items
    if (this.k === 0) return
    if (h.length < this.k) {
      h.push(x)
      for (let i = h.length - 1; i > 0; ) {
        const up = (i - 1) >> 1
        if (this.cmp(h[up]!, h[i]!) >= 0) break
        ;[h[up], h[i]] = [h[i]!, h[up]!]
        i = up
      }
      return
    }
    if (this.cmp(x, h[0]!) >= 0) return
    h[0] = x
    for (let i = 0; ; ) {
      const l = 2 * i + 1
      const r = l + 1
      let big = i
      if (l < h.length && this.cmp(h[l]!, h[big]!) > 0) big = l
      if (r < h.length && this.cmp(h[r]!, h[big]!) > 0) big = r
      if (big === i) break
      ;[h[big], h[i]] = [h[i]!, h[big]!]
      i = big
    }
  }

  sorted(): number[] {
    return [...this.items].sort(this.cmp)
  }
}

/** Which order each sort walks, and in which direction. */
const SORTS: Record<SearchSort, { key: OrderKey; descending: boolean }> = {
  relevance: { key: "gid", descending: false },
  price: { key: "price", descending: false },
  "-price": { key: "price", descending: true },
  rating: { key: "rating", descending: false },
  "-rating": { key: "rating", descending: true },
  title: { key: "title", descending: false },
  newest: { key: "time", descending: true },
}
