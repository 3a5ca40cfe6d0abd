/**
 * The answering side of channel gap repair, pure of any network (time and randomness
 * passed in): which requests a hub serves (a token bucket per requesting hub, a bounded
 * span), when it answers (the batch's own sender at once, any other holder after a random
 * delay) and when it does not (another hub's answer for the same batch was seen first, or
 * this batch was answered a moment ago: one loss asked for by many hubs gets about one
 * answer). What is answered is the batch text as held, never re-signed.
 */

export interface AnswerLimits {
  /** A holder that is not the batch's sender answers after delayMs × (1 + 2 × random) (ms). */
  delayMs: number
  /** A batch answered (or seen answered) is not answered again for this long (ms). */
  holdMs: number
  /** Requests served per requesting hub: this many a second … */
  perSecond: number
  /** … with bursts of this many. */
  burst: number
  /** A request may span at most this many seqs (more: refused whole). */
  maxRange: number
  /** An answer frame carries at most this many characters of batches (at least one batch). */
  frameBytes: number
}

export const DEFAULT_ANSWERS: AnswerLimits = { delayMs: 15, holdMs: 200, perSecond: 20, burst: 40, maxRange: 4096, frameBytes: 256 * 1024 }

/** A batch's identity across hubs: `session sender epoch first`. */
export const batchKey = (session: string, sender: string, epoch: number, first: number): string => `${session} ${sender} ${epoch} ${first}`

/**
 * Why a request's ranges are refused (undefined: they are fine): each `[first, last]` with
 * first ≤ last, ascending without overlap, spanning at most `maxRange` seqs in all.
 */
export function rangesProblem(ranges: readonly (readonly number[])[], maxRange: number): string | undefined {
  let span = 0
  let prev = 0
  for (const r of ranges) {
    const [lo, hi] = r as [number, number]
    if (!(lo <= hi) || lo <= prev) return `range [${lo}, ${hi}] is empty, out of order or overlaps the one before`
    span += hi - lo + 1
    if (span > maxRange) return `the ranges span more than ${maxRange} seqs`
    prev = hi
  }
  return undefined
}

const MAX_REMEMBERED = 50_000

export class RepairAnswers {
  readonly limits: AnswerLimits
  readonly #random: () => number
  /** Answers waiting for their time: key → when, and the text. */
  readonly #pending = new Map<string, { at: number; text: string }>()
  /** Batches answered or seen answered: key → when. */
  #answered = new Map<string, number>()
  #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(limits: Partial<AnswerLimits> = {}, random: () => number = Math.random) {
    this.limits = { ...DEFAULT_ANSWERS, ...limits }
    this.#random = random
  }

  /** Whether a request from `peer` is served at `now` (takes a token; false: over its rate). */
  admit(peer: string, now: number): boolean {
    const { perSecond, burst } = this.limits
    let b = this.#buckets.get(peer)
    if (!b) {
      if (this.#buckets.size >= 10_000) this.#buckets = new Map()
      this.#buckets.set(peer, (b = { tokens: burst, at: now }))
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond)
    b.at = now
    if (b.tokens < 1) return false
    b.tokens--
    return true
  }

  /**
   * Schedules answers for held batches (`own`: this hub is their sender, so it answers at
   * once); a batch pending already keeps its time, one answered within holdMs is left out.
   * Returns how many were scheduled.
   */
  plan(batches: readonly { key: string; text: string }[], own: boolean, now: number): number {
    let n = 0
    for (const { key, text } of batches) {
      if (this.#pending.has(key)) continue
      const seen = this.#answered.get(key)
      if (seen !== undefined && now - seen < this.limits.holdMs) continue
      this.#pending.set(key, { at: own ? now : now + this.limits.delayMs * (1 + 2 * this.#random()), text })
      n++
    }
    return n
  }

  /** Another hub's answer for this batch was seen: ours is not needed, and it is not answered again for holdMs. */
  heard(key: string, now: number): void {
    this.#pending.delete(key)
    this.#remember(key, now)
  }

  /** The texts to send at `now`, grouped in frames of at most frameBytes (each batch is then answered). */
  due(now: number): string[][] {
    const frames: string[][] = []
    let frame: string[] = []
    let bytes = 0
    for (const [key, p] of this.#pending) {
      if (p.at > now) continue
      this.#pending.delete(key)
      this.#remember(key, now)
      if (frame.length > 0 && bytes + p.text.length > this.limits.frameBytes) {
        frames.push(frame)
        frame = []
        bytes = 0
      }
      frame.push(p.text)
      bytes += p.text.length
    }
    if (frame.length > 0) frames.push(frame)
    return frames
  }

  /** When the next answer is due (undefined: none pending). */
  nextAt(): number | undefined {
    let at: number | undefined
    for (const p of this.#pending.values()) if (at === undefined || p.at < at) at = p.at
    return at
  }

  #remember(key: string, now: number): void {
    this.#answered.delete(key)
    this.#answered.set(key, now)
    if (this.#answered.size > MAX_REMEMBERED) {
      // oldest first (insertion order): what is past holdMs goes, and at least a tenth
      const keep = new Map<string, number>()
      let drop = MAX_REMEMBERED / 10
      for (const [k, t] of this.#answered) {
        if (drop > 0 || now - t >= this.limits.holdMs) {
          drop--
          continue
        }
        keep.set(k, t)
      }
      this.#answered = keep
    }
  }
}
