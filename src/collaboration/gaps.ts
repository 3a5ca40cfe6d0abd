/**
 * When a receiver asks for a gap in a sender's messages, and when it gives up on it (the
 * NACK side of SRM/PGM-style repair), pure of any network: time and randomness are passed
 * in. One stream per sender (its current epoch). A gap is asked for after a short random
 * delay (a gap that reordering alone made fills without asking), then again after a wait
 * that doubles each time; after `attempts` requests it is given up on (skipped). Hearing
 * another hub ask for the same gap counts as asking (its answer reaches every hub), so one
 * loss seen by many receivers is asked for about once. A repair that filled part of the gap
 * starts over (what remains is asked for at once); other progress (messages in order behind
 * an announced tail that never comes) does not, so a false announcement costs a few requests.
 */

export interface RepairTiming {
  /** A new gap is asked for after delayMs × (1 + random) (ms). */
  delayMs: number
  /** The wait after the n-th request is waitMs × 2ⁿ (ms). */
  waitMs: number
  /** Requests before the gap is skipped. */
  attempts: number
}

/** 20 ms, then 250 + 500 + 1,000 + 2,000 ms: a gap nobody answers is skipped ≈ 3.8 s after it was seen. */
export const DEFAULT_TIMING: RepairTiming = { delayMs: 20, waitMs: 250, attempts: 4 }

export type RepairAction = { kind: "request" | "give-up"; sender: string; epoch: number }

interface Stream {
  epoch: number
  /** The first missing seq when last observed. */
  next: number
  /** Requests made (or heard) for this gap. */
  attempts: number
  /** When the next action is due. */
  at: number
}

export class RepairSchedule {
  readonly timing: RepairTiming
  readonly #random: () => number
  readonly #streams = new Map<string, Stream>()

  constructor(timing: Partial<RepairTiming> = {}, random: () => number = Math.random) {
    this.timing = { ...DEFAULT_TIMING, ...timing }
    this.#random = random
  }

  /** Whether any gap is being repaired. */
  get active(): boolean {
    return this.#streams.size > 0
  }

  /** The receiver's view of one sender: its first missing seq, or undefined when it has no gap (`repaired`: a repair answer moved it). */
  observe(sender: string, epoch: number, next: number | undefined, now: number, repaired = false): void {
    const s = this.#streams.get(sender)
    if (next === undefined) {
      this.#streams.delete(sender)
      return
    }
    if (!s || s.epoch !== epoch) {
      this.#streams.set(sender, { epoch, next, attempts: 0, at: now + this.#delay() })
      return
    }
    if (next > s.next) {
      s.next = next
      if (!repaired) return
      // part of it was repaired: what remains is asked for soon, with a fresh count
      s.attempts = 0
      s.at = Math.min(s.at, now + this.#delay())
    }
  }

  /** Another hub asked for seqs of this sender from `first` on: when that covers our gap, ours waits as if we had asked. */
  heard(sender: string, epoch: number, first: number, last: number, now: number): void {
    const s = this.#streams.get(sender)
    if (!s || s.epoch !== epoch || first > s.next || last < s.next || s.attempts >= this.timing.attempts) return
    s.attempts++
    s.at = Math.max(s.at, now + this.#wait(s.attempts - 1))
  }

  /** What is due at `now`: a request (the stream's wait starts) or giving up (the stream is forgotten). */
  due(now: number): RepairAction[] {
    const out: RepairAction[] = []
    for (const [sender, s] of this.#streams) {
      if (s.at > now) continue
      if (s.attempts >= this.timing.attempts) {
        this.#streams.delete(sender)
        out.push({ kind: "give-up", sender, epoch: s.epoch })
        continue
      }
      s.attempts++
      s.at = now + this.#wait(s.attempts - 1)
      out.push({ kind: "request", sender, epoch: s.epoch })
    }
    return out
  }

  /** When the next action is due (undefined: nothing to repair). */
  nextAt(): number | undefined {
    let at: number | undefined
    for (const s of this.#streams.values()) if (at === undefined || s.at < at) at = s.at
    return at
  }

  #delay(): number {
    return this.timing.delayMs * (1 + this.#random())
  }

  #wait(n: number): number {
    return this.timing.waitMs * 2 ** n
  }
}
