/**
 * The catalog's search index: the accepted, not withdrawn item versions of one
 * marketplace, kept current one change at a time (the service feeds it from
 * document patches) and queried without scanning every item.
 *
 * - Text: textIndex.ts (MiniSearch's term dictionary and scoring over flat postings)
 *   over title (boost 3), tags (2) and the description's first DESCRIPTION_INDEX_CHARS
 *   characters; every word must match, by prefix from 3 letters and fuzzily (1 edit
 *   from 5 letters, 2 from 8). A page of a text query is taken by a bounded heap, not
 *   a sort of every match.
 * - Filters and sorts live beside it, per slot (a small integer per item) in typed
 *   arrays: per-value slot sets (category, type, origin, currency, tag) give the
 *   candidates of a query without text; one sorted order per sort key (price,
 *   rating, title, newest, global id), kept by binary insertion and re-sorted once
 *   after a bulk load, gives its pages, and a price or rating range is a binary
 *   search in its order.
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
import { type GlobalId, itemGlobalId } from "./items.ts"
import { SlotOrder } from "./searchOrder.ts"
import { checkSearchQuery, type CheckedSearchQuery, type SearchSort } from "./searchQuery.ts"
import { byCodeUnit } from "./signed.ts"
import { TextIndex } from "./textIndex.ts"

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
/** A batch of this many items or more invalidates the sorted orders (re-sorted once on first use). */
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

const isEnvelope = (x: IndexableItem): x is SignedEnvelope<MarketItem> => "payload" in x && "sig" in x

/** The sort keys that have a sorted order. */
type OrderKey = "gid" | "price" | "rating" | "title" | "time"
/** A sorted order, its cheaper comparator for a full sort (ties by global id rank), and its key equality. */
interface KeptOrder {
  order: SlotOrder
  fast: (a: number, b: number) => number
  same: (a: number, b: number) => boolean
}

/** The catalog index of one marketplace (see the module comment). */
export class CatalogIndex {
  private readonly text = new TextIndex()
  private readonly slotOf = new Map<GlobalId, number>()
  private readonly free: number[] = []
  private cap = 0
  private next = 0
  // per slot
  private gids: (GlobalId | undefined)[] = []
  private titles: string[] = []
  private titleKeys: string[] = []
  private tags: (string[] | undefined)[] = []
  private categories: (string | undefined)[] = []
  private origins: NodeId[] = []
  private currencies: string[] = []
  private type = new Uint8Array(0)
  private model = new Uint8Array(0)
  private price = new Float64Array(0)
  private version = new Float64Array(0)
  private time = new Float64Array(0)
  private rating = new Float64Array(0)
  private ratingCount = new Uint32Array(0)
  private rank = new Uint32Array(0)
  /** Text scores of the current query, per slot (scratch). */
  private scores = new Float64Array(0)
  private rankFor = -1
  private gidChanges = 0
  // per value: the slots holding it
  private readonly byCategory = new Map<string, Set<number>>()
  private readonly byType = new Map<string, Set<number>>()
  private readonly byOrigin = new Map<string, Set<number>>()
  private readonly byCurrency = new Map<string, Set<number>>()
  private readonly byTag = new Map<string, Set<number>>()
  private readonly interned = new Map<string, string>()
  /** Ratings of items not (or no longer) indexed, applied when they arrive. */
  private readonly pendingRatings = new Map<GlobalId, RatingSummary>()
  /** Withdrawn items: the withdrawing version, so an older version replayed stays out. */
  private readonly withdrawn = new Map<GlobalId, number>()

  private readonly gidCmp = (a: number, b: number): number => byCodeUnit(this.gids[a]!, this.gids[b]!)
  private readonly orders: Record<OrderKey, KeptOrder> = {
    gid: { order: new SlotOrder(this.gidCmp), fast: this.gidCmp, same: () => false },
    price: {
      order: new SlotOrder((a, b) => this.price[a]! - this.price[b]! || this.gidCmp(a, b)),
      fast: (a, b) => this.price[a]! - this.price[b]! || this.rank[a]! - this.rank[b]!,
      same: (a, b) => this.price[a] === this.price[b],
    },
    rating: {
      order: new SlotOrder((a, b) => this.rating[a]! - this.rating[b]! || this.gidCmp(a, b)),
      fast: (a, b) => this.rating[a]! - this.rating[b]! || this.rank[a]! - this.rank[b]!,
      same: (a, b) => this.rating[a] === this.rating[b],
    },
    title: {
      order: new SlotOrder((a, b) => byCodeUnit(this.titleKeys[a]!, this.titleKeys[b]!) || this.gidCmp(a, b)),
      fast: (a, b) => byCodeUnit(this.titleKeys[a]!, this.titleKeys[b]!) || this.rank[a]! - this.rank[b]!,
      same: (a, b) => this.titleKeys[a] === this.titleKeys[b],
    },
    time: {
      order: new SlotOrder((a, b) => this.time[a]! - this.time[b]! || this.gidCmp(a, b)),
      fast: (a, b) => this.time[a]! - this.time[b]! || this.rank[a]! - this.rank[b]!,
      same: (a, b) => this.time[a] === this.time[b],
    },
  }

