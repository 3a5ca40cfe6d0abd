/**
 * The origin hub of `npm run bench -- catalog`, in its own process (with the peer's heap
 * limit: publishing 1M items in one call holds more than a default heap): starts a hub,
 * says its url and node id, then on `{ participant, items, batch }` creates a marketplace
 * with that participant, publishes the items and says how long it took; on `{ stop }`
 * says its peak RSS and stops.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { serveHub } from "../src/api/server.ts"
import { startHub } from "../src/hub/startHub.ts"
import { benchItem } from "./catalog.ts"
import type { ItemInput } from "../src/marketplace/CatalogService.ts"

const say = (msg: object) => process.stdout.write(`${JSON.stringify(msg)}\n`)
// a rejection nobody awaited (automerge-repo's 60 s wait for a handle, on a heavily loaded
// machine) is logged, not fatal: it ended the origin of a 1M run in the middle of its sync
process.on("unhandledRejection", e => process.stderr.write(`  [catalogOrigin] unhandled rejection: ${(e as Error).message}\n`))
let peakRss = 0
const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50)

// BENCH_ORIGIN_HOME: a home kept for later runs (BENCH_CACHE in bench/catalog.ts), holding a published catalog after the first
const kept = process.env.BENCH_ORIGIN_HOME
const home = kept ?? (await mkdtemp(join(tmpdir(), "bench-catalog-origin-")))
const published = join(home, "bench-market.json")
const origin = await startHub(serveHub, { home, env: {}, flags: { host: "127.0.0.1", port: 0, logLevel: "silent" } })
say({ url: origin.url, nodeId: origin.hub.nodeId })

for await (const line of createInterface({ input: process.stdin })) {
  const msg = JSON.parse(line) as { participant?: string; items?: number; batch?: number; stop?: true; reuse?: true }
  if (msg.stop) break
  if (msg.reuse) {
    // the catalog this home published in an earlier run, its shards loaded as a running origin holds them
    const { market } = JSON.parse(await readFile(published, "utf8")) as { market: string }
    await origin.hub.market.show(market)
    say({ market, publishMs: 0, publishCpuMs: 0, rss: process.memoryUsage().rss, cached: true })
    continue
  }
  const n = msg.items!
  const market = await origin.hub.market.create({ name: "bench", participants: [msg.participant!] })
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  const batch = msg.batch ?? n
  for (let i = 0; i < n; i += batch) {
    const items: ItemInput[] = []
    for (let k = i; k < Math.min(n, i + batch); k++) items.push(benchItem(k))
    await origin.hub.market.publishBatch(market.url, items)
    process.stderr.write(`  published ${Math.min(n, i + batch).toLocaleString("en-US")}\r`)
  }
  await origin.hub.repo.flush()
  const c = process.cpuUsage(c0)
  if (kept) await writeFile(published, JSON.stringify({ market: market.url, items: n }))
  // with --expose-gc, the heap the catalog holds after the publish (without the garbage it left)
  ;(globalThis as { gc?: () => void }).gc?.()
  const mem = process.memoryUsage()
  say({ market: market.url, publishMs: performance.now() - t0, publishCpuMs: (c.user + c.system) / 1000, rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, arrayBuffers: mem.arrayBuffers })
}
clearInterval(sample)
say({ peakRss: Math.max(peakRss, process.memoryUsage().rss) })
await origin.stop()
if (!kept) await rm(home, { recursive: true, force: true })
process.exit(0)
