/**
 * Stable radix sorts of small integer ids (slots, term ids) by a key, for the search
 * index's bulk builds: a comparison sort of a million strings costs seconds here, these
 * cost a few passes over the ids.
 *
 * - `sortByString`: MSD radix on UTF-16 code units (code-unit order, as `<` on strings),
 *   insertion sort below a small bucket; stable.
 * - `sortByNumber`: LSD radix on the IEEE 754 bits of a Float64 key (numeric order,
 *   -0 before +0, no NaN expected), 16 bits per pass, passes whose digit never varies
 *   skipped; stable.
 */

const SMALL = 24

/** ASCII upper case folded to lower, other code units as they are. */
const fold = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c)

/** Code-unit order of `a` and `b` with ASCII upper case folded to lower (no string made). */
export function compareFolded(a: string, b: string): number {
  const n = a.length < b.length ? a.length : b.length
  for (let i = 0; i < n; i++) {
    const d = fold(a.charCodeAt(i)) - fold(b.charCodeAt(i))
    if (d !== 0) return d
  }
  return a.length - b.length
}

/**
 * Sorts `ids` in place by `keyOf(id)` in code-unit order, keeping the given order of
 * equal keys; `foldAscii`: as if each key's ASCII upper case were lower case (the order
 * of `compareFolded`, without a lowercased string per key).
 */
