/**
 * The search index's map from an item (origin code, item id) to its slot: an
 * open-addressing hash table (linear probing, backward-shift deletion) in one
 * `Int32Array` of (hash, slot) pairs, so a probe reads one cache line; the item's key
 * is read back from the index's own per-slot columns only when the hash matches. Why:
 * a `Map` keyed by global id strings needs a concatenated string per item (allocated,
 * flattened and hashed) and a million-entry hash map on the heap; this costs one hash
 * of the item id and no allocation.
 */

/** FNV-1a over the item id's code units, mixed with the origin's code and spread (an int32). */
export const itemKeyHash = (origin: number, itemId: string): number => {
  let h = Math.imul(0x811c9dc5 ^ origin, 0x01000193)
  for (let i = 0; i < itemId.length; i++) h = Math.imul(h ^ itemId.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b)
  return h ^ (h >>> 16)
}

/** Slots by key; `same(slot, origin, itemId)` tells whether a slot holds that key. */
export class SlotTable {
  /** Pairs: [2i] the hash, [2i + 1] the slot (-1: empty). */
  private table = SlotTable.empty(1024)
  private mask = 1023
  /** Per slot: its hash (to find it again when it is deleted). */
  private hashes = new Int32Array(1024)
  private count = 0

  constructor(private readonly same: (slot: number, origin: number, itemId: string) => boolean) {}

  private static empty(size: number): Int32Array<ArrayBuffer> {
    const t = new Int32Array(size * 2)
    for (let i = 1; i < t.length; i += 2) t[i] = -1
    return t
  }

  /** Number of slots held. */
  get size(): number {
    return this.count
  }

  /** The slot of the key (hash `h` from itemKeyHash), or -1. */
  find(origin: number, itemId: string, h: number): number {
    const t = this.table
    const mask = this.mask
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = t[2 * i + 1]!
      if (s < 0) return -1
      if (t[2 * i] === h && this.same(s, origin, itemId)) return s
    }
  }

  /** Adds `slot` (not held) under hash `h`. */
  add(slot: number, h: number): void {
    if (slot >= this.hashes.length) {
      const b = new Int32Array(Math.max(slot + 1, this.hashes.length * 2))
      b.set(this.hashes)
      this.hashes = b
    }
    this.hashes[slot] = h
    if ((this.count + 1) * 2 > this.mask) this.resize((this.mask + 1) * 2)
    this.place(slot, h)
    this.count++
  }

  /** Takes `slot` (held) out. */
  delete(slot: number): void {
    const t = this.table
    const mask = this.mask
    let i = this.hashes[slot]! & mask
    while (t[2 * i + 1] !== slot) {
      if (t[2 * i + 1]! < 0) return
      i = (i + 1) & mask
    }
    // backward shift: move later entries of the run into the hole when their home allows
    for (let j = (i + 1) & mask; t[2 * j + 1]! >= 0; j = (j + 1) & mask) {
      const k = t[2 * j]! & mask
      const between = i <= j ? i < k && k <= j : i < k || k <= j
      if (!between) {
        t[2 * i] = t[2 * j]!
        t[2 * i + 1] = t[2 * j + 1]!
        i = j
      }
    }
    t[2 * i + 1] = -1
    this.count--
  }

  private place(slot: number, h: number): void {
    const t = this.table
    let i = h & this.mask
    while (t[2 * i + 1]! >= 0) i = (i + 1) & this.mask
    t[2 * i] = h
    t[2 * i + 1] = slot
  }

  private resize(size: number): void {
    const old = this.table
    this.table = SlotTable.empty(size)
    this.mask = size - 1
    for (let i = 1; i < old.length; i += 2) if (old[i]! >= 0) this.place(old[i]!, old[i - 1]!)
  }
}
