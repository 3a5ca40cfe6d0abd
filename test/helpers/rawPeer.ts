/**
 * A hostile peer for tests: a real node identity that completes the real handshake
 * with a hub, then sends whatever frames the test builds, and records what comes back.
 */
import WebSocket from "ws"
import * as A from "@automerge/automerge"
import { cbor, type PeerId } from "@automerge/automerge-repo"
import { Identity } from "../../src/identity/index.ts"
import { PROOF_HEADER, performHandshake, type Offer } from "../../src/replication/handshake.ts"

export interface RawPeer {
  identity: Identity
  ws: WebSocket
  /** The hub's node id (its peerId). */
  hubId: PeerId
  /** Every decoded frame received, in order. */
  received: Record<string, unknown>[]
  /** Sends one frame (encoded with automerge-repo's CBOR) from this peer to the hub. */
  send(message: Record<string, unknown>): void
  /** Resolves with the first received frame (past or future) matching `predicate`. */
  next(predicate: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
  /** Resolves with the close code once the hub closes the socket. */
  closed: Promise<number>
}

/** Handshakes with the hub at `url` as a fresh node and joins; resolves once the hub answered `peer`. */
export async function rawPeer(
  url: string,
  identity = Identity.generate(),
  opts: { offer?: Offer; peerMetadata?: Record<string, unknown> } = {},
): Promise<RawPeer> {
  const hs = await performHandshake(identity, url, opts.offer ? { offer: opts.offer } : {})
  const ws = new WebSocket(hs.endpoint, { headers: { [PROOF_HEADER]: hs.proof }, ...(hs.createConnection ? { createConnection: hs.createConnection as never } : {}) })
  ws.on("error", () => {})
  const received: Record<string, unknown>[] = []
  const waiters = new Set<() => void>()
  ws.on("message", data => {
    received.push(cbor.decode(new Uint8Array(data as Buffer)) as Record<string, unknown>)
    for (const w of [...waiters]) w()
  })
  const closed = new Promise<number>(resolve => ws.on("close", code => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve())
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
  })
  const send = (message: Record<string, unknown>) => ws.send(cbor.encode(message))
  const next: RawPeer["next"] = (predicate, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = received.find(predicate)
        if (!found) return
        clearTimeout(timer)
        waiters.delete(check)
        resolve(found)
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`no matching frame in ${timeoutMs} ms; got ${received.map(m => m.type).join(", ")}`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  send({ type: "join", senderId: identity.nodeId, peerMetadata: opts.peerMetadata ?? {}, supportedProtocolVersions: ["1"] })
  const peer = await next(m => m.type === "peer")
  return { identity, ws, hubId: peer.senderId as PeerId, received, send, next, closed }
}

/** A sync message whose one change nests `depth` empty maps under the root. */
export function deepChangeMessage(depth: number): Uint8Array {
  const backend = A.getBackend(A.init())
  let obj = "_root"
  for (let i = 0; i < depth; i++) obj = backend.putObject(obj as A.ObjID, "a", {})
  backend.commit("deep")
  const changes = backend.getChanges([])
  return A.encodeSyncMessage({ heads: backend.getHeads(), need: [], have: [], changes })
}

/** A sync message carrying a small document with `ops` map entries in one change. */
export function wideChangeMessage(ops: number): Uint8Array {
  const backend = A.getBackend(A.init())
  for (let i = 0; i < ops; i++) backend.put("_root", `k${i}`, i)
  backend.commit("wide")
  return A.encodeSyncMessage({ heads: backend.getHeads(), need: [], have: [], changes: backend.getChanges([]) })
}
