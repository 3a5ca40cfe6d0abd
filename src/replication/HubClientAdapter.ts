/**
 * The dialing side of /sync: an automerge-repo NetworkAdapter for one remote hub.
 * Each (re)connection runs a fresh handshake (nonces are single-use), then speaks
 * the automerge-repo WebSocket protocol; lost links are redialed with exponential
 * backoff and jitter until `disconnect()`.
 */
import { EventEmitter } from "node:events"
import { NetworkAdapter, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo/slim"
import WebSocket from "ws"
import type { Identity, NodeId } from "../identity/index.ts"
import { FedhubError, toFedhubError } from "../errors.ts"
import { decodeFrame, encodeFrame, isError, isPeer, PROTOCOL_V1, toArrayBuffer, type WireMessage } from "./wire.ts"
import { performHandshake, PROOF_HEADER, syncEndpoint } from "./handshake.ts"

export type LinkState = "idle" | "establishing" | "established" | "offline" | "closed"

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
  maxFrameBytes?: number
  handshakeTimeoutMs?: number
}

export interface LinkMetrics {
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
  errors: number
  connects: number
}

interface LinkEvents {
  state: [LinkState, FedhubError | undefined]
}

export class HubClientAdapter extends NetworkAdapter {
  readonly events = new EventEmitter<LinkEvents>()
  readonly endpoint: string
  readonly metrics: LinkMetrics = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, errors: 0, connects: 0 }
  state: LinkState = "idle"
  lastError?: FedhubError
  remotePeerId?: PeerId
  readonly #opts: HubClientOptions
  readonly #backoff: BackoffOptions
  #socket?: WebSocket
  #attempt = 0
  #timer?: NodeJS.Timeout
  #stopped = false
  #ready = false
  #readyResolve!: () => void
  #readyPromise = new Promise<void>(r => (this.#readyResolve = r))

  constructor(opts: HubClientOptions) {
    super()
    this.#opts = opts
    this.#backoff = { ...DEFAULT_BACKOFF, ...opts.backoff }
    this.endpoint = syncEndpoint(opts.url)
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
    clearTimeout(this.#timer)
    void this.#dial()
  }

  send(message: Message): void {
    const socket = this.#socket
    if (!socket || socket.readyState !== WebSocket.OPEN || this.state !== "established") return
    if (message.data && message.data.byteLength === 0) throw new Error("Tried to send a zero-length message")
    this.#sendFrame(socket, message)
  }

  disconnect(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    const socket = this.#socket
    this.#socket = undefined
    if (socket) {
      socket.removeAllListeners()
      socket.on("error", () => {})
      socket.close(1000, "disconnect")
    }
    this.#lost()
    this.#setState("closed")
  }

  async #dial(): Promise<void> {
    if (this.#stopped) return
    this.#setState("establishing")
    let socket: WebSocket
    try {
      const headers: Record<string, string> = {}
      let url = this.endpoint
      const { auth } = this.#opts
      if (auth.kind === "node") {
        const hs = await performHandshake(auth.identity, this.endpoint, {
          expectServerId: auth.expectNodeId,
          timeoutMs: this.#opts.handshakeTimeoutMs,
        })
        headers[PROOF_HEADER] = hs.proof
        this.remotePeerId = hs.serverId as string as PeerId
      } else {
        url = `${this.endpoint}?token=${encodeURIComponent(auth.token)}`
      }
      if (this.#stopped) return
      socket = new WebSocket(url, {
        headers,
        maxPayload: this.#opts.maxFrameBytes,
        handshakeTimeout: this.#opts.handshakeTimeoutMs ?? 10_000,
      })
    } catch (e) {
      return this.#failed(toFedhubError(e))
    }
    this.#socket = socket
    socket.binaryType = "nodebuffer"
    socket.on("unexpected-response", (_req, res) => {
      let body = ""
      res.on("data", (c: Buffer) => (body += c.toString()))
      res.on("end", () => {
        const detail = safeDetail(body) ?? `HTTP ${res.statusCode}`
        this.#failed(new FedhubError(res.statusCode === 403 ? "FORBIDDEN" : "UNAUTHORIZED", detail))
      })
      res.on("error", () => this.#failed(new FedhubError("UNAUTHORIZED", `HTTP ${res.statusCode}`)))
    })
    socket.on("open", () => {
      this.#sendFrame(socket, {
        type: "join",
        senderId: this.peerId!,
        peerMetadata: this.peerMetadata ?? {},
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
      this.metrics.connects++
      this.#setState("established")
      this.#markReady()
      this.emit("peer-candidate", { peerId: message.senderId, peerMetadata: message.peerMetadata ?? {} })
      return
    }
    if (isError(message)) {
      this.lastError = new FedhubError("FORBIDDEN", message.message)
      this.metrics.errors++
      return
    }
    if (this.state !== "established") return
    if (message.senderId !== this.remotePeerId && message.type !== "ephemeral") {
      this.metrics.errors++
      return
    }
    this.emit("message", message as Message)
  }

  #sendFrame(socket: WebSocket, message: WireMessage): void {
    const bytes = encodeFrame(message)
    this.metrics.messagesOut++
    this.metrics.bytesOut += bytes.byteLength
    socket.send(toArrayBuffer(bytes))
  }

  #failed(error: FedhubError): void {
    if (this.#stopped) return
    const socket = this.#socket
    this.#socket = undefined
    if (socket) {
      socket.removeAllListeners()
      socket.on("error", () => {})
      socket.terminate()
    }
    this.metrics.errors++
    this.lastError = error
    this.#lost()
    this.#setState("offline", error)
    this.#markReady() // the repo must not wait forever for a peer that is down
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => void this.#dial(), backoffDelay(this.#attempt++, this.#backoff))
    this.#timer.unref()
  }

  #lost(): void {
    if (this.state === "established" && this.remotePeerId) this.emit("peer-disconnected", { peerId: this.remotePeerId })
  }

  #setState(state: LinkState, error?: FedhubError): void {
    if (this.state === state) return
    this.state = state
    this.events.emit("state", state, error)
  }

  #markReady(): void {
    if (this.#ready) return
    this.#ready = true
    this.#readyResolve()
  }
}

const safeDetail = (body: string): string | undefined => {
  try {
    const parsed = JSON.parse(body) as { detail?: unknown; code?: unknown }
    return typeof parsed.detail === "string" ? `${String(parsed.code ?? "")} ${parsed.detail}`.trim() : undefined
  } catch {
    return body.slice(0, 200) || undefined
  }
}
