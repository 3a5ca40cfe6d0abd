/**
 * One hub holding many connected peers: the hub's memory per peer and the CPU it
 * spends while they sit idle and heartbeat. The baseline, measured in the same run,
 * is a bare automerge-repo sync server (bench/bareServer.ts: stock WebSocketServerAdapter
 * on raw `ws`, no authentication) with as many stock WebSocketClientAdapter clients.
 *
 * Each server runs as its own child process, so its memory and CPU are its own; both
 * report them on GET /healthz. Each peer is a real, storage-less automerge-repo Repo
 * over its adapter, all in this process: fedhub peers are HubClientAdapters with node
 * authentication pinging every second; baseline peers ping every second too (a raw ws
 * ping), so both servers answer the same heartbeat traffic. Memory is read after a
 * full GC in the server (it runs with --expose-gc and a SIGUSR2 hook); the server's
 * CPU with no peers is subtracted from its CPU over the same window with n idle peers.
 *
 * `npm run bench -- peers`; FEDHUB_BENCH_PEERS=100 for a quick run.
 */
import "@automerge/automerge-repo"
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { NetworkAdapterInterface, Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import type WebSocket from "ws"
import { Identity, type NodeId } from "../src/identity/index.ts"
import { createRepo } from "../src/replication/createRepo.ts"
import { HubClientAdapter } from "../src/replication/HubClientAdapter.ts"
import { printTable, quantile } from "./stats.ts"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
/**
 * Preloaded into each server: a full GC on SIGUSR2 (memory is read without garbage),
 * and a SIGTERM to itself when its stdin (a pipe from this process) ends, so a server
 * never outlives a bench that crashed or was killed.
 */
const CHILD_HOOK =
  'data:text/javascript,process.on("SIGUSR2",()=>gc());process.stdin.on("end",()=>process.kill(process.pid,"SIGTERM")).resume().unref()'
/** fedhub peers ping every second (the hub's own links default to 5 s). */
const CLIENT_PING_MS = 1_000
/** The hub's SyncServerAdapter keepalive (its default); the bare server's is automerge-repo's 5 s. */
const HUB_KEEPALIVE_MS = 10_000
const CONCURRENCY = 8
const WARMUP = 16
const SETTLE_MS = 5_000
const CONNECT_TIMEOUT_MS = 30_000

interface Stats {
  peers: number
  memory: { rss: number; heapUsed: number }
  cpu: { userMs: number; systemMs: number }
}

interface Server {
  url: string
  nodeId?: string
  stats: () => Promise<Stats>
  /** Asks the server for a full GC and gives it a moment. */
  gc: () => Promise<void>
  stderr: () => string
  stop: () => Promise<void>
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))
const cpuMs = (s: Stats) => s.cpu.userMs + s.cpu.systemMs

/** Starts a server process and resolves once its first stdout line names its URL. */
function spawnServer(args: string[]): Promise<Server> {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("FEDHUB_")) env[k] = v
  const child: ChildProcess = spawn(process.execPath, ["--expose-gc", ...args], { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] })
  const exited = new Promise<void>(resolve => child.once("exit", () => resolve()))
  let out = ""
  let err = ""
  child.stderr!.on("data", c => (err += c))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    await exited
    clearTimeout(killer)
  }
  return new Promise<Server>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`server did not start in 30 s: ${err}`))
    }, 30_000)
    child.once("error", reject)
    void exited.then(() => reject(new Error(`server exited early (${child.exitCode ?? child.signalCode}): ${err}`)))
    child.stdout!.on("data", c => {
      out += c
      const m = /^(?:fedhub (\S+)|bare) listening on (http:\/\/\S+)/.exec(out.split("\n")[0]!)
      if (!m || !out.includes("\n")) return
      clearTimeout(timer)
      const url = m[2]!
      resolve({
        url,
        nodeId: m[1],
        stats: async () => (await (await fetch(`${url}/healthz`)).json()) as Stats,
        gc: async () => {
          child.kill("SIGUSR2")
          await sleep(500)
        },
        stderr: () => err,
        stop,
      })
    })
  })
}

interface Peer {
  repo: Repo
  /** Heartbeats (ping/pong exchanges with the server) this peer has seen so far. */
  beats: () => number
  /** Stops what the bench added to the peer (its pinger). */
  stop?: () => void
}

type MakePeer = (i: number) => { adapter: NetworkAdapterInterface; peerId: string } & Omit<Peer, "repo">

