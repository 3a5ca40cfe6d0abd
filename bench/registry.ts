/**
 * `npm run bench -- registry`: a registry of 1,000 untouched nodes (the default cap), each
 * with 30 days of hourly observations in 24 up and 8 down ranges, kept in `registry.json`
 * (the one-process default, the baseline) and in PostgreSQL's `registry` table (processes of
 * one identity). Measured: opening it (what a hub's start pays), one node changed and saved
 * (a link established), 100 nodes changed and saved at once (a discovery run). The PostgreSQL
 * server is the test one (fsync=off: round trips, not the disk). BENCH_REGISTRY_NODES (default 1000).
 */
import { mkdtemp, rm } from "node:fs/promises"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { Identity, type NodeId } from "../src/identity/index.ts"
import { Registry, type RegistryOptions } from "../src/federation/registry.ts"
import { PostgresRegistryStore } from "../src/federation/PostgresRegistryStore.ts"
import { ClusterBus } from "../src/replication/storage/ClusterBus.ts"
import { PostgresStorageAdapter } from "../src/replication/storage/index.ts"
import { startPostgres } from "../test/helpers/postgres.ts"
import { printTable, quantile } from "./stats.ts"

export async function benchRegistry(): Promise<void> {
  const n = Number(process.env.BENCH_REGISTRY_NODES ?? 1000)
  const ids = Array.from({ length: n }, () => Identity.generate().nodeId as NodeId)
  const hour = Math.floor(Date.now() / 3_600_000)
  const observed = () => ({
    up: Array.from({ length: 24 }, (_, i) => [hour - 720 + i * 30, hour - 720 + i * 30 + 20] as [number, number]),
    down: Array.from({ length: 8 }, (_, i) => [hour - 700 + i * 90, hour - 700 + i * 90] as [number, number]),
  })
  const dir = await mkdtemp(join(tmpdir(), "fedhub-bench-registry-"))
  const server = await startPostgres()
  const rows: (string | number)[][] = []
  try {
    const url = await server.createDatabase("registry")
    const adapter = await PostgresStorageAdapter.open({ url })
    const bus = await ClusterBus.open({ url, schema: adapter.schema })
    const setups: [string, () => RegistryOptions][] = [
      ["registry.json (one process, baseline)", () => ({})],
      ["PostgreSQL rows (processes of one identity)", () => ({ store: new PostgresRegistryStore(adapter.pool, adapter.schema, bus) })],
    ]
    for (const [name, opts] of setups) {
      const path = join(dir, `${rows.length}.json`)
      const seed = await Registry.open(path, { ...opts(), maxUntouchedPeers: n })
      ids.forEach((id, i) => seed.upsert(id, { url: `https://n${i}.example`, name: `node ${i}`, provenAt: 1, discoveredBy: ["peer_exchange"], observed: observed() }, Date.now() - n + i))
      await seed.save()
      await seed.close()
      const opens: number[] = []
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now()
        const reg = await Registry.open(path, { ...opts(), maxUntouchedPeers: n })
        opens.push(performance.now() - t0)
        if (reg.list().length !== n) throw new Error(`${name}: loaded ${reg.list().length} of ${n}`)
        await reg.close()
      }
      const reg = await Registry.open(path, { ...opts(), maxUntouchedPeers: n })
      const one: number[] = []
      for (let r = 0; r < 50; r++) {
        const t0 = performance.now()
        reg.upsert(ids[r]!, { provenAt: Date.now() })
        await reg.save()
        one.push(performance.now() - t0)
      }
      const batch: number[] = []
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now()
        for (let i = 0; i < 100; i++) reg.upsert(ids[(r * 100 + i) % n]!, { discoveredBy: ["dns_discovery"] })
        await reg.save()
        batch.push(performance.now() - t0)
      }
      await reg.close()
      rows.push([name, n, quantile(opens, 0.5).toFixed(1), quantile(one, 0.5).toFixed(2), quantile(one, 0.99).toFixed(2), quantile(batch, 0.5).toFixed(1)])
    }
    await bus.close()
    await adapter.close()
  } finally {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  }
  printTable(`registry of ${n} untouched nodes (load average ${loadavg().map(l => l.toFixed(1)).join(" ")})`, ["store", "nodes", "open ms (median of 5)", "1 node saved ms p50", "p99", "100 nodes saved ms p50"], rows)
}
