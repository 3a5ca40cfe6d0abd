/**
 * A session channel's inbox, pure of any network: batches of messages (signed envelopes,
 * from ephemeral messages or the transcript, in any order and any number of copies) come
 * out message by message, once each, in each sender's order (per sender, epoch then seq).
 * A gap (a later seq arrived, or a sender's announced latest seq is ahead) is waited for
 * until `giveUp` (repair, gaps.ts, timed out) or `skipGaps` is called; `missing` lists it
 * for a repair request. A message that fills a skipped gap later (from the transcript or a
 * late repair) is delivered then, marked `late`. A batch that
 * does not verify, is for another session, whose seqs are not consecutive, or whose signer
 * is not a participant is dropped and counted (once per message it carries).
 */
import { isFedhubError } from "../errors.ts"
import { verifyEnvelope, type SignedEnvelope } from "../identity/index.ts"
import { isValid, schemaProblems, type ChannelBatch } from "../schema/index.ts"
import { SESSION_PURPOSE } from "./signed.ts"

export interface DeliveredMessage {
  /** `<sender>:<epoch>:<seq>`: the slot it fills in its sender's order (one per message). */
  id: string
  sessionId: string
  channel: string
  sender: string
  epoch: number
  seq: number
  text: string
  /** The batch's signing time. */
  time: number
  late?: boolean
}

/** How many messages a dropped (untrusted) batch counts for: its length when it has a list, else one. */
const claimed = (value: unknown): number => {
  const list = (value as { payload?: { messages?: unknown } } | null)?.payload?.messages
  return Array.isArray(list) && list.length > 0 ? Math.min(list.length, 1000) : 1
}

/** The messages of a batch (checked: consecutive seqs), or why it is refused. */
export function batchMessages(env: SignedEnvelope<ChannelBatch>): DeliveredMessage[] | string {
  const p = env.payload
  const first = p.messages[0]!.seq
  const out: DeliveredMessage[] = []
  for (const [i, m] of p.messages.entries()) {
    if (m.seq !== first + i) return `seq ${m.seq} at position ${i} of a batch starting at ${first}`
    out.push({ id: `${env.signer}:${p.epoch}:${m.seq}`, sessionId: p.sessionId, channel: m.channel, sender: env.signer, epoch: p.epoch, seq: m.seq, text: m.text, time: env.time })
  }
  return out
}

/**
 * Opens an untrusted batch: its signature (purpose fedhub/session-messages/v1), its schema,
 * its seqs; answers the batch with its messages, or why it is refused. Never throws.
 */
export function openBatch(value: unknown): { ok: true; env: SignedEnvelope<ChannelBatch>; messages: DeliveredMessage[] } | { ok: false; reason: string } {
  let env: SignedEnvelope<ChannelBatch>
  try {
    env = verifyEnvelope<ChannelBatch>(value, { purpose: SESSION_PURPOSE.messages })
  } catch (e) {
    return { ok: false, reason: isFedhubError(e) ? `${e.code}: ${e.detail}` : String(e) }
  }
  // the first-error validator on the way in; every problem only for the reason
  if (!isValid("session#ChannelBatch", env.payload)) return { ok: false, reason: `payload: ${schemaProblems("session#ChannelBatch", env.payload).join("; ")}` }
  const messages = batchMessages(env)
  return typeof messages === "string" ? { ok: false, reason: messages } : { ok: true, env, messages }
}

interface SenderState {
  epoch: number
  next: number
  buffer: Map<number, { msg: DeliveredMessage; since: number; repair: boolean }>
  skipped: Set<number>
  /** The highest seq announced by some hub (0: none); seqs up to it are missing until they come. */
  known: number
  /** The highest seq buffered. */
  top: number
}

export interface InboxCounts {
  delivered: number
  duplicates: number
  dropped: number
  droppedNotParticipant: number
  skipped: number
  /** Messages delivered from a repair answer (they were missing here). */
  repaired: number
  /** Repair requests this hub sent. */
  repairRequests: number
  /** Repair requests of other hubs this hub served (looked up and answered what it holds). */
  repairServed: number
  /** Batches this hub sent again to answer a request. */
  repairAnswers: number
  /** Repair requests, answers and announcements refused: from a non-participant, malformed, too wide, or over a hub's rate. */
  repairRefused: number
}

/** A batch's place in its sender's order. */
export interface BatchSpan {
  sender: string
  epoch: number
  first: number
  last: number
}

