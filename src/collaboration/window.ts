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

/** One stream's batches sorted by first seq; those before `head` are evicted (a queue: eviction is almost always at the front). */
interface Stream {
  items: HeldBatch[]
  head: number
}

/** The index of the first batch of the stream whose first seq is ≥ `seq`. */
function lowerBound(s: Stream, seq: number): number {
  const list = s.items
  let lo = s.head
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
  readonly #streams = new Map<string, Stream>()
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
    let st = this.#streams.get(key)
    if (!st) this.#streams.set(key, (st = { items: [], head: 0 }))
    const list = st.items
    // batches mostly arrive in order: the common case appends
    const i = list.length === st.head || list[list.length - 1]!.first < batch.first ? list.length : lowerBound(st, batch.first)
    if (list[i]?.first === batch.first) return false
    const held: HeldBatch = { ...batch, at: now }
    if (i === list.length) list.push(held)
    else list.splice(i, 0, held)
    this.#order.push(held)
    this.#bytes += batch.text.length
    this.#evict(now)
    return true
  }

  /** The text held for one batch (stream and first seq), if any. */
  text(session: string, sender: string, epoch: number, first: number): string | undefined {
    const st = this.#streams.get(streamOf(session, sender, epoch))
    if (!st) return undefined
    const b = st.items[lowerBound(st, first)]
    return b?.first === first ? b.text : undefined
  }

  /**
   * The held batches of one stream that hold any seq of `ranges` ([first, last] pairs), in
   * seq order, each once, up to `maxBytes` of text (at least one batch when any matches).
   */
  find(session: string, sender: string, epoch: number, ranges: readonly (readonly [number, number])[], now: number, maxBytes = Infinity): HeldBatch[] {
    this.#evict(now)
    const st = this.#streams.get(streamOf(session, sender, epoch))
    if (!st) return []
    const list = st.items
    const out: HeldBatch[] = []
    let bytes = 0
    let from = st.head
    for (const [lo, hi] of ranges) {
      // the batch that may hold `lo` starts at or before it
      let i = Math.max(from, lowerBound(st, lo + 1) - 1)
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
    for (const st of this.#streams.values()) {
      const last = st.items[st.items.length - 1]
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
      const st = this.#streams.get(key)
      if (st) {
        if (st.items[st.head] === oldest) st.head++
        else {
          const i = lowerBound(st, oldest.first)
          if (st.items[i] === oldest) st.items.splice(i, 1)
        }
        if (st.head === st.items.length) this.#streams.delete(key)
        else if (st.head > 1024 && st.head * 2 > st.items.length) {
          st.items = st.items.slice(st.head)
          st.head = 0
        }
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
