/**
 * The server side of /sync: an automerge-repo NetworkAdapter fed with sockets that
 * were already authenticated during the HTTP upgrade. It binds each socket to its
 * principal and refuses any join whose peerId is not the one that principal may use.
 */
import { EventEmitter } from "node:events"
import { NetworkAdapter, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo/slim"
import WebSocket from "ws"
import { isNodeId } from "../identity/index.ts"
import { FedhubError, toFedhubError, type ErrorCode } from "../errors.ts"
import { decodeFrame, encodeFrame, isJoin, PROTOCOL_V1, toArrayBuffer, type WireMessage } from "./wire.ts"
import { describePrincipal, samePrincipal, type Principal } from "./principal.ts"
import type { InboundCheck, LinkAgreement } from "./InboundGate.ts"
import { InboundQueue, KEEPS_LINK } from "./InboundQueue.ts"

/** Close codes sent to a refused peer (4000-4999 are for applications). */
export const CLOSE = {
  PROTOCOL: 4400,
  PEER_ID_MISMATCH: 4403,
  UNSUPPORTED_VERSION: 4426,
  REPLACED: 4409,
  SHUTDOWN: 1001,
} as const

export interface SyncServerAdapterOptions {
  /** Ping every this many ms; a socket that missed one pong is terminated. */
  keepAliveMs?: number
  /** Checks every message from a hub before the Repo sees it (limits, budgets); local clients skip it. */
  gate?: InboundCheck
  /** What the latest handshake of a node agreed (its link's capabilities), for the gate. */
  agreementOf?: (nodeId: string) => LinkAgreement | undefined
  /** Frames to send before a message (the policy records of its document, PolicyAnnouncer). */
  before?: (message: Message) => WireMessage[]
  /** Rewrites (signs) or drops (undefined) a message to a hub before it is sent. */
  rewrite?: (message: Message) => Message | undefined
}

/** What a refused or misbehaving peer did, for logs, counters and tests. */
export interface Refusal {
  code: ErrorCode
  detail: string
  principal: Principal
  /** True the first time this principal is refused with this code (log it), false after (count it). */
  first: boolean
}

export interface ServerConnection {
  socket: WebSocket
  principal: Principal
  peerId?: PeerId
  /** What the peer announced in its join (attributable: the socket is authenticated). */
  peerMetadata?: PeerMetadata
  alive: boolean
  openedAt: number
  /** When its join was accepted (ms). */
  joinedAt?: number
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
  /** Round trip of the latest keepalive ping (ms), null before the first pong. */
  latencyMs: number | null
  /** When the latest keepalive ping went out (performance.now()). */
  pingSentAt?: number
  /** Messages waiting for the gate, in order. */
  inbound: InboundQueue
}

interface ServerEvents {
  refusal: [Refusal]
  joined: [ServerConnection]
  left: [ServerConnection]
}

export class SyncServerAdapter extends NetworkAdapter {
  /** Side channel for refusals and joins; the NetworkAdapter events stay automerge-repo's. */
  readonly events = new EventEmitter<ServerEvents>()
  readonly refusals: Record<string, number> = {}
  #byPeer = new Map<PeerId, ServerConnection>()
  #connections = new Set<ServerConnection>()
  #ready = false
  #readyResolve!: () => void
  #readyPromise = new Promise<void>(r => (this.#readyResolve = r))
  #keepAlive?: NodeJS.Timeout
  readonly #keepAliveMs: number
  readonly #gate: InboundCheck | undefined
  readonly #agreementOf: ((nodeId: string) => LinkAgreement | undefined) | undefined
  readonly #before: ((message: Message) => WireMessage[]) | undefined
  readonly #rewrite: ((message: Message) => Message | undefined) | undefined
  #refusedOnce = new Set<string>()

  constructor(opts: SyncServerAdapterOptions = {}) {
    super()
    this.#keepAliveMs = opts.keepAliveMs ?? 10_000
    this.#gate = opts.gate
    this.#agreementOf = opts.agreementOf
    this.#before = opts.before
    this.#rewrite = opts.rewrite
  }

  isReady(): boolean {
    return this.#ready
  }

  whenReady(): Promise<void> {
    return this.#readyPromise
  }

  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    this.#ready = true
    this.#readyResolve()
    clearInterval(this.#keepAlive)
    this.#keepAlive = setInterval(() => this.#ping(), this.#keepAliveMs)
    this.#keepAlive.unref()
  }

  /** Takes over a socket whose upgrade was authenticated as `principal`. */
  accept(socket: WebSocket, principal: Principal): ServerConnection {
    const conn: ServerConnection = {
      socket,
      principal,
      alive: true,
      openedAt: Date.now(),
      messagesIn: 0,
      messagesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      latencyMs: null,
      inbound: undefined as unknown as InboundQueue,
    }
    conn.inbound = new InboundQueue(socket, principal.kind === "node" ? this.#gate : undefined, {
      deliver: m => {
        if (conn.peerId !== undefined && this.#byPeer.get(conn.peerId) === conn) this.emit("message", m)
      },
      unavailable: m => this.#unavailable(conn, m),
      refused: (err, m) => {
        if (KEEPS_LINK.has(err.code)) {
          this.#count(conn, err.code, err.detail)
          if (m.type === "request") this.#unavailable(conn, m)
        } else this.#refuse(conn, err.code, err.detail, CLOSE.PROTOCOL)
      },
    }, () => (principal.kind === "node" ? this.#agreementOf?.(principal.nodeId) : undefined))
    this.#connections.add(conn)
    socket.on("message", (data, isBinary) => {
      try {
        const bytes = toBytes(data)
        conn.messagesIn++
        conn.bytesIn += bytes.byteLength
        if (!isBinary) throw new FedhubError("MALFORMED_FRAME", "text frames are not part of the protocol")
        this.#receive(conn, decodeFrame(bytes), bytes.byteLength)
      } catch (e) {
        const err = toFedhubError(e)
        this.#refuse(conn, err.code, err.detail, err.code === "PEER_ID_MISMATCH" ? CLOSE.PEER_ID_MISMATCH : CLOSE.PROTOCOL)
      }
    })
    socket.on("pong", () => {
      conn.alive = true
      if (conn.pingSentAt !== undefined) conn.latencyMs = Math.round((performance.now() - conn.pingSentAt) * 1000) / 1000
    })
    socket.on("error", () => {}) // 'close' follows; an error must not crash the hub
    socket.on("close", (code, reason) => {
      if (code === 1009) this.#count(conn, "FRAME_TOO_LARGE", `frame over the limit (${reason.toString()})`)
      this.#drop(conn)
    })
    return conn
  }

  send(message: Message): void {
    const conn = this.#byPeer.get(message.targetId)
    if (!conn || conn.socket.readyState !== WebSocket.OPEN) return
    if (message.data && message.data.byteLength === 0) throw new Error("Tried to send a zero-length message")
    let out: Message | undefined = message
    if (conn.principal.kind === "node") {
      out = this.#rewrite ? this.#rewrite(message) : message
      if (!out) return
      for (const frame of this.#before?.(out) ?? []) this.#sendFrame(conn, frame)
    }
    this.#sendFrame(conn, out)
  }

  disconnect(): void {
    clearInterval(this.#keepAlive)
    for (const conn of [...this.#connections]) {
      conn.socket.close(CLOSE.SHUTDOWN, "server shutting down")
      this.#drop(conn)
    }
  }

  /** Closes the link of one peer (an administrator's disconnect, a block; `REPLACED` when a newer socket took over). */
  dropPeer(peerId: PeerId, reason = "disconnected by the hub", code: number = CLOSE.SHUTDOWN): boolean {
    const conn = this.#byPeer.get(peerId)
    if (!conn) return false
    conn.socket.close(code, reason)
    this.#drop(conn)
    return true
  }

  /** The live, joined connections. */
  connections(): ServerConnection[] {
    return [...this.#byPeer.values()]
  }

  #receive(conn: ServerConnection, message: WireMessage, bytes: number): void {
    if (isJoin(message)) return this.#join(conn, message.senderId, message.peerMetadata ?? {}, message.supportedProtocolVersions)
    if (conn.peerId === undefined) throw new FedhubError("MALFORMED_FRAME", `'${message.type}' before 'join'`)
    // ephemeral messages are relayed hop by hop with their origin's senderId (unauthenticated,
    // see docs/PROTOCOL.md); everything else must come from the peer bound to this socket
    if (message.senderId !== conn.peerId && message.type !== "ephemeral")
      throw new FedhubError("PEER_ID_MISMATCH", `message claims sender ${message.senderId} on the socket of ${conn.peerId}`)
    if (this.#byPeer.get(conn.peerId) !== conn) return // replaced by a newer socket
    if (message.type === "peer" || message.type === "error") return
    conn.inbound.push(conn.peerId, message as Message, bytes)
  }

  #unavailable(conn: ServerConnection, m: Message): void {
    if (!this.peerId || !conn.peerId || !m.documentId || conn.socket.readyState !== WebSocket.OPEN) return
    this.#sendFrame(conn, { type: "doc-unavailable", senderId: this.peerId, targetId: conn.peerId, documentId: m.documentId })
  }

  #join(conn: ServerConnection, senderId: PeerId, peerMetadata: PeerMetadata, versions?: string[]): void {
    const { principal } = conn
    if (conn.peerId !== undefined && conn.peerId !== senderId)
      throw new FedhubError("PEER_ID_MISMATCH", `socket already joined as ${conn.peerId}, now claims ${senderId}`)
    if (principal.kind === "node" && (senderId as string) !== principal.nodeId)
      throw new FedhubError("PEER_ID_MISMATCH", `authenticated as ${principal.nodeId} but joined as ${senderId}`)
    if (principal.kind === "client" && (isNodeId(senderId) || senderId === this.peerId))
      throw new FedhubError("PEER_ID_MISMATCH", `a client may not use the node id ${senderId} as its peerId`)
    if (versions !== undefined && !versions.includes(PROTOCOL_V1)) {
      this.#refuse(conn, "INVALID_INPUT", "unsupported protocol version", CLOSE.UNSUPPORTED_VERSION, senderId)
      return
    }
    const existing = this.#byPeer.get(senderId)
    if (existing && existing !== conn) {
      if (!samePrincipal(existing.principal, principal))
        throw new FedhubError("PEER_ID_MISMATCH", `peerId ${senderId} is held by ${describePrincipal(existing.principal)}`)
      existing.socket.close(CLOSE.REPLACED, "replaced by a newer connection")
      this.#drop(existing)
    }
    conn.peerId = senderId
    conn.peerMetadata = peerMetadata
    conn.joinedAt = Date.now()
    this.#byPeer.set(senderId, conn)
    this.emit("peer-candidate", { peerId: senderId, peerMetadata })
    this.#sendFrame(conn, {
      type: "peer",
      senderId: this.peerId!,
      peerMetadata: this.peerMetadata ?? {},
      selectedProtocolVersion: PROTOCOL_V1,
      targetId: senderId,
    })
    this.events.emit("joined", conn)
  }

  #sendFrame(conn: ServerConnection, message: WireMessage): void {
    const bytes = encodeFrame(message)
    conn.messagesOut++
    conn.bytesOut += bytes.byteLength
    conn.socket.send(toArrayBuffer(bytes))
  }

  #count(conn: ServerConnection, code: ErrorCode, detail: string): void {
    this.refusals[code] = (this.refusals[code] ?? 0) + 1
    const key = `${describePrincipal(conn.principal)} ${code}`
    const first = !this.#refusedOnce.has(key)
    if (first && this.#refusedOnce.size < 10_000) this.#refusedOnce.add(key)
    this.events.emit("refusal", { code, detail, principal: conn.principal, first })
  }

  #refuse(conn: ServerConnection, code: ErrorCode, detail: string, closeCode: number, target?: PeerId): void {
    this.#count(conn, code, detail)
    const targetId = target ?? conn.peerId
    if (targetId && this.peerId && conn.socket.readyState === WebSocket.OPEN) {
      try {
        this.#sendFrame(conn, { type: "error", senderId: this.peerId, targetId, message: `${code}: ${detail}` })
      } catch {
        // the socket may already be going away
      }
    }
    conn.socket.close(closeCode, code)
    this.#drop(conn)
  }

  #drop(conn: ServerConnection): void {
    if (!this.#connections.delete(conn)) return
    conn.inbound.close()
    if (conn.peerId !== undefined && this.#byPeer.get(conn.peerId) === conn) {
      this.#byPeer.delete(conn.peerId)
      this.emit("peer-disconnected", { peerId: conn.peerId })
      this.events.emit("left", conn)
    }
  }

  #ping(): void {
    for (const conn of this.#connections) {
      if (!conn.alive) {
        conn.socket.terminate()
        this.#drop(conn)
        continue
      }
      conn.alive = false
      try {
        conn.pingSentAt = performance.now()
        conn.socket.ping()
      } catch {
        // closed between the check and the ping
      }
    }
  }
}

const toBytes = (data: WebSocket.RawData): Uint8Array => {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data))
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}