  private readonly orderList = Object.values(this.orders)
  private readonly bulk: number

  /** `bulkThreshold`: the batch size from which upsertMany re-sorts the orders instead of inserting into them. */
  constructor(options: { bulkThreshold?: number } = {}) {
    this.bulk = options.bulkThreshold ?? BULK_THRESHOLD
    for (const o of Object.values(this.orders)) o.order.rebuild(new Uint32Array(0))
  }

  /** Number of indexed (accepted, not withdrawn) items. */
  get size(): number {
    return this.slotOf.size
  }

  /** True when `globalId` is indexed. */
  has(globalId: string): boolean {
    return this.slotOf.has(globalId as GlobalId)
  }

  /** The indexed summary of `globalId`, if indexed. */
  get(globalId: string): CatalogHit | undefined {
    const slot = this.slotOf.get(globalId as GlobalId)
    return slot === undefined ? undefined : this.hit(slot, 0)
  }

  /**
   * Indexes an accepted item version: a new item, a greater version replacing the
   * held one, or a withdrawal (removed). An older or equal version than the one
   * held or withdrawn is ignored. Returns whether the index changed.
   */
  upsert(item: IndexableItem): boolean {
    const env = isEnvelope(item) ? item : undefined
    const p = env ? env.payload : (item as MarketItem)
    const gid = itemGlobalId(p)
    const slot = this.slotOf.get(gid)
    if (slot !== undefined && this.version[slot]! >= p.version) return false
    const gone = this.withdrawn.get(gid)
    if (gone !== undefined && gone >= p.version) return false
    if (p.withdrawn === true) {
      if (slot !== undefined) this.removeSlot(gid, slot)
      this.withdrawn.set(gid, p.version)
      return true
    }
    this.withdrawn.delete(gid)
    if (slot === undefined) this.addSlot(gid, p, env?.time ?? 0)
    else this.updateSlot(slot, p, env?.time ?? 0)
    return true
  }

  /** Indexes many versions (the initial load of a shard); a large batch re-sorts the orders once instead of inserting into them. Returns how many changed the index. */
  upsertMany(items: Iterable<IndexableItem>): number {
    const list = Array.isArray(items) ? (items as IndexableItem[]) : [...items]
    if (list.length >= this.bulk) for (const o of Object.values(this.orders)) o.order.invalidate()
    let changed = 0
    for (const it of list) if (this.upsert(it)) changed++
    return changed
  }

  /** Takes `globalId` out of the index (its rating is kept for a later version). Returns whether it was indexed. */
  remove(globalId: string): boolean {
    const gid = globalId as GlobalId
    const slot = this.slotOf.get(gid)
    if (slot === undefined) return false
    this.removeSlot(gid, slot)
    return true
  }

