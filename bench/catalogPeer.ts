/**
 * The fresh hub of `npm run bench -- catalog`, in its own process: starts a hub, says its
 * node id, then on `{ dial, market, items }` on stdin links to the origin's hub and
 * reports when every item is verified and searchable, search latencies, RSS and bytes.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { serveHub } from "../src/api/server.ts"
import { startHub } from "../src/hub/startHub.ts"

const say = (msg: object) => process.stdout.write(`${JSON.stringify(msg)}\n`)
// a rejection nobody awaited (automerge-repo's, when the hub drops a handle a find still waits on) is logged, not fatal
process.on("unhandledRejection", e => process.stderr.write(`  [catalogPeer] unhandled rejection: ${(e as Error).message}\n`))
let peakRss = 0
const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50)

// BENCH_PEER_HOME: a prepared home (an identity the origin admitted already, no data), for repeated runs against one published origin
const home = process.env.BENCH_PEER_HOME ?? (await mkdtemp(join(tmpdir(), "bench-catalog-peer-")))
const h = await startHub(serveHub, { home, env: {}, flags: { host: "127.0.0.1", port: 0, logLevel: "silent" } })
say({ nodeId: h.hub.nodeId })

const lines = createInterface({ input: process.stdin })
for await (const line of lines) {
  const { dial, nodeId, market, items, queries } = JSON.parse(line) as { dial: string; nodeId: string; market: string; items: number; queries: Record<string, string | number>[] }
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  const link = h.hub.dial(dial, nodeId as never)
  if (process.env.BENCH_TRACE) {
    const tr = (what: string) => process.stderr.write(`  [peer ${(performance.now() - t0).toFixed(0)} ms] ${what} in=${link.metrics.bytesIn}\n`)
    let msgs = 0
    const perDoc = new Map<string, number>()
    h.hub.repo.on("doc-metrics", m => {
      if (m.type !== "receive-sync-message") return
      msgs++
      perDoc.set(m.documentId, (perDoc.get(m.documentId) ?? 0) + 1)
      if (msgs % 20 === 1) tr(`sync msg #${msgs} ${m.documentId.slice(0, 6)} ${JSON.stringify(m).slice(0, 160)}`)
    })
    h.hub.market.members.events.on("refused", () => tr("a member document was refused (a find timed out?)"))
    process.on("exit", () => process.stderr.write(`  [peer] sync messages received per document: ${[...perDoc.values()].sort((a, b) => b - a).join(" ")}\n`))
    h.hub.market.members.events.on("loaded", m => tr(`loaded ${m.kind} ${m.key.slice(-8)}`))
    const iv = setInterval(() => tr(`tick count=${h.hub.market.catalog.count((h.hub.repo.handles as Record<string, unknown>)[market.replace("automerge:", "")] ? market.replace("automerge:", "") : "")}`), 500)
    iv.unref()
  }
  // verified: every item of every shard counted by its manifest; searchable: answered by the catalog query
  for (;;) {
    const changed = new Promise(r => h.hub.market.events.once("updated", r))
    const view = await h.hub.market.show(market).catch(() => undefined)
    if (view && h.hub.market.catalog.count(view.documentId) >= items) break
    await changed
  }
  const verifiedMs = performance.now() - t0
  const cpu = process.cpuUsage(c0)
  const first = await h.hub.market.catalogOf(market, { text: "item", limit: 10 })
  const searchableMs = performance.now() - t0
  const latencies: number[] = []
  for (let round = 0; round < 5; round++)
    for (const q of queries) {
      const s = performance.now()
      await h.hub.market.catalogOf(market, q)
      latencies.push(performance.now() - s)
    }
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  say({ verifiedMs, cpuMs: (cpu.user + cpu.system) / 1000, searchableMs, total: first.total, latencies, peakRss, bytesIn: link.metrics.bytesIn, bytesOut: link.metrics.bytesOut })
  break
}
clearInterval(sample)
await h.stop()
if (!process.env.BENCH_PEER_HOME) await rm(home, { recursive: true, force: true })
process.exit(0)
