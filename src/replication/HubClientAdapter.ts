/**
 * The dialing side of /sync: an automerge-repo NetworkAdapter for one remote hub.
 * Each (re)connection runs a fresh handshake (nonces are single-use, the offer is
 * negotiated again), then speaks the automerge-repo WebSocket protocol; lost links
 * are redialed with exponential backoff and jitter until `disconnect()`.
 *
 * Link health: while up, a WebSocket ping goes out every heartbeat interval and its
 * pong measures the round trip. Missed pongs in a row turn the link "degraded", then
 * (at `offlineAfter`) the socket is dropped and redialed:
 *
 *   idle → establishing → established ⇄ degraded → offline → establishing → …
 *                                                  (any) → closed (disconnect)
 */
import { EventEmitter } from "node:events"
import { NetworkAdapter, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo/slim"
import WebSocket from "ws"
import type { Identity, NodeId } from "../identity/index.ts"
import { FedhubError, toFedhubError, type ErrorCode } from "../errors.ts"
import type { InboundCheck } from "./InboundGate.ts"
import type { PeerFetchOptions } from "./boundedFetch.ts"
import { guardedLookup } from "./dialTarget.ts"
import { InboundQueue, KEEPS_LINK } from "./InboundQueue.ts"
import { pinnedTlsConnect, type CreateConnection } from "./tlsLink.ts"
import { decodeFrame, encodeFrame, isError, isPeer, PROTOCOL_V1, toArrayBuffer, type WireMessage } from "./wire.ts"
import {
  performHandshake,
  PROOF_HEADER,
  refusalError,
  syncEndpoint,
  type Agreement,
  type CheckAgreementFn,
  type Offer,
} from "./handshake.ts"

/** `standby`: another process of this identity holds the peer's link (`mayDial`); retried every `standbyMs`. */
export type LinkState = "idle" | "standby" | "establishing" | "established" | "degraded" | "offline" | "closed"

/** The states in which the link is up and carries messages. */
export const isUp = (state: LinkState): boolean => state === "established" || state === "degraded"

export interface HeartbeatOptions {
  /** A ping every this many ms while the link is up. */
  intervalMs: number
  /** Missed pongs in a row that make the link "degraded". */
  degradedAfter: number
  /** Missed pongs in a row after which the socket is dropped and redialed ("offline"). */
  offlineAfter: number
}

export const DEFAULT_HEARTBEAT: HeartbeatOptions = { intervalMs: 5_000, degradedAfter: 1, offlineAfter: 3 }

/** Weight of the newest round trip in `latencyEwmaMs`. */
export const LATENCY_EWMA_ALPHA = 0.2

export interface BackoffOptions {
  initialMs: number
  maxMs: number
  /** 0..1: each delay is drawn uniformly from [d·(1-jitter), d]. */
  jitter: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000, jitter: 0.5 }

/** The delay before redial number `attempt` (0-based): exponential, capped, jittered. */
export const backoffDelay = (attempt: number, b: BackoffOptions, random = Math.random): number => {
  const base = Math.min(b.maxMs, b.initialMs * 2 ** Math.min(attempt, 30))
  return Math.round(base * (1 - b.jitter * random()))
}

export type HubClientAuth =
  | { kind: "node"; identity: Identity; expectNodeId?: NodeId }
  | { kind: "token"; token: string }

export interface HubClientOptions {
  url: string
  auth: HubClientAuth
  backoff?: Partial<BackoffOptions>
  heartbeat?: Partial<HeartbeatOptions>
  maxFrameBytes?: number
  handshakeTimeoutMs?: number
  /** Node auth: what we offer in each handshake (federation/negotiation.ts builds it). */
  offer?: Offer
  /** Extra fields for the join's peerMetadata (e.g. where our directory document is). */
  metadata?: Record<string, unknown>
  /** Node auth: checks the agreement the server signed; throw to refuse the link. */
  checkAgreement?: CheckAgreementFn
  /** Checks every message from the server before the Repo sees it (limits, budgets). */
  gate?: InboundCheck
  /** Node auth: limits of the challenge request and where the URL may point (also checked for the socket). */
  peerFetch?: PeerFetchOptions
  /** Frames to send before a message (the policy records of its document, PolicyAnnouncer). */
  before?: (message: Message) => WireMessage[]
  /** Rewrites (signs) or drops (undefined) a message before it is sent. */
  rewrite?: (message: Message) => Message | undefined
  /** CAs trusted for a hub's CA-issued certificate over wss:// (default: the system's). */
  ca?: string[]
  /** Asked before each dial: false while another process of this identity holds the link (then `standby`). */
  mayDial?: () => Promise<boolean>
  /** How often a standing-by link asks `mayDial` again (default 2,000 ms). */
  standbyMs?: number
}

export interface LinkMetrics {
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
  /** Failed dials and refusals, lost links, bad frames, missed pongs. */
  errors: number
  /** Times the link was established. */
  connects: number
  pingsSent: number
  pongsReceived: number
  missedPongs: number
  /** Round trip of the latest answered ping (ms), null before the first. */
  latencyMs: number | null
  /** Exponentially weighted moving average of the round trips (ms). */
  latencyEwmaMs: number | null
}

/** A link's health at a glance (`HubClientAdapter.health()`). */
export interface LinkHealth {
  state: LinkState
  /** When the current state began (ms since the epoch). */
  since: number
  /** Share of the time since the first `connect()` spent established or degraded, 0–100. */
  uptimePct: number
  /** errors / (messagesIn + messagesOut + errors), 0–1. */
  errorRate: number
  /** Missed pongs while up, failed dials while down; 0 once a pong or a connection succeeds. */
  consecutiveFailures: number
  latencyMs: number | null
  latencyEwmaMs: number | null
  lastError: { code: ErrorCode; detail: string; at: number } | null
  connects: number
}

interface LinkEvents {
  state: [LinkState, FedhubError | undefined]
  /** A pong came back: its round trip in ms. */
  pong: [number]
  /** A message from the server was refused (over a limit, malformed). */
  refused: [FedhubError]
}

export class HubClientAdapter extends NetworkAdapter {
  readonly events = new EventEmitter<LinkEvents>()
  readonly endpoint: string
  readonly metrics: LinkMetrics = {
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    errors: 0,
    connects: 0,
    pingsSent: 0,
    pongsReceived: 0,
    missedPongs: 0,
    latencyMs: null,
    latencyEwmaMs: null,
  }
  state: LinkState = "idle"
  lastError?: FedhubError
  remotePeerId?: PeerId
  /** What the server and we agreed in the latest handshake (node auth with a negotiating server). */
  agreement?: Agreement
  readonly #opts: HubClientOptions
  readonly #backoff: BackoffOptions
  readonly #heartbeat: HeartbeatOptions
  #socket?: WebSocket
  #inbound?: InboundQueue
  #attempt = 0
  #timer?: NodeJS.Timeout
  #stopped = false
  // health
  #beat?: NodeJS.Timeout
  #pings = new Map<number, number>() // seq → sent at (performance.now())
  #pingSeq = 0
  #failures = 0
  #lastErrorAt = 0
  #firstConnectAt?: number
  #since = Date.now()
  #upSince = 0
  #upMs = 0
  #ready = false
  #readyResolve!: () => void
  #readyPromise = new Promise<void>(r => (this.#readyResolve = r))

  constructor(opts: HubClientOptions) {
    super()
    this.#opts = opts
    this.#backoff = { ...DEFAULT_BACKOFF, ...opts.backoff }
    this.#heartbeat = { ...DEFAULT_HEARTBEAT, ...opts.heartbeat }
    this.endpoint = syncEndpoint(opts.url)
  }

  /** The link's health now: state, uptime, error rate, failures in a row, latency. */
  health(now = Date.now()): LinkHealth {
    const m = this.metrics
    const upMs = this.#upMs + (isUp(this.state) ? now - this.#upSince : 0)
    const span = this.#firstConnectAt === undefined ? 0 : now - this.#firstConnectAt
    const traffic = m.messagesIn + m.messagesOut + m.errors
    return {
      state: this.state,
      since: this.#since,
      uptimePct: span > 0 ? Math.min(100, Math.round((upMs / span) * 10_000) / 100) : 0,
      errorRate: traffic > 0 ? m.errors / traffic : 0,
      consecutiveFailures: this.#failures,
      latencyMs: m.latencyMs,
      latencyEwmaMs: m.latencyEwmaMs,
      lastError: this.lastError ? { code: this.lastError.code, detail: this.lastError.detail, at: this.#lastErrorAt } : null,
      connects: m.connects,
    }
  }

  /** The node this link must reach, when the dialer named one. */
  get expectNodeId(): NodeId | undefined {
    return this.#opts.auth.kind === "node" ? this.#opts.auth.expectNodeId : undefined
  }

  isReady(): boolean {
    return this.#ready
  }

  whenReady(): Promise<void> {
    return this.#readyPromise
  }

  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    const { auth } = this.#opts
    if (auth.kind === "node" && (peerId as string) !== auth.identity.nodeId)
      throw new FedhubError("PEER_ID_MISMATCH", `a hub's peerId must be its node id ${auth.identity.nodeId}`)
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    this.#stopped = false
    this.#firstConnectAt ??= Date.now()
    clearTimeout(this.#timer)
    this.#dial().catch(e => this.#failed(toFedhubError(e)))
  }

  send(message: Message): void {
    const socket = this.#socket
    if (!socket || socket.readyState !== WebSocket.OPEN || !isUp(this.state)) return
    if (message.data && message.data.byteLength === 0) throw new Error("Tried to send a zero-length message")
    const out = this.#opts.rewrite ? this.#opts.rewrite(message) : message
    if (!out) return
    for (const frame of this.#opts.before?.(out) ?? []) this.#sendFrame(socket, frame)
    this.#sendFrame(socket, out)
  }

  disconnect(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#detachSocket(s => s.close(1000, "disconnect"))
    this.#lost()
    this.#setState("closed")
  }

  async #dial(): Promise<void> {
    if (this.#stopped) return
    if (this.#opts.mayDial && !(await this.#opts.mayDial())) return this.#standBy()
    if (this.#stopped) return
    this.#setState("establishing")
    let socket: WebSocket
    try {
      const headers: Record<string, string> = {}
      let url = this.endpoint
      let createConnection: CreateConnection | undefined
      const { auth } = this.#opts
      if (auth.kind === "node") {
        let hs: Awaited<ReturnType<typeof performHandshake>>
        try {
          hs = await performHandshake(auth.identity, this.endpoint, {
            expectServerId: auth.expectNodeId,
            timeoutMs: this.#opts.handshakeTimeoutMs,
            offer: this.#opts.offer,
            checkAgreement: this.#opts.checkAgreement,
            peerFetch: this.#opts.peerFetch,
            ca: this.#opts.ca,
          })
        } catch (e) {
          this.agreement = undefined
          throw e
        }
        headers[PROOF_HEADER] = hs.proof
        createConnection = hs.createConnection
        this.remotePeerId = hs.serverId as string as PeerId
        this.agreement = hs.agreement
      } else {
        url = `${this.endpoint}?token=${encodeURIComponent(auth.token)}`
        if (url.startsWith("wss:")) createConnection = pinnedTlsConnect(undefined, {})
      }
      if (this.#stopped) return
      socket = new WebSocket(url, {
        headers,
        ...(createConnection ? { createConnection: createConnection as never } : {}),
        maxPayload: this.#opts.maxFrameBytes,
        // the address checked is the one dialed (a name cannot resolve elsewhere in between)
        ...(this.#opts.peerFetch?.allow ? { lookup: guardedLookup({ allow: this.#opts.peerFetch.allow }) } : {}),
        handshakeTimeout: this.#opts.handshakeTimeoutMs ?? 10_000,
      })
    } catch (e) {
      return this.#failed(toFedhubError(e))
    }
    this.#socket = socket
    this.#inbound?.close()
    this.#inbound = new InboundQueue(socket, this.#opts.gate, {
      deliver: m => {
        if (socket === this.#socket) this.emit("message", m)
      },
      unavailable: m => {
        if (socket === this.#socket && this.peerId && this.remotePeerId && m.documentId)
          this.#sendFrame(socket, { type: "doc-unavailable", senderId: this.peerId, targetId: this.remotePeerId, documentId: m.documentId })
      },
      refused: err => {
        this.metrics.errors++
        this.events.emit("refused", err)
        if (KEEPS_LINK.has(err.code) || socket !== this.#socket) return
        socket.close(4400, err.code)
        this.#failed(err)
      },
    }, () => this.agreement)
    socket.binaryType = "nodebuffer"
    socket.on("unexpected-response", (_req, res) => {
      let body = ""
      // a refusal's problem+json is small; read at most 64 KiB of whatever the server sends
      res.on("data", (c: Buffer) => {
        if (body.length < 65_536) body += c.toString()
        else res.destroy()
      })
      res.on("end", () => this.#failed(refusalError(res.statusCode ?? 0, parseProblem(body), "upgrade refused")))
      res.on("error", () => this.#failed(new FedhubError("UNAUTHORIZED", `HTTP ${res.statusCode}`)))
    })
    socket.on("open", () => {
      this.#sendFrame(socket, {
        type: "join",
        senderId: this.peerId!,
        peerMetadata: { ...this.#opts.metadata, ...this.peerMetadata },
        supportedProtocolVersions: [PROTOCOL_V1],
      })
    })
    socket.on("message", (data: Buffer) => this.#receive(socket, data))
    socket.on("error", e => this.#failed(toFedhubError(e)))
    socket.on("close", (code, reason) => {
      if (socket !== this.#socket) return
      const why = reason.toString()
      this.#failed(new FedhubError("HUB_UNREACHABLE", `connection closed (${code}${why ? ` ${why}` : ""})`))
    })
  }

  #receive(socket: WebSocket, data: Buffer): void {
    if (socket !== this.#socket) return
    let message: WireMessage
    try {
      this.metrics.messagesIn++
      this.metrics.bytesIn += data.byteLength
      message = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    } catch (e) {
      this.metrics.errors++
      socket.close(4400, "malformed frame")
      return
    }
    if (isPeer(message)) {
      if (this.#opts.auth.kind === "node" && message.senderId !== this.remotePeerId) {
        socket.close(4403, "peer id differs from the handshake")
        this.#failed(new FedhubError("PEER_ID_MISMATCH", `server joined as ${message.senderId}, proved ${this.remotePeerId}`))
        return
      }
      this.remotePeerId = message.senderId
      this.#attempt = 0
      this.#failures = 0
      this.metrics.connects++
      this.#setState("established")
      this.#startHeartbeat(socket)
      this.#markReady()
      this.emit("peer-candidate", { peerId: message.senderId, peerMetadata: message.peerMetadata ?? {} })
      return
    }
    if (isError(message)) {
      this.#noteError(new FedhubError("FORBIDDEN", message.message))
      this.metrics.errors++
      return
    }
    if (!isUp(this.state)) return
    if (message.senderId !== this.remotePeerId && message.type !== "ephemeral") {
      this.metrics.errors++
      return
    }
    this.#inbound?.push(this.remotePeerId!, message as Message, data.byteLength)
  }

  #sendFrame(socket: WebSocket, message: WireMessage): void {
    const bytes = encodeFrame(message)
    this.metrics.messagesOut++
    this.metrics.bytesOut += bytes.byteLength
    socket.send(toArrayBuffer(bytes))
  }

  /** Stops the heartbeat and lets go of the current socket (its late events are ignored). */
  #detachSocket(end: (socket: WebSocket) => void): void {
    this.#stopHeartbeat()
    const socket = this.#socket
    this.#socket = undefined
    if (!socket) return
    socket.removeAllListeners()
    socket.on("error", () => {})
    end(socket)
  }

  #failed(error: FedhubError): void {
    if (this.#stopped) return
    this.#detachSocket(s => s.terminate())
    this.metrics.errors++
    this.#failures++
    this.#noteError(error)
    this.#lost()
    this.#setState("offline", error)
    this.#markReady() // the repo must not wait forever for a peer that is down
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.#dial().catch(e => this.#failed(toFedhubError(e))), backoffDelay(this.#attempt++, this.#backoff))
    this.#timer.unref()
  }

  /** Another process holds the link: no socket, no error counted; ask again later. */
  #standBy(): void {
    if (this.#stopped) return
    this.#setState("standby")
    this.#markReady() // the repo must not wait for a link another process carries
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.#dial().catch(e => this.#failed(toFedhubError(e))), this.#opts.standbyMs ?? 2_000)
    this.#timer.unref()
  }

  #lost(): void {
    if (isUp(this.state) && this.remotePeerId) this.emit("peer-disconnected", { peerId: this.remotePeerId })
  }

  #noteError(error: FedhubError): void {
    this.lastError = error
    this.#lastErrorAt = Date.now()
  }

  #startHeartbeat(socket: WebSocket): void {
    this.#stopHeartbeat()
    socket.on("pong", (data: Buffer) => this.#pong(socket, data))
    this.#beat = setInterval(() => this.#tick(socket), this.#heartbeat.intervalMs)
    this.#beat.unref()
  }

  #stopHeartbeat(): void {
    clearInterval(this.#beat)
    this.#beat = undefined
    this.#pings.clear()
  }

  /** One heartbeat: count the previous ping if it went unanswered, then ping again. */
  #tick(socket: WebSocket): void {
    if (socket !== this.#socket) return this.#stopHeartbeat()
    const { intervalMs, degradedAfter, offlineAfter } = this.#heartbeat
    if (this.#pings.has(this.#pingSeq)) {
      this.metrics.missedPongs++
      const missed = this.#failures + 1
      const error = new FedhubError("TIMEOUT", `no pong for ${missed} heartbeat${missed === 1 ? "" : "s"} in a row (every ${intervalMs} ms)`)
      if (missed >= offlineAfter) return this.#failed(error) // counts the error and the failure
      this.#failures = missed
      this.metrics.errors++
      this.#noteError(error)
      if (missed >= degradedAfter) this.#setState("degraded", error)
    }
    const seq = ++this.#pingSeq
    this.#pings.set(seq, performance.now())
    // remember only the pings a late pong could still answer
    for (const old of this.#pings.keys()) if (old <= seq - offlineAfter - 1) this.#pings.delete(old)
    try {
      socket.ping(Buffer.from(String(seq)))
      this.metrics.pingsSent++
    } catch {
      // closing; the 'close' handler redials
    }
  }

  #pong(socket: WebSocket, data: Buffer): void {
    if (socket !== this.#socket) return
    const seq = Number(data.toString())
    const sentAt = this.#pings.get(seq)
    if (sentAt === undefined) return // not a ping of ours (or one we gave up on)
    // a pong also answers every earlier ping still waiting
    for (const old of this.#pings.keys()) if (old <= seq) this.#pings.delete(old)
    const rtt = Math.round((performance.now() - sentAt) * 1000) / 1000
    const m = this.metrics
    m.pongsReceived++
    m.latencyMs = rtt
    m.latencyEwmaMs = m.latencyEwmaMs === null ? rtt : Math.round((m.latencyEwmaMs + LATENCY_EWMA_ALPHA * (rtt - m.latencyEwmaMs)) * 1000) / 1000
    this.#failures = 0
    if (this.state === "degraded") this.#setState("established")
    this.events.emit("pong", rtt)
  }

  #setState(state: LinkState, error?: FedhubError): void {
    if (this.state === state) return
    const now = Date.now()
    if (isUp(this.state) && !isUp(state)) this.#upMs += now - this.#upSince
    if (!isUp(this.state) && isUp(state)) this.#upSince = now
    this.state = state
    this.#since = now
    this.events.emit("state", state, error)
  }

  #markReady(): void {
    if (this.#ready) return
    this.#ready = true
    this.#readyResolve()
  }
}

/** The problem+json body of a refused upgrade, or its first bytes as the detail. */
const parseProblem = (body: string): unknown => {
  try {
    return JSON.parse(body) as unknown
  } catch {
    return body ? { detail: body.slice(0, 200) } : null
  }
}
