/**
 * `npm run bench -- policy-store`: keeping 1,000 policy records, each added and awaited one
 * after the other (as a hub creating sessions or documents does), with PolicyStore's JSONL
 * log (one appended line and one fdatasync per record), with its PostgreSQL log (one
 * insert and NOTIFY per record), and against the whole-file rewrite it replaced (the
 * baseline, re-enacted here: every record rewrites policies.json with everything held).
 * The same adds issued all at once (the log groups them into few syncs). Then the time to
 * open a store holding them (PostgreSQL here runs with fsync=off, the test server's setting). BENCH_POLICY_RECORDS (default 1000).
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Identity } from "../src/identity/index.ts"
import { genesisPolicy, newDocumentId } from "../src/replication/access/policy.ts"
import { writeFileAtomic } from "../src/replication/jsonFile.ts"
import { PolicyStore } from "../src/replication/PolicyStore.ts"
import { ClusterBus } from "../src/replication/storage/ClusterBus.ts"
import { PostgresRecordLog } from "../src/replication/storage/PostgresRecordLog.ts"
import { PostgresStorageAdapter } from "../src/replication/storage/index.ts"
import { startPostgres } from "../test/helpers/postgres.ts"
import { printTable } from "./stats.ts"

export async function benchPolicyStore(): Promise<void> {
  const n = Number(process.env.BENCH_POLICY_RECORDS ?? 1000)
  const owner = Identity.generate()
  const records = Array.from({ length: n }, () => {
    const { documentId, nonce } = newDocumentId(owner.nodeId)
    return { documentId, record: genesisPolicy(owner, documentId, { nonce }) }
  })
  const dir = await mkdtemp(join(tmpdir(), "fedhub-bench-policies-"))
  const server = await startPostgres()
  const rows: (string | number)[][] = []
  // per-record cost of the first and the last tenth of the adds: flat for a log, growing for a rewrite
  let tenths: [number, number] | undefined
  const timed = async (add: (i: number) => Promise<void>): Promise<number> => {
    const at: number[] = []
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      await add(i)
      at.push(performance.now())
    }
    const k = Math.max(1, Math.floor(n / 10))
    tenths = [((at[k - 1]! - t0) * 1000) / k, ((at[n - 1]! - at[n - 1 - k]!) * 1000) / k]
    return performance.now() - t0
  }
  const row = (label: string, addMs: number, openMs: number) => {
    rows.push([label, n, addMs.toFixed(0), (n / (addMs / 1000)).toFixed(0), tenths ? tenths[0].toFixed(0) : "-", tenths ? tenths[1].toFixed(0) : "-", openMs.toFixed(0)])
    tenths = undefined
  }
  try {
    // the baseline: the whole file rewritten (atomically) on every record
    {
      const path = join(dir, "whole.json")
      const documents: Record<string, unknown[]> = {}
      const addMs = await timed(async i => {
        documents[records[i]!.documentId] = [records[i]!.record]
        await writeFileAtomic(path, JSON.stringify({ version: 1, documents }) + "\n")
      })
      const t1 = performance.now()
      await PolicyStore.open(path) // reads the whole file (and moves it into the log)
      row("policies.json rewritten whole per record (before)", addMs, performance.now() - t1)
    }
    {
      const path = join(dir, "policies.json")
      const store = await PolicyStore.open(path)
      const addMs = await timed(async i => void (await store.add(records[i]!.documentId, [records[i]!.record])))
      await store.close()
      const t1 = performance.now()
      const again = await PolicyStore.open(path)
      const openMs = performance.now() - t1
      if (!records.every(r => again.has(r.documentId))) throw new Error("a record was lost")
      row("JSONL log, fdatasync per record (now)", addMs, openMs)
    }
    {
      const path = join(dir, "concurrent.json")
      const store = await PolicyStore.open(path)
      const t0 = performance.now()
      await Promise.all(records.map(r => store.add(r.documentId, [r.record])))
      const addMs = performance.now() - t0
      await store.close()
      const t1 = performance.now()
      const again = await PolicyStore.open(path)
      const openMs = performance.now() - t1
      if (!records.every(r => again.has(r.documentId))) throw new Error("a record was lost")
      row("JSONL log, all adds at once (grouped into few fdatasyncs)", addMs, openMs)
    }
    {
      const url = await server.createDatabase("policies")
      const adapter = await PostgresStorageAdapter.open({ url })
      const bus = await ClusterBus.open({ url, schema: adapter.schema })
      const store = await PolicyStore.open(join(dir, "unused.json"), { log: new PostgresRecordLog(adapter.pool, adapter.schema, "policies", bus) })
      const addMs = await timed(async i => void (await store.add(records[i]!.documentId, [records[i]!.record])))
      await store.close()
      const t1 = performance.now()
      const again = await PolicyStore.open(join(dir, "unused.json"), { log: new PostgresRecordLog(adapter.pool, adapter.schema, "policies") })
      const openMs = performance.now() - t1
      if (!records.every(r => again.has(r.documentId))) throw new Error("a record was lost")
      await bus.close()
      await adapter.close()
      row("PostgreSQL log, insert + NOTIFY per record (several processes)", addMs, openMs)
    }
    printTable(`policy store: ${n} records added one after another, then the store reopened`, ["store", "records", "add all ms", "records/s", "first 10% µs/rec", "last 10% µs/rec", "open ms"], rows)
  } finally {
    await rm(dir, { recursive: true, force: true })
    await server.stop()
  }
}