export class ChannelInbox {
  readonly sessionId: string
  readonly counts: InboxCounts = { delivered: 0, duplicates: 0, dropped: 0, droppedNotParticipant: 0, skipped: 0, repaired: 0, repairRequests: 0, repairServed: 0, repairAnswers: 0, repairRefused: 0 }
  readonly #senders = new Map<string, SenderState>()
  readonly #isParticipant: (node: string) => boolean

  constructor(sessionId: string, isParticipant: (node: string) => boolean) {
    this.sessionId = sessionId
    this.#isParticipant = isParticipant
  }

  /**
   * Takes an untrusted batch envelope; returns what can be delivered now, in order. A copy
   * of a delivered message is counted as a duplicate unless it comes from the transcript
   * (`recorded`) or a repair answer (`repair`), where copies are expected.
   */
  accept(value: unknown, now: number, opts: { recorded?: boolean; repair?: boolean } = {}): DeliveredMessage[] {
    return this.acceptBatch(value, now, opts).messages
  }

  /** `accept`, also answering the batch's span when it was taken (verified, of a participant). */
  acceptBatch(value: unknown, now: number, opts: { recorded?: boolean; repair?: boolean } = {}): { messages: DeliveredMessage[]; batch?: BatchSpan } {
    const o = openBatch(value)
    if (!o.ok || o.env.payload.sessionId !== this.sessionId) {
      this.counts.dropped += claimed(value)
      return { messages: [] }
    }
    const list = o.messages
    if (!this.#isParticipant(o.env.signer)) {
      this.counts.dropped += list.length
      this.counts.droppedNotParticipant += list.length
      return { messages: [] }
    }
    const messages = this.#takeAll(list, now, opts.recorded === true || opts.repair === true, opts.repair === true)
    return { messages, batch: { sender: o.env.signer, epoch: o.env.payload.epoch, first: list[0]!.seq, last: list[list.length - 1]!.seq } }
  }

  /** This hub's own batch, just signed (not verified again). */
  acceptOwn(env: SignedEnvelope<ChannelBatch>, now: number): DeliveredMessage[] {
    const list = batchMessages(env)
    return typeof list === "string" ? [] : this.#takeAll(list, now, false, false)
  }

  /** `repair`: the messages come from a repair answer; each that fills a slot here counts as repaired when it is delivered. */
  #takeAll(list: DeliveredMessage[], now: number, recorded: boolean, repair: boolean): DeliveredMessage[] {
    const out: DeliveredMessage[] = []
    for (const m of list) for (const d of this.#take(m, now, recorded, repair)) out.push(d)
    return this.#out(out)
  }

  /** The sender's state for `epoch` (a newer epoch: what waited in the older one comes out first, its gaps skipped). */
  #stateFor(sender: string, epoch: number, out: DeliveredMessage[]): SenderState {
    let s = this.#senders.get(sender)
    if (!s || epoch > s.epoch) {
      if (s) while (s.buffer.size > 0) out.push(...this.#skipFirstGap(s))
      s = { epoch, next: 1, buffer: new Map(), skipped: new Set(), known: 0, top: 0 }
      this.#senders.set(sender, s)
    }
    return s
  }

  #take(msg: DeliveredMessage, now: number, recorded: boolean, repair: boolean): DeliveredMessage[] {
    const p = msg
    const out: DeliveredMessage[] = []
    const s = this.#stateFor(msg.sender, p.epoch, out)
    const dup = (): DeliveredMessage[] => {
      if (!recorded) this.counts.duplicates++
      return out
    }
    if (p.epoch < s.epoch) return dup()
    if (p.seq < s.next) {
      if (!s.skipped.delete(p.seq)) return dup()
      if (repair) this.counts.repaired++
      return [...out, { ...msg, late: true }]
    }
    if (s.buffer.has(p.seq)) return dup()
    // the next one in order (the common case) goes out without being buffered
    if (p.seq === s.next && s.buffer.size === 0) {
      s.next++
      if (repair) this.counts.repaired++
      out.push(msg)
      return out
    }
    s.buffer.set(p.seq, { msg, since: now, repair })
    if (p.seq > s.top) s.top = p.seq
    out.push(...this.#drain(s))
    return out
  }

  /**
   * A hub announced that `sender`'s epoch goes up to `seq`: what is not here up to it is
   * missing (a newer epoch than known starts that sender over). Returns what a newer epoch
   * let out of the older one.
   */
  announce(sender: string, epoch: number, seq: number): DeliveredMessage[] {
    const out: DeliveredMessage[] = []
    const s = this.#stateFor(sender, epoch, out)
    if (epoch === s.epoch && seq > s.known) s.known = seq
    return this.#out(out)
  }

