/**
 * The signed channel batches a hub sent and received, kept for a bounded window (by count,
 * by characters and by age) so that it can answer a peer's repair request with the very
 * text the sender signed. Pure of any network: time is passed in. Batches are held per
 * stream (session, sender, epoch) in seq order and evicted oldest first.
 */

export interface WindowLimits {
  /** At most this many batches (all sessions of the hub together). */
  maxBatches: number
  /** At most this many characters of batch text (≈ bytes: the wire text is JSON). */
  maxBytes: number
  /** A batch is kept at most this long (ms). */
  maxAgeMs: number
}

/** 60 s, 20,000 batches, 32 MiB: at 10,000 messages/s in 5 ms batches the count binds after ≈ 100 s and the age first. */
export const DEFAULT_WINDOW: WindowLimits = { maxBatches: 20_000, maxBytes: 32 * 1024 * 1024, maxAgeMs: 60_000 }

export interface HeldBatch {
  session: string
  sender: string
  epoch: number
  /** Its first and last seq. */
  first: number
  last: number
  /** The batch as its sender put it on the wire (its signed envelope's JSON). */
  text: string
  /** When this hub took it (ms). */
  at: number
}

const streamOf = (session: string, sender: string, epoch: number): string => `${session} ${sender} ${epoch}`

/** The index of the first batch in `list` whose first seq is ≥ `seq` (list sorted by first). */
function lowerBound(list: readonly HeldBatch[], seq: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]!.first < seq) lo = mid + 1
    else hi = mid
  }
  return lo
}

export class BatchWindow {
  readonly limits: WindowLimits
  readonly #streams = new Map<string, HeldBatch[]>()
  /** Every held batch in the order taken (a queue: `#head` is its front). */
  #order: HeldBatch[] = []
  #head = 0
  #bytes = 0

  constructor(limits: Partial<WindowLimits> = {}) {
    this.limits = { ...DEFAULT_WINDOW, ...limits }
  }

  /** How many batches are held. */
  get size(): number {
    return this.#order.length - this.#head
  }

  /** How many characters of batch text are held. */
  get bytes(): number {
    return this.#bytes
  }

  /** Keeps a batch (once per stream and first seq); answers whether it was new. */
  add(batch: Omit<HeldBatch, "at">, now: number): boolean {
    const key = streamOf(batch.session, batch.sender, batch.epoch)
    let list = this.#streams.get(key)
    if (!list) this.#streams.set(key, (list = []))
    // batches mostly arrive in order: the common case appends
    const i = list.length === 0 || list[list.length - 1]!.first < batch.first ? list.length : lowerBound(list, batch.first)
    if (list[i]?.first === batch.first) return false
    const held: HeldBatch = { ...batch, at: now }
    list.splice(i, 0, held)
    this.#order.push(held)
    this.#bytes += batch.text.length
    this.#evict(now)
    return true
  }

  /** The text held for one batch (stream and first seq), if any. */
  text(session: string, sender: string, epoch: number, first: number): string | undefined {
    const list = this.#streams.get(streamOf(session, sender, epoch))
    if (!list) return undefined
    const b = list[lowerBound(list, first)]
    return b?.first === first ? b.text : undefined
  }

  /**
   * The held batches of one stream that hold any seq of `ranges` ([first, last] pairs), in
   * seq order, each once, up to `maxBytes` of text (at least one batch when any matches).
   */
  find(session: string, sender: string, epoch: number, ranges: readonly (readonly [number, number])[], now: number, maxBytes = Infinity): HeldBatch[] {
    this.#evict(now)
    const list = this.#streams.get(streamOf(session, sender, epoch))
    if (!list) return []
    const out: HeldBatch[] = []
    let bytes = 0
    let from = 0
    for (const [lo, hi] of ranges) {
      // the batch that may hold `lo` starts at or before it
      let i = Math.max(from, lowerBound(list, lo + 1) - 1)
      for (; i < list.length && list[i]!.first <= hi; i++) {
        const b = list[i]!
        if (b.last < lo) continue
        if (out.length > 0 && bytes + b.text.length > maxBytes) return out
        out.push(b)
        bytes += b.text.length
      }
      from = i
    }
    return out
  }

  /** Per stream of `session`, the highest seq held. */
  latest(session: string): { sender: string; epoch: number; seq: number }[] {
    const out: { sender: string; epoch: number; seq: number }[] = []
    for (const list of this.#streams.values()) {
      const last = list[list.length - 1]
      if (last?.session === session) out.push({ sender: last.sender, epoch: last.epoch, seq: last.last })
    }
    return out
  }

  /** Drops what is past the limits at `now` (also done on every add and find). */
  prune(now: number): void {
    this.#evict(now)
  }

  #evict(now: number): void {
    const { maxBatches, maxBytes, maxAgeMs } = this.limits
    while (this.size > 0) {
      const oldest = this.#order[this.#head]!
      if (this.size <= maxBatches && this.#bytes <= maxBytes && now - oldest.at <= maxAgeMs) break
      this.#head++
      this.#bytes -= oldest.text.length
      const key = streamOf(oldest.session, oldest.sender, oldest.epoch)
      const list = this.#streams.get(key)
      if (list) {
        const i = lowerBound(list, oldest.first)
        if (list[i] === oldest) list.splice(i, 1)
        if (list.length === 0) this.#streams.delete(key)
      }
    }
    // the queue's front is reclaimed once it is most of the array
    if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head)
      this.#head = 0
    }
  }
}

/** The window limits a hub's config (`collaboration.liveWindow`) sets; what it leaves out keeps its default. */
export function windowLimitsOf(cfg: { batches?: number; bytes?: number; ms?: number } | undefined): Partial<WindowLimits> {
  return { ...(cfg?.batches !== undefined ? { maxBatches: cfg.batches } : {}), ...(cfg?.bytes !== undefined ? { maxBytes: cfg.bytes } : {}), ...(cfg?.ms !== undefined ? { maxAgeMs: cfg.ms } : {}) }
}
