/**
 * `npm run bench -- catalog [--items N]` (default 1,000,000): the origin's hub publishes
 * N items into a marketplace; a fresh hub in another process, a participant, links to it
 * over loopback WebSocket and is timed until every item is verified (shard manifests) and
 * searchable. Then search latencies on the full catalog, peak RSS of each hub, bytes on
 * the wire (each hub in its own process). Baseline in the same run: the same items as a Yjs Y.Map, encoded, sent over
 * a raw `ws` socket to another process and applied. Target (issue 13): < 15 s for the sync.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import type { ItemInput } from "../src/marketplace/CatalogService.ts"
import { ms, printTable } from "./stats.ts"

const WORDS = ["format", "lint", "review", "translate", "summarize", "search", "plan", "test", "deploy", "chart", "parse", "index"]
const TYPES = ["plugin", "persona", "service", "content", "dataset"] as const
const CATEGORIES = ["tools", "people", "data", "ops", "docs", "media", "code", "science", "finance", "misc"]

/** The i-th item of the bench catalog: small, varied, realistic. */
export function benchItem(i: number): ItemInput {
  const w = WORDS[i % WORDS.length]!
  const w2 = WORDS[(i * 7) % WORDS.length]!
  return {
    itemId: `item-${i}`,
    type: TYPES[i % TYPES.length]!,
    title: `Item ${i} ${w} ${w2}`,
    description: `Helps you ${w} and ${w2} things, number ${i % 997}.`,
    category: CATEGORIES[i % CATEGORIES.length]!,
    tags: [w, w2].filter((t, k, a) => a.indexOf(t) === k),
    license: "MIT",
    pricing: i % 4 === 0 ? { model: "free", price: 0, currency: "credits" } : { model: "one_time", price: 100 + (i % 5000), currency: "credits" },
  }
}

const QUERIES: Record<string, string | number>[] = [
  { text: "review" },
  { text: "translate plan", category: "tools" },
  { category: "data", maxPrice: 500 },
  { type: "persona", minPrice: 1000, limit: 20, sort: "price" },
  { origin: "", offset: 1000, limit: 50, sort: "-rating" },
]

const peerScript = fileURLToPath(new URL("./catalogPeer.ts", import.meta.url))
const originScript = fileURLToPath(new URL("./catalogOrigin.ts", import.meta.url))

