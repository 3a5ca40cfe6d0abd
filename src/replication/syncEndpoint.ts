/**
 * Mounts /sync on an HTTP server: authenticates every WebSocket upgrade before a
 * single automerge message can flow (401 otherwise), then hands the socket, bound
 * to its principal, to the SyncServerAdapter.
 */
import type { IncomingMessage, Server } from "node:http"
import type { Duplex } from "node:stream"
import { timingSafeEqual } from "node:crypto"
import { WebSocketServer } from "ws"
import { ERRORS, FedhubError, toFedhubError } from "../errors.ts"
import type { NodeId } from "../identity/index.ts"
import { PROOF_HEADER, type HandshakeServer } from "./handshake.ts"
import type { Principal } from "./principal.ts"
import { serverTlsView } from "./tlsLink.ts"
import type { SyncServerAdapter } from "./SyncServerAdapter.ts"

export const SYNC_PATH = "/sync"

export interface SyncEndpointOptions {
  adapter: SyncServerAdapter
  handshake: HandshakeServer
  /** The admin token local clients present as `?token=` or `Authorization: Bearer`. */
  adminToken: string
  /** Largest frame accepted; a bigger one closes the socket (1009). */
  maxFrameBytes: number
  /** Refuse hub upgrades on a plain socket (PLAINTEXT_REFUSED); judged by the socket. */
  requireEncryption?: boolean
  /** A last say on proven nodes (blocklists, allowlists); throw FORBIDDEN to refuse. */
  admitNode?: (nodeId: NodeId) => void
  /** Called with every refused upgrade. */
  onRefused?: (error: FedhubError, req: IncomingMessage) => void
}

/** Checks the upgrade request's credentials; returns who is connecting. */
export async function authenticateUpgrade(req: IncomingMessage, opts: SyncEndpointOptions): Promise<Principal> {
  const url = new URL(req.url ?? "/", "http://localhost")
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1]
  const token = url.searchParams.get("token") ?? bearer
  if (token !== null && token !== undefined) {
    if (!sameSecret(token, opts.adminToken)) throw new FedhubError("UNAUTHORIZED", "wrong token")
    return { kind: "client", name: "admin" }
  }
  const proof = req.headers[PROOF_HEADER]
  const tls = serverTlsView(req.socket)
  if (opts.requireEncryption && !tls.encrypted) throw new FedhubError("PLAINTEXT_REFUSED", "this hub accepts hub links over TLS only (dial wss://)")
  const nodeId = await opts.handshake.verifyProofShared(Array.isArray(proof) ? proof[0] : proof, Date.now(), tls)
  opts.admitNode?.(nodeId)
  return { kind: "node", nodeId }
}

const sameSecret = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Attaches the authenticated /sync endpoint to `server`; returns a closer. */
export function attachSyncEndpoint(server: Server, opts: SyncEndpointOptions): { close: () => void; wss: WebSocketServer } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes })
  const onUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {})
    const path = new URL(req.url ?? "/", "http://localhost").pathname
    if (path !== SYNC_PATH) return reject(socket, new FedhubError("NOT_FOUND", `no WebSocket endpoint at ${path}`))
    let principal: Principal
    try {
      principal = await authenticateUpgrade(req, opts)
      if (socket.destroyed) return
    } catch (e) {
      const err = toFedhubError(e)
      opts.onRefused?.(err, req)
      return reject(socket, err)
    }
    wss.handleUpgrade(req, socket, head, ws => opts.adapter.accept(ws, principal))
  }
  const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void onUpgrade(req, socket, head)
  server.on("upgrade", listener)
  return {
    wss,
    close: () => {
      server.off("upgrade", listener)
      for (const ws of wss.clients) ws.terminate()
      wss.close()
    },
  }
}

/** Answers a refused upgrade with an HTTP status and a problem+json body, then hangs up. */
function reject(socket: Duplex, err: FedhubError): void {
  const status = err.status === 500 ? 401 : err.status
  const body = JSON.stringify({
    type: `https://fedhub.dev/errors/${err.code}`,
    title: ERRORS[err.code].title,
    status,
    detail: err.detail,
    code: err.code,
  })
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : status === 403 ? "Forbidden" : status === 404 ? "Not Found" : "Bad Request"}\r\n` +
      "Content-Type: application/problem+json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  )
}
