/**
 * Per-value slot sets of the catalog index (category, type, origin, currency, tag), in
 * typed arrays: each value (interned once as a small code) holds an append-only list of
 * (slot, generation) pairs. A slot's generation changes whenever the slot is rewritten
 * or freed, so an entry of an older generation is dead: removal costs nothing, a read
 * skips dead entries, and a list is compacted when most of it is dead. Live counts are
 * exact. Replaces a `Map` of `Set`s (a `Set` of a million slots cost microseconds per add).
 */

interface List {
  slots: Uint32Array<ArrayBuffer>
  gens: Uint32Array<ArrayBuffer>
  n: number
  live: number
}

/** The slot sets of one field (see the module comment); generations are the caller's, per slot. */
export class ValueSets {
  private readonly codes = new Map<string, number>()
  /** The value of each code. */
  readonly values: string[] = []
  private readonly lists: List[] = []
  /** The last value coded (items of a batch mostly share their category, origin, currency). */
  private last: string | undefined
  private lastCode = -1

  /** The code of `value`, interned when new. */
  code(value: string): number {
    if (value === this.last) return this.lastCode
    let c = this.codes.get(value)
    if (c === undefined) {
      c = this.values.length
      this.codes.set(value, c)
      this.values.push(value)
      this.lists.push({ slots: new Uint32Array(4), gens: new Uint32Array(4), n: 0, live: 0 })
    }
    this.last = value
    this.lastCode = c
    return c
  }

  /** The code of `value`, or -1 when no slot ever held it. */
  find(value: string): number {
    if (value === this.last) return this.lastCode
    return this.codes.get(value) ?? -1
  }

  /** Adds `slot` (of its current generation `gen[slot]`) to the set of `code`. */
  add(code: number, slot: number, gen: Uint32Array): void {
    const l = this.lists[code]!
    if (l.n === l.slots.length && l.n > 64 && l.live * 2 < l.n) this.slots(code, gen)
    if (l.n === l.slots.length) {
      const slots = new Uint32Array(l.n * 2)
      slots.set(l.slots)
      const gens = new Uint32Array(l.n * 2)
      gens.set(l.gens)
      l.slots = slots
      l.gens = gens
    }
    l.slots[l.n] = slot
    l.gens[l.n] = gen[slot]!
    l.n++
    l.live++
  }

  /** One slot of the set of `code` is gone (its generation already changed). */
  drop(code: number): void {
    this.lists[code]!.live--
  }

  /** How many live slots hold `code` (0 for -1). */
  size(code: number): number {
    return code < 0 ? 0 : this.lists[code]!.live
  }

  /** The live slots of `code` (a fresh array), given the current generation of every slot. */
  slots(code: number, gen: Uint32Array): number[] {
    if (code < 0) return []
    const l = this.lists[code]!
    const out: number[] = []
    for (let i = 0; i < l.n; i++) if (gen[l.slots[i]!] === l.gens[i]) out.push(l.slots[i]!)
    if (l.n > 64 && l.live * 2 < l.n) {
      // mostly dead: keep the live entries only
      for (let i = 0; i < out.length; i++) {
        l.slots[i] = out[i]!
        l.gens[i] = gen[out[i]!]!
      }
      l.n = out.length
    }
    return out
  }
}