/** A child process speaking JSON lines. */
function child(script: string, args: string[] = [], env: Record<string, string> = {}) {
  const p = spawn(process.execPath, ["--import", "tsx", "--max-old-space-size=8192", ...(process.env.BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []), script, ...args], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, ...env },
  })
  const lines = createInterface({ input: p.stdout! })
  const queue: string[] = []
  const waiting: ((l: string) => void)[] = []
  // a line that is not JSON (something in the child logged to stdout) is passed on to stderr
  lines.on("line", l => {
    if (!l.startsWith("{")) return void process.stderr.write(`  [${script.split("/").pop()}] ${l}\n`)
    if (waiting.length > 0) waiting.shift()!(l)
    else queue.push(l)
  })
  return {
    next: <T>(): Promise<T> =>
      new Promise<T>((r, reject) => {
        if (queue.length > 0) return r(JSON.parse(queue.shift()!) as T)
        waiting.push(l => r(JSON.parse(l) as T))
        p.once("exit", code => reject(new Error(`${script} exited (${code}) before answering`)))
      }),
    send: (msg: object) => p.stdin!.write(`${JSON.stringify(msg)}\n`),
    done: new Promise<void>(r => p.once("exit", () => r())),
  }
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!
const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`

/** The fedhub run: publish on the origin's hub, sync to a fresh one; each hub in its own process. */
async function fedhub(n: number) {
  const homes = await cachedHomes(n)
  const origin = child(originScript, [], homes ? { BENCH_ORIGIN_HOME: homes.origin } : {})
  const peer = child(peerScript, [], homes ? { BENCH_PEER_HOME: homes.peer } : {})
  const { url, nodeId: originId } = await origin.next<{ url: string; nodeId: string }>()
  const { nodeId } = await peer.next<{ nodeId: string }>()
  origin.send(homes?.cached ? { reuse: true } : { participant: nodeId, items: n, ...(process.env.BENCH_BATCH ? { batch: Number(process.env.BENCH_BATCH) } : {}) })
  const pub = await origin.next<{ market: string; publishMs: number; publishCpuMs: number; rss: number }>()
  if (homes?.cached) process.stderr.write(`\n  reusing the catalog published in ${homes.dir}; syncing\n`)
  else process.stderr.write(`\n  published ${n.toLocaleString("en-US")} in ${ms(pub.publishMs)} (CPU ${ms(pub.publishCpuMs)}, RSS ${mb(pub.rss)}); syncing\n`)
  const queries = QUERIES.map(q => (q.origin === "" ? { ...q, origin: originId } : q))
  peer.send({ dial: url, nodeId: originId, market: pub.market, items: n, queries })
  const r = await peer.next<{ verifiedMs: number; searchableMs: number; total: number; latencies: number[]; peakRss: number; bytesIn: number; bytesOut: number; cpuMs: number }>()
  await peer.done
  origin.send({ stop: true })
  const { peakRss } = await origin.next<{ peakRss: number }>()
  await origin.done
  await homes?.done()
  return { publishMs: pub.publishMs, publishCpuMs: pub.publishCpuMs, cached: homes?.cached === true, ...r, originRss: peakRss }
}

/**
 * With BENCH_CACHE=<dir>, the origin's home after its publish and the participant's identity
 * are kept in <dir>/<n>, and a later run with the same n syncs from copies of them instead of
 * publishing again (a 1M publish takes minutes; the sync is what the target is about).
 */
async function cachedHomes(n: number) {
  if (!process.env.BENCH_CACHE) return undefined
  const dir = join(process.env.BENCH_CACHE, String(n))
  const cached = existsSync(join(dir, "origin", "bench-market.json")) && existsSync(join(dir, "peer-identity.json"))
  const origin = await mkdtemp(join(tmpdir(), "bench-catalog-origin-"))
  const peer = await mkdtemp(join(tmpdir(), "bench-catalog-peer-"))
  if (cached) {
    await cp(join(dir, "origin"), origin, { recursive: true })
    await cp(join(dir, "peer-identity.json"), join(peer, "identity.json"))
  }
  return {
    dir,
    cached,
    origin,
    peer,
    done: async () => {
      if (!cached) {
        await rm(dir, { recursive: true, force: true })
        await mkdir(dir, { recursive: true })
        await cp(origin, join(dir, "origin"), { recursive: true })
        await cp(join(peer, "identity.json"), join(dir, "peer-identity.json"))
      }
      for (const home of [origin, peer]) await rm(home, { recursive: true, force: true })
    },
  }
}

/** The Yjs baseline: the same items in a Y.Map, encoded, sent over raw ws to another process, applied. */
async function yjs(n: number) {
  const p = child(fileURLToPath(new URL("./catalogYjs.ts", import.meta.url)), [String(n)])
  return p.next<{ encodeMs: number; syncMs: number; bytes: number; senderRss: number; receiverRss: number }>()
}

/** Runs the catalog bench and prints its table. */
export async function benchCatalog(argv: string[]): Promise<void> {
  const at = argv.indexOf("--items")
  const n = at >= 0 ? Number(argv[at + 1]) : 1_000_000
  process.stderr.write(`catalog: ${n.toLocaleString("en-US")} items\n`)
  const y = await yjs(n)
  process.stderr.write(`  yjs baseline: ${ms(y.syncMs)}\n`)
  const f = await fedhub(n)
  printTable(
    `catalog: ${n.toLocaleString("en-US")} items, full sync to a fresh hub in another process over loopback (target < 15 s)`,
    ["", "sync", "bytes on the wire", "peak RSS (sender / receiver)", "notes"],
    [
      ["baseline: Yjs Y.Map, encoded, raw ws, applied", ms(y.syncMs), mb(y.bytes), `${mb(y.senderRss)} / ${mb(y.receiverRss)}`, `encode ${ms(y.encodeMs)}; no signatures, no access control`],
      ["fedhub: every item verified (shard manifests)", ms(f.verifiedMs), mb(f.bytesIn + f.bytesOut), `${mb(f.originRss)} / ${mb(f.peakRss)}`, `${f.cached ? "catalog published in an earlier run (BENCH_CACHE)" : `publish ${ms(f.publishMs)} on the origin (CPU ${ms(f.publishCpuMs)})`}; receiver CPU ${ms(f.cpuMs)}; load ${loadavg().map(l => l.toFixed(1)).join(" ")}`],
      ["fedhub: … and searchable (first query answered)", ms(f.searchableMs), "", "", `${f.total.toLocaleString("en-US")} hits for "item"`],
    ],
  )
  printTable(`catalog search on ${n.toLocaleString("en-US")} items (${f.latencies.length} queries: text, text+category, category+price, type+price, origin paged)`, ["p50", "p99"], [[ms(pct(f.latencies, 50)), ms(pct(f.latencies, 99))]])
}