/** Connects n peers, `CONCURRENCY` handshakes at a time; each resolves once the server's peer message came. */
async function connectAll(n: number, make: MakePeer): Promise<Peer[]> {
  const peers: Peer[] = []
  let next = 0
  let failed: Error | undefined
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, n) }, async () => {
      for (let i = next++; i < n && !failed; i = next++) {
        const { adapter, peerId, ...rest } = make(i)
        let timer: NodeJS.Timeout | undefined
        const up = new Promise<boolean>(resolve => {
          adapter.once("peer-candidate", () => resolve(true))
          timer = setTimeout(() => resolve(false), CONNECT_TIMEOUT_MS)
        })
        peers.push({ repo: createRepo({ peerId, network: [adapter], isEphemeral: true }), ...rest })
        const ok = await up
        clearTimeout(timer)
        if (!ok) failed ??= new Error(`peer ${i} not connected after ${CONNECT_TIMEOUT_MS / 1000} s`)
      }
    }),
  )
  if (failed) {
    await closeAll(peers)
    throw failed
  }
  return peers
}

/** Until every document the server sent the peers is ready in their repos (shutting a Repo down mid-sync leaves a 60 s timer that rejects unhandled). */
const synced = (peers: Peer[]) =>
  waitFor("the peers to finish syncing", async () => peers.every(p => Object.values(p.repo.handles).every(h => h.isReady())), 60_000)

