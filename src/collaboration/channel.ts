/**
 * A session channel's inbox, pure of any network: batches of messages (signed envelopes,
 * from ephemeral messages or the transcript, in any order and any number of copies) come
 * out message by message, once each, in each sender's order (per sender, epoch then seq).
 * A gap is waited for until `skipGaps` is called past its deadline; a message that fills a
 * skipped gap later (from the transcript) is delivered then, marked `late`. A batch that
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
  buffer: Map<number, { msg: DeliveredMessage; since: number }>
  skipped: Set<number>
}

export interface InboxCounts {
  delivered: number
  duplicates: number
  dropped: number
  droppedNotParticipant: number
  skipped: number
}

export class ChannelInbox {
  readonly sessionId: string
  readonly counts: InboxCounts = { delivered: 0, duplicates: 0, dropped: 0, droppedNotParticipant: 0, skipped: 0 }
  readonly #senders = new Map<string, SenderState>()
  readonly #isParticipant: (node: string) => boolean

  constructor(sessionId: string, isParticipant: (node: string) => boolean) {
    this.sessionId = sessionId
    this.#isParticipant = isParticipant
  }

  /**
   * Takes an untrusted batch envelope; returns what can be delivered now, in order. A copy
   * of a delivered message is counted as a duplicate unless it comes from the transcript
   * (`recorded`), where every live message is expected again.
   */
  accept(value: unknown, now: number, opts: { recorded?: boolean } = {}): DeliveredMessage[] {
    const o = openBatch(value)
    if (!o.ok || o.env.payload.sessionId !== this.sessionId) {
      this.counts.dropped += claimed(value)
      return []
    }
    const list = o.messages
    if (!this.#isParticipant(o.env.signer)) {
      this.counts.dropped += list.length
      this.counts.droppedNotParticipant += list.length
      return []
    }
    return this.#takeAll(list, now, opts.recorded === true)
  }

  /** This hub's own batch, just signed (not verified again). */
  acceptOwn(env: SignedEnvelope<ChannelBatch>, now: number): DeliveredMessage[] {
    const list = batchMessages(env)
    return typeof list === "string" ? [] : this.#takeAll(list, now, false)
  }

  #takeAll(list: DeliveredMessage[], now: number, recorded: boolean): DeliveredMessage[] {
    const out: DeliveredMessage[] = []
    for (const m of list) for (const d of this.#take(m, now, recorded)) out.push(d)
    return this.#out(out)
  }

  #take(msg: DeliveredMessage, now: number, recorded: boolean): DeliveredMessage[] {
    const p = msg
    let s = this.#senders.get(msg.sender)
    if (!s || p.epoch > s.epoch) {
      s = { epoch: p.epoch, next: 1, buffer: new Map(), skipped: new Set() }
      this.#senders.set(msg.sender, s)
    }
    const dup = (): [] => {
      if (!recorded) this.counts.duplicates++
      return []
    }
    if (p.epoch < s.epoch) return dup()
    if (p.seq < s.next) {
      if (s.skipped.delete(p.seq)) return [{ ...msg, late: true }]
      return dup()
    }
    if (s.buffer.has(p.seq)) return dup()
    // the next one in order (the common case) goes out without being buffered
    if (p.seq === s.next && s.buffer.size === 0) {
      s.next++
      return [msg]
    }
    s.buffer.set(p.seq, { msg, since: now })
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
        let first = Infinity
        for (const q of s.buffer.keys()) if (q < first) first = q
        for (let q = s.next; q < first; q++) s.skipped.add(q)
        this.counts.skipped += first - s.next
        s.next = first
        out.push(...this.#drain(s))
      }
    }
    return this.#out(out)
  }

  /** Whether a gap is being waited for. */
  get waiting(): boolean {
    for (const s of this.#senders.values()) if (s.buffer.size > 0) return true
    return false
  }

  #drain(s: SenderState): DeliveredMessage[] {
    const out: DeliveredMessage[] = []
    for (let b = s.buffer.get(s.next); b; b = s.buffer.get(s.next)) {
      s.buffer.delete(s.next)
      s.next++
      out.push(b.msg)
    }
    return out
  }

  #out(list: DeliveredMessage[]): DeliveredMessage[] {
    this.counts.delivered += list.length
    return list
  }
}