  /** The first seq missing from `sender`'s current epoch, or undefined when nothing is missing. */
  firstMissing(sender: string): { epoch: number; next: number } | undefined {
    const s = this.#senders.get(sender)
    if (!s || (s.buffer.size === 0 && s.known < s.next)) return undefined
    return { epoch: s.epoch, next: s.next }
  }

  /** Senders with something missing. */
  gapSenders(): string[] {
    return [...this.#senders.keys()].filter(k => this.firstMissing(k) !== undefined)
  }

  /** The runs of seqs missing from `sender`'s current epoch, from its first gap on, spanning at most `maxRange` seqs and `maxRuns` runs. */
  missing(sender: string, maxRange: number, maxRuns = 32): { epoch: number; ranges: [number, number][] } | undefined {
    const s = this.#senders.get(sender)
    if (!s || this.firstMissing(sender) === undefined) return undefined
    const end = Math.min(Math.max(s.known, s.top), s.next + maxRange - 1)
    const ranges: [number, number][] = []
    let start = 0
    for (let q = s.next; q <= end + 1; q++) {
      const missing = q <= end && !s.buffer.has(q)
      if (missing && start === 0) start = q
      else if (!missing && start !== 0) {
        ranges.push([start, q - 1])
        start = 0
        if (ranges.length >= maxRuns) break
      }
    }
    return ranges.length > 0 ? { epoch: s.epoch, ranges } : undefined
  }

  /** Whether every seq of a batch is delivered, buffered or of an older epoch here (a copy of it is not needed). */
  holds(b: BatchSpan): boolean {
    const s = this.#senders.get(b.sender)
    if (!s) return false
    if (b.epoch !== s.epoch) return b.epoch < s.epoch
    for (let q = b.first; q <= b.last; q++) if (!(q < s.next ? !s.skipped.has(q) : s.buffer.has(q))) return false
    return true
  }

  /** Gives up on `sender`'s first gap (its repair timed out): what waits behind it comes out; an announced tail that never came is forgotten. */
  giveUp(sender: string): DeliveredMessage[] {
    const s = this.#senders.get(sender)
    if (!s) return []
    if (s.buffer.size === 0) {
      s.known = s.next - 1
      return []
    }
    return this.#out(this.#skipFirstGap(s))
  }

  /** Per sender, the highest seq of its current epoch this inbox has (delivered or waiting). */
  latest(): { sender: string; epoch: number; seq: number }[] {
    const out: { sender: string; epoch: number; seq: number }[] = []
    for (const [sender, s] of this.#senders) {
      const seq = Math.max(s.next - 1, s.buffer.size > 0 ? s.top : 0)
      if (seq > 0) out.push({ sender, epoch: s.epoch, seq })
    }
    return out
  }

  #skipFirstGap(s: SenderState): DeliveredMessage[] {
    let first = Infinity
    for (const q of s.buffer.keys()) if (q < first) first = q
    for (let q = s.next; q < first; q++) s.skipped.add(q)
    this.counts.skipped += first - s.next
    s.next = first
    return this.#drain(s)
  }

  /** Gives up on gaps older than `gapMs`: delivers what waits behind them. */
  skipGaps(now: number, gapMs: number): DeliveredMessage[] {
    const out: DeliveredMessage[] = []
    for (const s of this.#senders.values()) {
      while (s.buffer.size > 0) {
        // buffered in arrival order, so the first entry waited longest
        const oldest = s.buffer.values().next().value!.since
        if (now - oldest < gapMs) break
        out.push(...this.#skipFirstGap(s))
      }
    }
    return this.#out(out)
  }

  /** Whether a gap is being waited for. */
  get waiting(): boolean {
    for (const s of this.#senders.values()) if (s.buffer.size > 0 || s.known >= s.next) return true
    return false
  }

  #drain(s: SenderState): DeliveredMessage[] {
    const out: DeliveredMessage[] = []
    for (let b = s.buffer.get(s.next); b; b = s.buffer.get(s.next)) {
      s.buffer.delete(s.next)
      s.next++
      if (b.repair) this.counts.repaired++
      out.push(b.msg)
    }
    return out
  }

  #out(list: DeliveredMessage[]): DeliveredMessage[] {
    this.counts.delivered += list.length
    return list
  }
}
