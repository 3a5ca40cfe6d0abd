/**
 * A session channel's inbox, pure of any network: messages (signed envelopes, from
 * ephemeral messages or the transcript, in any order and any number of copies) come out
 * once each, in each sender's order (per sender, epoch then seq). A gap is waited for
 * until `skipGaps` is called past its deadline; a message that fills a skipped gap later
 * (from the transcript) is delivered then, marked `late`. A message that does not verify,
 * is for another session, or whose signer is not a participant is dropped and counted.
 */
import type { SignedEnvelope } from "../identity/index.ts"
import type { ChannelMessage } from "../schema/index.ts"
import { openSigned, SESSION_PURPOSE } from "./signed.ts"

export interface DeliveredMessage {
  id: string
  sessionId: string
  channel: string
  sender: string
  epoch: number
  seq: number
  text: string
  time: number
  late?: boolean
  envelope: SignedEnvelope<ChannelMessage>
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
   * Takes an untrusted envelope; returns what can be delivered now, in order. A copy of a
   * delivered message is counted as a duplicate unless it comes from the transcript
   * (`recorded`), where every live message is expected again.
   */
  accept(value: unknown, now: number, opts: { recorded?: boolean } = {}): DeliveredMessage[] {
    const o = openSigned(value, SESSION_PURPOSE.message, "session#ChannelMessage")
    if (!o.ok || o.env.payload.sessionId !== this.sessionId) {
      this.counts.dropped++
      return []
    }
    if (!this.#isParticipant(o.env.signer)) {
      this.counts.dropped++
      this.counts.droppedNotParticipant++
      return []
    }
    return this.#take(o.env, o.id, now, opts.recorded === true)
  }

  /** This hub's own message, just signed (not verified again). */
  acceptOwn(env: SignedEnvelope<ChannelMessage>, id: string, now: number): DeliveredMessage[] {
    return this.#take(env, id, now, false)
  }

  #take(env: SignedEnvelope<ChannelMessage>, id: string, now: number, recorded: boolean): DeliveredMessage[] {
    const p = env.payload
    const msg: DeliveredMessage = { id, sessionId: p.sessionId, channel: p.channel, sender: env.signer, epoch: p.epoch, seq: p.seq, text: p.text, time: env.time, envelope: env }
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
      if (s.skipped.delete(p.seq)) return this.#out([{ ...msg, late: true }])
      return dup()
    }
    if (s.buffer.has(p.seq)) return dup()
    s.buffer.set(p.seq, { msg, since: now })
    return this.#out(this.#drain(s))
  }

  /** Gives up on gaps older than `gapMs`: delivers what waits behind them. */
  skipGaps(now: number, gapMs: number): DeliveredMessage[] {
    const out: DeliveredMessage[] = []
    for (const s of this.#senders.values()) {
      while (s.buffer.size > 0) {
        const oldest = Math.min(...[...s.buffer.values()].map(b => b.since))
        if (now - oldest < gapMs) break
        const first = Math.min(...s.buffer.keys())
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