  /** Sets the derived rating of `globalId` (also before the item arrives); throws INVALID_INPUT on values outside 0–5 stars or a non-integer count. */
  setRating(globalId: string, r: RatingSummary): void {
    const { overallRating, ratingCount } = r
    if (!Number.isFinite(overallRating) || overallRating < 0 || overallRating > 5 || !Number.isSafeInteger(ratingCount) || ratingCount < 0)
      throw new FedhubError("INVALID_INPUT", `a rating summary is 0–5 stars and a whole count (got ${String(overallRating)}, ${String(ratingCount)})`)
    if (ratingCount === 0 && overallRating !== 0) throw new FedhubError("INVALID_INPUT", "an item without ratings has overallRating 0")
    const gid = globalId as GlobalId
    const slot = this.slotOf.get(gid)
    if (slot === undefined) {
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

  /** Sorts every stale order now (after a bulk load), so that no query pays for it. */
  warm(): void {
    for (const key of Object.keys(this.orders) as OrderKey[]) this.ensure(key)
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
    const rank = this.ranks()
    const cmp = q.sort === "relevance" ? (a: number, b: number) => sc[b]! - sc[a]! || rank[a]! - rank[b]! : this.fastComparator(q.sort)
    // the page: the first offset + limit by a bounded heap (a common word matches every item), then sorted
    const top = new TopK(q.offset + q.limit, cmp)
    for (let i = 0; i < m.count; i++) top.offer(m.slots[i]!)
    const page = top.sorted().slice(q.offset)
    return { total: m.count, slots: page, scores: page.map((s) => sc[s]!) }
  }

  // ---- filters without text

  private filterSearch(q: CheckedSearchQuery, pred: ((slot: number) => boolean) | undefined): { total: number; slots: number[]; scores?: undefined } {
    const sets: (Set<number> | undefined)[] = []
    if (q.category !== undefined) sets.push(this.byCategory.get(q.category))
    if (q.type !== undefined) sets.push(this.byType.get(q.type))
    if (q.origin !== undefined) sets.push(this.byOrigin.get(q.origin))
    if (q.currency !== undefined) sets.push(this.byCurrency.get(q.currency))
    for (const t of q.tags) sets.push(this.byTag.get(t))
    if (sets.some((s) => s === undefined || s.size === 0)) return { total: 0, slots: [] }
    const smallest = (sets as Set<number>[]).reduce<Set<number> | undefined>((m, s) => (m === undefined || s.size < m.size ? s : m), undefined)
    if (smallest !== undefined && smallest.size * SET_FACTOR < this.size) {
      const hits: number[] = []
      for (const s of smallest) if (!pred || pred(s)) hits.push(s)
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

  /** The order of `key`, re-sorted first if a bulk change left it stale. */
  private ensure(key: OrderKey): KeptOrder {
    const o = this.orders[key]
    if (o.order.isFresh) return o
    const live = new Uint32Array(this.slotOf.size)
    let i = 0
    for (const s of this.slotOf.values()) live[i++] = s
    if (key !== "gid") this.ranks()
    o.order.rebuild(live, o.fast)
    return o
  }

  /** Each live slot's rank in the global id order (fresh). */
  private ranks(): Uint32Array {
    const g = this.ensure("gid").order
    if (this.rankFor !== this.gidChanges) {
      this.rank = grow(this.rank, this.cap)
      const gs = g.slots
      for (let r = 0; r < gs.length; r++) this.rank[gs[r]!] = r
      this.rankFor = this.gidChanges
    }
    return this.rank
  }

  /** `comparator`, with ties broken by the global id ranks (valid until the next change). */
  private fastComparator(sort: SearchSort): (a: number, b: number) => number {
    const { key, descending } = SORTS[sort]
    const rank = this.ranks()
    if (key === "gid") return (a, b) => rank[a]! - rank[b]!
    const { fast, same } = this.orders[key]
    if (!descending) return fast
    return (a, b) => (same(a, b) ? rank[a]! - rank[b]! : -fast(a, b))
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
    if (category !== undefined) tests.push((s) => this.categories[s] === category)
    if (type !== undefined) {
      const code = TYPES.indexOf(type)
      tests.push((s) => this.type[s] === code)
    }
    if (origin !== undefined) tests.push((s) => this.origins[s] === origin)
    if (currency !== undefined) tests.push((s) => this.currencies[s] === currency)
    for (const t of tags) {
      const set = this.byTag.get(t)
      tests.push((s) => set?.has(s) === true)
    }
    if (minPrice !== undefined) tests.push((s) => this.price[s]! >= minPrice)
    if (maxPrice !== undefined) tests.push((s) => this.price[s]! <= maxPrice)
    if (minRating !== undefined) tests.push((s) => this.rating[s]! >= minRating)
    if (maxRating !== undefined) tests.push((s) => this.rating[s]! <= maxRating)
    if (tests.length === 0) return undefined
    if (tests.length === 1) return tests[0]
    return (s) => tests.every((t) => t(s))
  }

  // ---- slots

  private intern(s: string): string {
    const known = this.interned.get(s)
    if (known !== undefined) return known
    this.interned.set(s, s)
    return s
  }

  private addSlot(gid: GlobalId, p: MarketItem, time: number): void {
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
      }
    }
    this.slotOf.set(gid, slot)
    this.gids[slot] = gid
    this.gidChanges++
    const pending = this.pendingRatings.get(gid)
    this.pendingRatings.delete(gid)
    this.rating[slot] = pending?.overallRating ?? 0
    this.ratingCount[slot] = pending?.ratingCount ?? 0
    this.write(slot, p, time)
    for (const o of this.orderList) o.order.insert(slot)
    this.addText(slot, p)
  }

  private updateSlot(slot: number, p: MarketItem, time: number): void {
    const moved = {
      price: this.price[slot] !== p.pricing.price,
      title: this.titleKeys[slot] !== p.title.toLowerCase(),
      time: this.time[slot] !== time,
    }
    for (const k of ["price", "title", "time"] as const) if (moved[k]) this.orders[k].order.remove(slot)
    this.unlink(slot)
    this.write(slot, p, time)
    for (const k of ["price", "title", "time"] as const) if (moved[k]) this.orders[k].order.insert(slot)
    this.removeText(slot)
    this.addText(slot, p)
  }

  private removeSlot(gid: GlobalId, slot: number): void {
    for (const o of Object.values(this.orders)) o.order.remove(slot)
    this.unlink(slot)
    if (this.ratingCount[slot]! > 0) this.pendingRatings.set(gid, { overallRating: this.rating[slot]!, ratingCount: this.ratingCount[slot]! })
    this.removeText(slot)
    this.slotOf.delete(gid)
    this.gids[slot] = undefined
    this.titles[slot] = this.titleKeys[slot] = ""
    this.tags[slot] = undefined
    this.gidChanges++
    this.free.push(slot)
  }

  /** Writes the item's fields into `slot` and links it into the value sets. */
  private write(slot: number, p: MarketItem, time: number): void {
    this.titles[slot] = p.title
    this.titleKeys[slot] = p.title.toLowerCase()
    const tags = p.tags && p.tags.length > 0 ? p.tags : undefined
    this.tags[slot] = tags
    this.categories[slot] = p.category === undefined ? undefined : this.intern(p.category)
    this.origins[slot] = this.intern(p.originNodeId) as NodeId
    this.currencies[slot] = this.intern(p.pricing.currency)
    this.type[slot] = TYPES.indexOf(p.type)
    this.model[slot] = MODELS.indexOf(p.pricing.model)
    this.price[slot] = p.pricing.price
    this.version[slot] = p.version
    this.time[slot] = time
    if (p.category !== undefined) link(this.byCategory, p.category, slot)
    link(this.byType, p.type, slot)
    link(this.byOrigin, p.originNodeId, slot)
    link(this.byCurrency, p.pricing.currency, slot)
    if (tags) for (let i = 0; i < tags.length; i++) {
      const t = tags[i]!.toLowerCase()
      // each tag once (tags differing only by case are one)
      let dup = false
      for (let j = 0; j < i && !dup; j++) dup = tags[j]!.toLowerCase() === t
      if (!dup) link(this.byTag, t, slot)
    }
  }

  /** Takes `slot` out of the value sets (its fields still hold the old values). */
  private unlink(slot: number): void {
    const unlink = (m: Map<string, Set<number>>, v: string | undefined): void => {
      if (v === undefined) return
      const set = m.get(v)
      if (!set) return
      set.delete(slot)
      if (set.size === 0) m.delete(v)
    }
    unlink(this.byCategory, this.categories[slot])
    unlink(this.byType, TYPES[this.type[slot]!])
    unlink(this.byOrigin, this.origins[slot])
    unlink(this.byCurrency, this.currencies[slot])
    for (const t of new Set(this.tags[slot]?.map((t) => t.toLowerCase()))) unlink(this.byTag, t)
  }

  private addText(slot: number, p: MarketItem): void {
    this.text.add(slot, { title: p.title, description: (p.description ?? "").slice(0, DESCRIPTION_INDEX_CHARS), tags: (p.tags ?? []).join(" ") })
  }

  private removeText(slot: number): void {
    this.text.remove(slot)
  }

  private hit(slot: number, score: number): CatalogHit {
    const gid = this.gids[slot]!
    const origin = this.origins[slot]!
    const category = this.categories[slot]
    return {
      globalId: gid,
      score,
      itemId: gid.slice(origin.length + 1),
      origin,
      version: this.version[slot]!,
      time: this.time[slot]!,
      type: TYPES[this.type[slot]!]!,
      title: this.titles[slot]!,
      ...(category === undefined ? {} : { category }),
      tags: [...(this.tags[slot] ?? [])],
      pricing: { model: MODELS[this.model[slot]!]!, price: this.price[slot]!, currency: this.currencies[slot]! },
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

/** Adds `slot` to the set of value `v`. */
function link(m: Map<string, Set<number>>, v: string, slot: number): void {
  let set = m.get(v)
  if (!set) m.set(v, (set = new Set()))
  set.add(slot)
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
