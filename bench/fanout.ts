/**
 * `npm run bench -- fanout`: changes per second a hub on PostgreSQL delivers from a writing
 * peer to a reading peer, when both peers link to one hub process (the baseline) and when
 * each links to another process of the same identity (the change crosses PostgreSQL:
 * stored by one process, NOTIFY, read and applied by the other, synced to its peer).
 * Same run, same machine. Also the latency of one change, writer to reader, one at a time.
 * BENCH_FANOUT_CHANGES (default 500), BENCH_FANOUT_SAMPLES (default 30), BENCH_FANOUT_BURST (default 100).
 */
import "@automerge/automerge-repo"
import type { RunningHub } from "../src/hub/startHub.ts"
import type { NodeId } from "../src/identity/index.ts"
import { linkReaches, startTestHub, waitForDoc } from "../test/helpers/hubs.ts"
import { startPostgres } from "../test/helpers/postgres.ts"
import { handleArrives, startCluster, stopCluster, type ClusterProcess } from "../test/helpers/cluster.ts"
import { rm } from "node:fs/promises"
import { printTable, quantile } from "./stats.ts"

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const BURST = env("BENCH_FANOUT_BURST", 100)
type Items = { items?: Record<string, number> }

/** Writer links to `procs[0]`, reader to the last one; a burst of changes, then one-at-a-time latencies. */
async function run(label: string, procs: ClusterProcess[], writer: RunningHub, reader: RunningHub, changes: number, samples: number): Promise<(string | number)[]> {
  const nodeId = procs[0]!.proc.nodeId as NodeId
  await linkReaches(writer.hub.dial(procs[0]!.proc.url, nodeId), "established")
  await linkReaches(reader.hub.dial(procs.at(-1)!.proc.url, nodeId), "established")
  const doc = await procs[0]!.api.call<{ url: string; documentId: string }>("POST", "/docs", {
    content: { items: {} },
    share: [writer.hub.nodeId, reader.hub.nodeId],
    writers: [writer.hub.nodeId],
  })
  await Promise.all([handleArrives(writer, doc.documentId), handleArrives(reader, doc.documentId)])
  const onReader = await reader.hub.docs.find(doc.url)
  const onWriter = await writer.hub.repo.find<Items>(doc.url as never)
  // the writer's hub writes as a service does on a governed document: its own actor, heads signed per change
  const write = (key: string, value: number) => {
    writer.hub.authorship.adopt(onWriter)
    onWriter.change(d => void (d.items![key] = value))
    writer.hub.authorship.signLatest(onWriter)
  }
  const t0 = performance.now()
  // in bursts (BENCH_FANOUT_BURST, default 100) with a turn of the event loop between, so sync messages flow while it writes
  for (let i = 0; i < changes; i++) {
    write(`k${i}`, i)
    if (i % BURST === BURST - 1) await new Promise(r => setImmediate(r))
  }
  const written = performance.now() - t0
  await waitForDoc<Items>(onReader as never, d => Object.keys(d.items ?? {}).length >= changes, 300_000)
  const delivered = performance.now() - t0
  const lat: number[] = []
  for (let i = 0; i < samples; i++) {
    const t = performance.now()
    const seen = waitForDoc<Items>(onReader as never, d => d.items?.[`s${i}`] === i, 60_000)
    write(`s${i}`, i)
    await seen
    lat.push(performance.now() - t)
  }
  writer.hub.hangUp(procs[0]!.proc.url)
  reader.hub.hangUp(procs.at(-1)!.proc.url)
  return [
    label,
    changes,
    (changes / (written / 1000)).toFixed(0),
    (changes / (delivered / 1000)).toFixed(0),
    quantile(lat, 0.5).toFixed(1),
    quantile(lat, 0.99).toFixed(1),
  ]
}

export async function benchFanout(): Promise<void> {
  const changes = env("BENCH_FANOUT_CHANGES", 500)
  const samples = env("BENCH_FANOUT_SAMPLES", 30)
  const server = await startPostgres()
  const peers: RunningHub[] = []
  const clusters: ClusterProcess[][] = []
  try {
    const rows: (string | number)[][] = []
    for (const [label, n] of [["one process (writer and reader on it)", 1], ["two processes (writer on 1, reader on 2)", 2]] as const) {
      const procs = await startCluster(await server.createDatabase("fanout"), n)
      clusters.push(procs)
      const writer = await startTestHub()
      const reader = await startTestHub()
      peers.push(writer, reader)
      rows.push(await run(label, procs, writer, reader, changes, samples))
    }
    printTable(
      `fanout: changes from a writing peer to a reading peer through hub processes on one PostgreSQL (${changes} changes, then ${samples} one at a time)`,
      ["setup", "changes", "written/s", "delivered/s", "latency p50 ms", "latency p99 ms"],
      rows,
    )
  } finally {
    for (const p of peers) {
      await p.stop().catch(() => {})
      await rm(p.paths.home, { recursive: true, force: true })
    }
    for (const c of clusters) await stopCluster(c)
    await server.stop()
  }
}
