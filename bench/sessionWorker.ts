/**
 * One hub in its own process for the session benches, driven over the IPC channel of
 * `child_process.fork`: each request `{ id, cmd, ...args }` is answered `{ id, ok, value }`.
 * Beside the hub it can run a raw `ws` server and client (the baseline between the same
 * processes). Times are wall-clock (`performance.timeOrigin + performance.now()`), shared
 * by the processes of one machine.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { AddressInfo } from "node:net"
import { WebSocket, WebSocketServer } from "ws"
import { serveHub } from "../src/api/server.ts"
import { startHub, type RunningHub } from "../src/hub/startHub.ts"
import type { NodeId } from "../src/identity/index.ts"
import type { LinkState } from "../src/replication/HubClientAdapter.ts"

const wall = (): number => performance.timeOrigin + performance.now()
let running: RunningHub | undefined
let home = ""
let wsServer: WebSocketServer | undefined
let wsClient: WebSocket | undefined
/** Latencies (ms) of what this process received, per tag; and the seqs seen. */
const received = new Map<string, { lat: number[]; seqs: Set<number> }>()
const bucket = (tag: string) => {
  let b = received.get(tag)
  if (!b) received.set(tag, (b = { lat: [], seqs: new Set() }))
  return b
}

const note = (tag: string, text: string) => {
  const m = /^(\d+):(\d+(?:\.\d+)?)/.exec(text)
  if (!m) return
  const b = bucket(tag)
  const seq = Number(m[1])
  if (b.seqs.has(seq)) return
  b.seqs.add(seq)
  b.lat.push(wall() - Number(m[2]))
}

/**
 * The next change of any session, and 50 ms more: while hundreds of sessions arrive, the
 * waits below look again at most 20 times a second instead of listing every session on
 * every change (which costs O(n²) and takes CPU from the hubs being measured).
 */
const settled = async (s: RunningHub["hub"]["sessions"]): Promise<void> => {
  await new Promise(r => s.events.once("updated", r))
  await new Promise(r => setTimeout(r, 50))
}