export function sortByString(ids: Uint32Array, keyOf: (id: number) => string, foldAscii = false): void {
  if (ids.length < 2) return
  const keys: string[] = new Array<string>(ids.length)
  // keys by position, moved along with the ids
  for (let i = 0; i < ids.length; i++) keys[i] = keyOf(ids[i]!)
  const tmpIds = new Uint32Array(ids.length)
  const tmpKeys: string[] = new Array<string>(ids.length)
  const counts = new Uint32Array(258)
  // bucket bounds, used within one step only (the children go on the stack by their bounds)
  const starts = new Uint32Array(258)
  const pos = new Uint32Array(258)
  // explicit stack of [lo, hi, depth]
  const cmp = foldAscii ? compareFolded : (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
  const unit = foldAscii ? (k: string, d: number): number => fold(k.charCodeAt(d)) : (k: string, d: number): number => k.charCodeAt(d)
  const stack: number[] = [0, ids.length, 0]
  while (stack.length > 0) {
    const depth = stack.pop()!
    const hi = stack.pop()!
    const lo = stack.pop()!
    if (hi - lo <= SMALL) {
      insertion(ids, keys, lo, hi, cmp)
      continue
    }
    // bucket 0: the key ends here; 1–255: that code unit; 256: a code unit of 255 or more (finished by comparison)
    counts.fill(0)
    for (let i = lo; i < hi; i++) {
      const k = keys[i]!
      counts[depth < k.length ? Math.min(unit(k, depth), 255) + 1 : 0]!++
    }
    const placed = placeBuckets(counts, lo, hi, starts, pos)
    if (placed === "equal") continue
    if (placed === "deeper") {
      stack.push(lo, hi, depth + 1) // one bucket: go deeper without moving anything
      continue
    }
    for (let i = lo; i < hi; i++) {
      const k = keys[i]!
      const b = depth < k.length ? Math.min(unit(k, depth), 255) + 1 : 0
      const p = pos[b]!++
      tmpIds[p] = ids[i]!
      tmpKeys[p] = k
    }
    for (let i = lo; i < hi; i++) {
      ids[i] = tmpIds[i]!
      keys[i] = tmpKeys[i]!
    }
    for (let b = 1; b < 257; b++) {
      const s = starts[b]!
      const e = starts[b + 1]!
      if (e - s < 2) continue
      if (b === 256) insertionOrSort(ids, keys, s, e, cmp)
      else stack.push(s, e, depth + 1)
    }
  }
}

function insertion(ids: Uint32Array, keys: string[], lo: number, hi: number, cmp: (a: string, b: string) => number): void {
  for (let i = lo + 1; i < hi; i++) {
    const k = keys[i]!
    const id = ids[i]!
    let j = i - 1
    while (j >= lo && cmp(keys[j]!, k) > 0) {
      keys[j + 1] = keys[j]!
      ids[j + 1] = ids[j]!
      j--
    }
    keys[j + 1] = k
    ids[j + 1] = id
  }
}

/** A bucket of keys holding code units of 255 or more at one depth: a stable comparison sort. */
function insertionOrSort(ids: Uint32Array, keys: string[], lo: number, hi: number, cmp: (a: string, b: string) => number): void {
  if (hi - lo <= SMALL) return insertion(ids, keys, lo, hi, cmp)
  const order = Array.from({ length: hi - lo }, (_, i) => lo + i)
  order.sort((a, b) => cmp(keys[a]!, keys[b]!) || a - b)
  const i2 = order.map((p) => ids[p]!)
  const k2 = order.map((p) => keys[p]!)
  for (let i = 0; i < i2.length; i++) {
    ids[lo + i] = i2[i]!
    keys[lo + i] = k2[i]!
  }
}

/** Sorts `ids` in place by `key[id]` ascending, keeping the given order of equal keys. */
export function sortByNumber(ids: Uint32Array, key: Float64Array): void {
  const n = ids.length
  if (n < 2) return
  // sortable bits: flip the sign bit of positives, every bit of negatives
  const lo = new Uint32Array(n)
  const hi = new Uint32Array(n)
  const f = new Float64Array(1)
  const u = new Uint32Array(f.buffer)
  for (let i = 0; i < n; i++) {
    f[0] = key[ids[i]!]!
    const h = u[1]!
    if (h & 0x80000000) {
      hi[i] = ~h >>> 0
      lo[i] = ~u[0]! >>> 0
    } else {
      hi[i] = (h | 0x80000000) >>> 0
      lo[i] = u[0]!
    }
  }
  let src: { ids: Uint32Array; lo: Uint32Array; hi: Uint32Array } = { ids, lo, hi }
  let dst: { ids: Uint32Array; lo: Uint32Array; hi: Uint32Array } = { ids: new Uint32Array(n), lo: new Uint32Array(n), hi: new Uint32Array(n) }
  const counts = new Uint32Array(65536)
  for (let pass = 0; pass < 4; pass++) {
    const word = pass < 2 ? src.lo : src.hi
    const shift = pass % 2 === 0 ? 0 : 16
    counts.fill(0)
    for (let i = 0; i < n; i++) counts[(word[i]! >>> shift) & 0xffff]!++
    if (counts[(word[0]! >>> shift) & 0xffff] === n) continue // this digit never varies
    let at = 0
    for (let b = 0; b < 65536; b++) {
      const c = counts[b]!
      counts[b] = at
      at += c
    }
    for (let i = 0; i < n; i++) {
      const p = counts[(word[i]! >>> shift) & 0xffff]!++
      dst.ids[p] = src.ids[i]!
      dst.lo[p] = src.lo[i]!
      dst.hi[p] = src.hi[i]!
    }
    const t = src
    src = dst
    dst = t
  }
  if (src.ids !== ids) ids.set(src.ids)
}

/** Compares the code units of keys `a` and `b` of a pool (as `<` on the strings would). */
function poolCompare(chars: Uint16Array, start: Uint32Array, len: Uint32Array, a: number, b: number): number {
  const sa = start[a]!
  const sb = start[b]!
  const la = len[a]!
  const lb = len[b]!
  const n = la < lb ? la : lb
  for (let i = 0; i < n; i++) {
    const d = chars[sa + i]! - chars[sb + i]!
    if (d !== 0) return d
  }
  return la - lb
}

/**
 * As `sortByString`, the keys held in one pool of code units (key `id` is
 * `chars[start[id], start[id] + len[id])`), so that no string exists per key: MSD radix,
 * insertion sort below a small bucket, code units of 255 or more finished by comparison;
 * stable.
 */
export function sortByCodeUnits(ids: Uint32Array, chars: Uint16Array, start: Uint32Array, len: Uint32Array): void {
  if (ids.length < 2) return
  const tmp = new Uint32Array(ids.length)
  const counts = new Uint32Array(258)
  const starts = new Uint32Array(258)
  const pos = new Uint32Array(258)
  const cmp = (a: number, b: number): number => poolCompare(chars, start, len, a, b)
  const stack: number[] = [0, ids.length, 0]
  while (stack.length > 0) {
    const depth = stack.pop()!
    const hi = stack.pop()!
    const lo = stack.pop()!
    if (hi - lo <= SMALL) {
      for (let i = lo + 1; i < hi; i++) {
        const id = ids[i]!
        let j = i - 1
        while (j >= lo && cmp(ids[j]!, id) > 0) {
          ids[j + 1] = ids[j]!
          j--
        }
        ids[j + 1] = id
      }
      continue
    }
    // bucket 0: the key ends here; 1–255: that code unit; 256: a code unit of 255 or more (finished by comparison)
    counts.fill(0)
    for (let i = lo; i < hi; i++) {
      const id = ids[i]!
      counts[depth < len[id]! ? Math.min(chars[start[id]! + depth]!, 255) + 1 : 0]!++
    }
    const placed = placeBuckets(counts, lo, hi, starts, pos)
    if (placed === "equal") continue
    if (placed === "deeper") {
      stack.push(lo, hi, depth + 1) // one bucket: go deeper without moving anything
      continue
    }
    for (let i = lo; i < hi; i++) {
      const id = ids[i]!
      const b = depth < len[id]! ? Math.min(chars[start[id]! + depth]!, 255) + 1 : 0
      tmp[pos[b]!++] = id
    }
    ids.set(tmp.subarray(lo, hi), lo)
    for (let b = 1; b < 257; b++) {
      const s = starts[b]!
      const e = starts[b + 1]!
      if (e - s < 2) continue
      if (b === 256) {
        // a stable comparison sort of the bucket
        const part = Array.from(ids.subarray(s, e))
        part.sort((x, y) => cmp(x, y))
        ids.set(part, s)
      } else stack.push(s, e, depth + 1)
    }
  }
}

/**
 * Lays out the 257 buckets (end of key, then code units 0–254, 255 and above) of the range
 * [lo, hi) from their counts: "equal" when every key ends here, "deeper" when one bucket holds
 * them all (sort on by the next unit without moving anything), else their starts in `starts`
 * and `pos` ("placed").
 */
function placeBuckets(counts: Uint32Array, lo: number, hi: number, starts: Uint32Array, pos: Uint32Array): "equal" | "deeper" | "placed" {
  if (counts[0] === hi - lo) return "equal"
  let single = -1
  for (let b = 0; b < 257; b++) if (counts[b] === hi - lo) single = b
  if (single > 0 && single < 256) return "deeper"
  let at = lo
  for (let b = 0; b < 257; b++) {
    starts[b] = at
    at += counts[b]!
  }
  starts[257] = at
  pos.set(starts)
  return "placed"
}