const closeAll = async (peers: Peer[]) => {
  for (const p of peers) p.stop?.()
  await Promise.allSettled(peers.map(p => p.repo.shutdown()))
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

interface Result {
  connected: number
  connectMs: number
  rssPerPeer: number
  heapPerPeer: number
  /** Server CPU ms per wall-clock second with n idle peers, its idle CPU subtracted. */
  cpuMsPerS: number
  heartbeatsPerS: number
  /** Server CPU ms per second over the window with no peers (subtracted above). */
  idleMsPerS: number
  /** Server CPU per heartbeat, µs. */
  cpuPerBeatUs: number
}

/** Reads the server's CPU once a second for windowMs: the ms it spent in each second, and the mean. */
async function cpuWindow(server: Server, windowMs: number): Promise<{ perSecond: number[]; meanMsPerS: number; elapsedS: number }> {
  const first = await server.stats()
  const t0 = performance.now()
  const perSecond: number[] = []
  let prev = first
  let prevAt = t0
  for (let k = 0; k < Math.round(windowMs / 1000); k++) {
    await sleep(1000 - ((performance.now() - t0) % 1000))
    const s = await server.stats()
    const at = performance.now()
    perSecond.push((cpuMs(s) - cpuMs(prev)) / ((at - prevAt) / 1000))
    prev = s
    prevAt = at
  }
  const elapsedS = (prevAt - t0) / 1000
  return { perSecond, meanMsPerS: (cpuMs(prev) - cpuMs(first)) / elapsedS, elapsedS }
}

/**
 * Warm-up (a few peers connected and closed), a window with no peers, n peers
 * connected, a settle pause, then the same window with the n peers idle.
 * The CPU with no peers is the median second of its window (V8 runs a few GCs once
 * the warm-up's allocations stop, not the steady state); with n peers it is the mean
 * of its window, GC included. `serverBeats` adds the heartbeats the server starts,
 * which the peers cannot count.
 */
async function measure(server: Server, n: number, windowMs: number, make: MakePeer, serverBeats: number): Promise<Result> {
  const warm = await connectAll(WARMUP, make)
  await sleep(1_000)
  await synced(warm)
  await closeAll(warm)
  await waitFor("the warm-up peers to leave", async () => (await server.stats()).peers === 0)
  await sleep(SETTLE_MS)
  const idle = await cpuWindow(server, windowMs)
  await server.gc()
  const before = await server.stats()

  const t0 = performance.now()
  const peers = await connectAll(n, make)
  try {
    const connectMs = performance.now() - t0
    await waitFor(`${n} peers on the server`, async () => (await server.stats()).peers >= n)
    await sleep(SETTLE_MS)
    await synced(peers)

    const beats0 = peers.reduce((s, p) => s + p.beats(), 0)
    const loaded = await cpuWindow(server, windowMs)
    const beats = peers.reduce((s, p) => s + p.beats(), 0) - beats0 + (serverBeats * loaded.elapsedS * 1000) / windowMs
    await server.gc()
    const after = await server.stats()

    const idleMsPerS = quantile(idle.perSecond, 0.5)
    const cpuMsPerS = loaded.meanMsPerS - idleMsPerS
    return {
      connected: after.peers,
      connectMs,
      rssPerPeer: (after.memory.rss - before.memory.rss) / n,
      heapPerPeer: (after.memory.heapUsed - before.memory.heapUsed) / n,
      cpuMsPerS,
      heartbeatsPerS: beats / loaded.elapsedS,
      idleMsPerS,
      cpuPerBeatUs: ((cpuMsPerS * loaded.elapsedS) / beats) * 1000,
    }
  } finally {
    await closeAll(peers)
  }
}

async function measureFedhub(n: number, windowMs: number): Promise<{ result: Result; stderr: string }> {
  const home = await mkdtemp(join(tmpdir(), "fedhub-bench-peers-"))
  try {
    const hub = await spawnServer(["--import", CHILD_HOOK, join(ROOT, "bin/fedhub"), "start", "--home", home, "--port", "0", "--log-level", "warn"])
    try {
      const make: MakePeer = () => {
        const identity = Identity.generate()
        const adapter = new HubClientAdapter({
          url: hub.url,
          auth: { kind: "node", identity, expectNodeId: hub.nodeId as NodeId },
          heartbeat: { intervalMs: CLIENT_PING_MS },
        })
        return { adapter, peerId: identity.nodeId, beats: () => adapter.metrics.pongsReceived }
      }
      // the hub's keepalive pings every connection once per HUB_KEEPALIVE_MS; peers cannot count those
      const result = await measure(hub, n, windowMs, make, (n * windowMs) / HUB_KEEPALIVE_MS)
      return { result, stderr: hub.stderr() }
    } finally {
      await hub.stop()
    }
  } finally {
    await rm(home, { recursive: true, force: true })
  }
}

async function measureBare(n: number, windowMs: number): Promise<{ result: Result; stderr: string }> {
  const bare = await spawnServer(["--import", "tsx", "--import", CHILD_HOOK, join(ROOT, "bench/bareServer.ts")])
  try {
    const wsUrl = bare.url.replace(/^http/, "ws")
    const make: MakePeer = i => {
      // its retry timer only runs until the socket opens; disconnect() drops the reconnect
      const adapter = new WebSocketClientAdapter(wsUrl, 600_000)
      let beats = 0
      let pinger: NodeJS.Timeout | undefined
      // the same heartbeat as a fedhub peer: a raw ws ping every CLIENT_PING_MS once joined
      adapter.once("peer-candidate", () => {
        const socket = adapter.socket as unknown as WebSocket
        socket.on("ping", () => beats++) // the server's keepalive
        socket.on("pong", () => beats++) // ours answered
        pinger = setInterval(() => socket.readyState === socket.OPEN && socket.ping(), CLIENT_PING_MS)
        pinger.unref()
      })
      return { adapter, peerId: `bare-client-${i}`, beats: () => beats, stop: () => clearInterval(pinger) }
    }
    const result = await measure(bare, n, windowMs, make, 0)
    return { result, stderr: bare.stderr() }
  } finally {
    await bare.stop()
  }
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1)
const ratio = (a: number, b: number) => (b > 0 && a > 0 ? `${(a / b).toFixed(1)}x` : "n/a")

/** Runs the peers bench (n from FEDHUB_BENCH_PEERS when set) and prints its table. */
export async function benchPeers(n = Number(process.env.FEDHUB_BENCH_PEERS ?? 1000), windowMs = 10_000): Promise<void> {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`FEDHUB_BENCH_PEERS must be a positive integer, got ${process.env.FEDHUB_BENCH_PEERS}`)
  const ours = await measureFedhub(n, windowMs)
  const bare = await measureBare(n, windowMs)
  const row = (name: string, r: Result) => [
    name,
    `${r.connected}/${n}`,
    `${(r.connectMs / 1000).toFixed(2)} s`,
    kib(r.rssPerPeer),
    kib(r.heapPerPeer),
    r.cpuMsPerS.toFixed(1),
    r.heartbeatsPerS.toFixed(0),
    r.cpuPerBeatUs.toFixed(1),
  ]
  const o = ours.result
  const b = bare.result
  printTable(
    `peers: one hub holding ${n} connected peers (seed target: 1,000+ peers held by one hub)\n` +
      `memory: growth after a full GC / n; CPU: server CPU over ${windowMs / 1000} s with the peers idle, minus its CPU with none`,
    ["", "peers connected", "connect all", "RSS/peer KiB", "heap/peer KiB", "CPU ms/s", "heartbeats/s", "CPU/heartbeat µs"],
    [
      row(`fedhub hub (node auth, peer pings every ${CLIENT_PING_MS / 1000} s, keepalive ${HUB_KEEPALIVE_MS / 1000} s)`, o),
      row(`baseline: bare automerge-repo ws (peer pings every ${CLIENT_PING_MS / 1000} s, keepalive 5 s)`, b),
      [
        "ratio fedhub / baseline",
        "",
        ratio(o.connectMs, b.connectMs),
        ratio(o.rssPerPeer, b.rssPerPeer),
        ratio(o.heapPerPeer, b.heapPerPeer),
        ratio(o.cpuMsPerS, b.cpuMsPerS),
        ratio(o.heartbeatsPerS, b.heartbeatsPerS),
        ratio(o.cpuPerBeatUs, b.cpuPerBeatUs),
      ],
    ],
  )
  console.log(`server CPU with no peers (subtracted): fedhub ${o.idleMsPerS.toFixed(2)} ms/s, baseline ${b.idleMsPerS.toFixed(2)} ms/s`)
  for (const [name, s] of [["fedhub hub", ours.stderr], ["bare server", bare.stderr]] as const) {
    const lines = s.split("\n").filter(Boolean)
    if (lines.length > 0) console.log(`\n${name} wrote ${lines.length} line(s) to stderr; first: ${lines[0]!.slice(0, 300)}`)
  }
}
