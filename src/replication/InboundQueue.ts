/**
 * One socket's incoming messages, checked in order by an InboundCheck before they
 * reach the Repo. Checks may load a document, so they are asynchronous; order is kept
 * by chaining, and a peer that sends faster than its messages are checked has its
 * socket paused (backpressure) instead of filling our memory.
 */
import type { Message, PeerId } from "@automerge/automerge-repo/slim"
import type WebSocket from "ws"
import { toFedhubError, type FedhubError } from "../errors.ts"
import type { GateVerdict, InboundCheck, LinkAgreement } from "./InboundGate.ts"

/**
 * Refusals that drop the one message and keep the link: over a budget, or changes whose
 * author is not a writer or that equivocate (a relay forwarding them may be honest; the link
 * carries other documents).
 */
export const KEEPS_LINK: ReadonlySet<string> = new Set(["RATE_LIMITED", "NOT_A_WRITER", "CHANGE_UNATTRIBUTED", "EQUIVOCATION"])

export interface InboundSink {
  /** Hands a checked message to the Repo. */
  deliver(message: Message): void
  /** Answers `doc-unavailable` for a request this hub will not serve. */
  unavailable(message: Message): void
  /** The message was refused (the error says why). */
  refused(error: FedhubError, message: Message): void
}

/** Bytes of unchecked messages buffered before the socket is paused. */
const HIGH_WATER_BYTES = 8 * 1024 * 1024

export class InboundQueue {
  readonly #check: InboundCheck | undefined
  readonly #sink: InboundSink
  readonly #socket: WebSocket
  #tail: Promise<void> = Promise.resolve()
  #bytes = 0
  #paused = false
  #closed = false

  readonly #agreed: () => LinkAgreement | undefined

  /** `agreed` tells what the link's negotiation agreed (read when each message is checked). */
  constructor(socket: WebSocket, check: InboundCheck | undefined, sink: InboundSink, agreed: () => LinkAgreement | undefined = () => undefined) {
    this.#socket = socket
    this.#check = check
    this.#sink = sink
    this.#agreed = agreed
  }

  /** Queues a decoded message from `from` (with its frame size, for backpressure). */
  push(from: PeerId, message: Message, bytes: number): void {
    const check = this.#check
    if (!check) return this.#sink.deliver(message)
    this.#bytes += bytes
    if (this.#bytes > HIGH_WATER_BYTES && !this.#paused) {
      this.#paused = true
      this.#socket.pause()
    }
    this.#tail = this.#tail.then(async () => {
      let verdict: GateVerdict | undefined
      let error: FedhubError | undefined
      try {
        verdict = await check.check(from, message, this.#agreed())
      } catch (e) {
        error = toFedhubError(e)
      }
      this.#bytes -= bytes
      if (this.#paused && this.#bytes <= HIGH_WATER_BYTES / 2) {
        this.#paused = false
        this.#socket.resume()
      }
      if (this.#closed) return
      try {
        if (error) this.#sink.refused(error, message)
        else if (verdict === "unavailable") this.#sink.unavailable(message)
        else if (verdict && verdict !== "consumed") this.#sink.deliver(verdict.deliver)
      } catch (e) {
        try {
          this.#sink.refused(toFedhubError(e), message)
        } catch {
          // refusing failed too (the socket is going away): drop the peer rather than leave the chain broken
          this.#socket.terminate()
        }
      }
    })
  }

  /** Drops whatever is still queued (the socket is gone). */
  close(): void {
    this.#closed = true
  }
}