type Args = Record<string, unknown>
const commands: Record<string, (a: Args) => Promise<unknown>> = {
  async start() {
    home = await mkdtemp(join(tmpdir(), "fedhub-bench-"))
    running = await startHub(serveHub, { home, env: {}, flags: { host: "127.0.0.1", port: 0, logLevel: "silent" } })
    running.hub.sessions.events.on("message", (sessionId, m) => note(`hub:${sessionId}`, m.text))
    return { url: running.url, nodeId: running.hub.nodeId }
  },
  async dial(a) {
    const link = running!.hub.dial(a.url as string, a.nodeId as NodeId)
    while (link.state !== ("established" as LinkState)) await new Promise(r => link.events.once("state", r))
    return true
  },
  async hangUp(a) {
    return running!.hub.hangUp(a.url as string)
  },
  async createSessions(a) {
    const n = a.n as number
    const ids: string[] = []
    for (let i = 0; i < n; i++) {
      const s = await running!.hub.sessions.create({ name: `bench ${i}`, participants: a.participants as string[], configuration: { recordingEnabled: a.recording === true } })
      ids.push(s.url)
    }
    return ids
  },
  /** Joins every session this hub is invited to, waiting until `n` invitations arrived. */
  async joinAll(a) {
    const s = running!.hub.sessions
    const n = a.n as number
    const t0 = Date.now()
    for (;;) {
      const inv = s.invites().invites
      if (inv.length >= n || Date.now() - t0 > 120_000) break
      await settled(s)
    }
    let joined = 0
    for (const i of s.invites().invites) {
      await s.join(i.url)
      joined++
    }
    return joined
  },
  /** A session's channel counts on this hub (delivered, duplicates, repaired, skipped, repair requests and answers, …). */
  async channel(a) {
    return (await running!.hub.sessions.show(a.session as string)).channel
  },
  async countActive() {
    return running!.hub.sessions.list().sessions.filter(x => x.status === "active").length
  },
  /** Waits until this hub sees `n` active sessions (with `session`: that one active). */
  async waitActive(a) {
    const s = running!.hub.sessions
    const t0 = Date.now()
    for (;;) {
      // `session`: that one session is active here
      const n = s.list().sessions.filter(x => x.status === "active" && (a.session === undefined || x.url === a.session)).length
      if (n >= (a.n as number) || Date.now() - t0 > 120_000) return n
      await settled(s)
    }
  },
  async stats() {
    globalThis.gc?.()
    const m = process.memoryUsage()
    const c = process.cpuUsage()
    return { rss: m.rss, heapUsed: m.heapUsed, cpuMs: (c.user + c.system) / 1000, docs: Object.keys(running?.hub.repo.handles ?? {}).length }
  },
  /** CPU time this process used so far (ms), without a GC. */
  async cpu() {
    const c = process.cpuUsage()
    return (c.user + c.system) / 1000
  },
  /** Sends `count` messages at `rate` per second on a session (or over raw ws), each carrying its seq and send time. */
  async send(a) {
    const rate = a.rate as number
    const count = a.count as number
    const via = a.via as "hub" | "ws"
    const start = wall()
    let sent = 0
    let failed = 0
    const one = async (seq: number) => {
      const text = `${seq}:${wall()}`
      if (via === "ws") wsClient!.send(text)
      else
        await running!.hub.sessions.send(a.session as string, { text }).catch(() => {
          failed++
        })
    }
    const maxMs = ((a.maxSeconds as number | undefined) ?? Infinity) * 1000
    while (sent < count && wall() - start < maxMs) {
      const due = Math.min(count, Math.floor(((wall() - start) / 1000) * rate) + 1)
      const batch: Promise<void>[] = []
      while (sent < due) batch.push(one((a.seqFrom as number) + sent++))
      await Promise.all(batch)
      const next = start + (sent / rate) * 1000
      const wait = next - wall()
      if (wait > 0) await new Promise(r => setTimeout(r, wait))
    }
    return { sent, failed, seconds: (wall() - start) / 1000 }
  },
  async received(a) {
    const b = bucket(a.tag as string)
    return { count: b.seqs.size, lat: b.lat }
  },
  async reset(a) {
    received.delete(a.tag as string)
    return true
  },
  /** Waits until `n` distinct messages of `tag` arrived or `timeoutMs` passed. */
  async waitReceived(a) {
    const t0 = Date.now()
    while (bucket(a.tag as string).seqs.size < (a.n as number) && Date.now() - t0 < (a.timeoutMs as number)) await new Promise(r => setTimeout(r, 50))
    return bucket(a.tag as string).seqs.size
  },
  async wsListen() {
    wsServer = new WebSocketServer({ host: "127.0.0.1", port: 0 })
    wsServer.on("connection", sock => sock.on("message", data => note("ws", String(data))))
    await new Promise(r => wsServer!.once("listening", r))
    return `ws://127.0.0.1:${(wsServer.address() as AddressInfo).port}`
  },
  async wsConnect(a) {
    wsClient = new WebSocket(a.url as string)
    await new Promise((resolve, reject) => {
      wsClient!.once("open", resolve)
      wsClient!.once("error", reject)
    })
    return true
  },
  async stop() {
    wsClient?.close()
    wsServer?.close()
    await running?.stop()
    await rm(home, { recursive: true, force: true })
    setImmediate(() => process.exit(0))
    return true
  },
}

process.on("message", (msg: { id: number; cmd: string } & Args) => {
  const fn = commands[msg.cmd]
  if (!fn) return void process.send!({ id: msg.id, ok: false, value: `unknown command ${msg.cmd}` })
  fn(msg).then(
    value => process.send!({ id: msg.id, ok: true, value }),
    (e: unknown) => process.send!({ id: msg.id, ok: false, value: (e as Error).message }),
  )
})
process.on("disconnect", () => process.exit(0))
