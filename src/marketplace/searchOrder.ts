/**
 * A sorted order of index slots (small integers) for one sort key of the catalog
 * index: kept current one slot at a time (binary search + one `copyWithin`, O(log n)
 * compares and one memmove), or marked stale by a bulk load and given a sorted array
 * again (`assign`, radix-sorted by the index) when a query first needs it. The comparator must be a strict total order over
 * live slots (key, then global id), read from the slots' current field values:
 * remove a slot before changing its key, insert it after.
 */

/** Compares two slots: negative when `a` sorts first. */
export type SlotCompare = (a: number, b: number) => number

/** One sort key's order of the live slots. */
export class SlotOrder {
  private arr: Uint32Array<ArrayBuffer> = new Uint32Array(1024)
  private n = 0
  private fresh = false

  constructor(readonly compare: SlotCompare) {}

  /** False after `invalidate` until the next `rebuild`; a stale order is not maintained. */
  get isFresh(): boolean {
    return this.fresh
  }

  /** Number of slots in the order (when fresh). */
  get size(): number {
    return this.n
  }

  /** The sorted slots, `[0, size)`; valid until the next change. */
  get slots(): Uint32Array {
    return this.arr.subarray(0, this.n)
  }

  /** Stops maintaining the order (a bulk change follows); the next `rebuild` sorts it again. */
  invalidate(): void {
    this.fresh = false
  }

  /** Sorts `live` (copied) with `fast` (same order as `compare`, cheaper), and maintains it from now on. */
  rebuild(live: Uint32Array, fast: SlotCompare = this.compare): void {
    this.arr = new Uint32Array(Math.max(1024, live.length * 2))
    this.arr.set(live)
    this.n = live.length
    this.arr.subarray(0, this.n).sort(fast)
    this.fresh = true
  }

  /** Takes `sorted` (already in this order; kept, not copied) as the order, and maintains it from now on. */
  assign(sorted: Uint32Array<ArrayBuffer>): void {
    this.arr = sorted
    this.n = sorted.length
    this.fresh = true
  }

  /** The first position whose slot does not sort before `slot`. */
  private lowerBound(slot: number): number {
    let lo = 0
    let hi = this.n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.compare(this.arr[mid]!, slot) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Adds `slot` at its place (no-op when stale). */
  insert(slot: number): void {
    if (!this.fresh) return
    if (this.n === this.arr.length) {
      const bigger = new Uint32Array(Math.max(1024, this.arr.length * 2))
      bigger.set(this.arr)
      this.arr = bigger
    }
    const at = this.lowerBound(slot)
    this.arr.copyWithin(at + 1, at, this.n)
    this.arr[at] = slot
    this.n++
  }

  /** Takes `slot` out (no-op when stale); its key must still be the one it was inserted with. */
  remove(slot: number): void {
    if (!this.fresh) return
    const at = this.lowerBound(slot)
    if (at >= this.n || this.arr[at] !== slot) {
      // the key changed behind our back: never serve a wrong order
      this.fresh = false
      return
    }
    this.arr.copyWithin(at, at + 1, this.n)
    this.n--
  }

  /** The first position whose slot's key is not below the bound, given `below(slot)` monotone over the order. */
  partition(below: (slot: number) => boolean): number {
    let lo = 0
    let hi = this.n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (below(this.arr[mid]!)) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
