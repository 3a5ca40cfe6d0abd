/**
 * `npm run bench -- storage`: the storage backends, in one run against a throwaway
 * PostgreSQL server (test/helpers/postgres.ts), nodefs being the baseline:
 *  1. adapter throughput: a Repo saves N documents (flush), a fresh Repo loads them all
 *     (find); documents per second and MB/s of stored bytes;
 *  2. a hub holding 100,000 stored documents: start time and RSS of a hub process with
 *     idle unloading (nothing loaded at start), then with 1,000 documents in use;
 *     against a hub that loads everything at start (the default), on fewer documents.
 * BENCH_DOCS (default 100000), BENCH_EAGER_DOCS (3000), BENCH_THROUGHPUT_DOCS (2000).
 */
import "@automerge/automerge-repo"
import * as A from "@automerge/automerge"
import { Repo, generateAutomergeUrl, parseAutomergeUrl, type DocumentId, type PeerId, type StorageAdapterInterface } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { PostgresStorageAdapter } from "../src/replication/storage/index.ts"
import { startPostgres, type TestPostgres } from "../test/helpers/postgres.ts"
import { printTable } from "./stats.ts"

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const tempDir = (p: string) => mkdtemp(join(tmpdir(), p))
const CHILD = fileURLToPath(new URL("./storageHub.ts", import.meta.url))

/** A document as a catalog would hold it: 20 atomic strings of ~60 bytes. */
const content = (i: number) => Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`f${k}`, new A.ImmutableString(`value ${k} of document ${i} `.padEnd(60, "x"))]))

interface Backend {
  label: string
  open: () => Promise<{ adapter: StorageAdapterInterface; close: () => Promise<void> }>
}

/** Saves `n` documents through a Repo, then loads them all through a fresh one. */
async function throughput(b: Backend, n: number): Promise<(string | number)[]> {
  const first = await b.open()
  const repo = new Repo({ peerId: "bench-save" as PeerId, storage: first.adapter, network: [] })
  const handles = []
  for (let i = 0; i < n; i++) handles.push(repo.create(content(i)))
  // timed: writing every document to storage (creating them is automerge-repo's, the same for both)
  const t0 = performance.now()
  await repo.flush()
  const saveMs = performance.now() - t0
  const urls = handles.map(h => h.url)
  // the bytes of the documents as saved whole (what a load reads back)
  const bytes = handles.reduce((s, h) => s + A.save(h.doc()).byteLength, 0)
  await repo.shutdown()
  await first.close()
  const second = await b.open()
  const reader = new Repo({ peerId: "bench-load" as PeerId, storage: second.adapter, network: [] })
  const t1 = performance.now()
  await Promise.all(urls.map(u => reader.find(u)))
  const loadMs = performance.now() - t1
  await reader.shutdown()
  await second.close()
  const mb = bytes / 1e6
  return [b.label, n, (n / (saveMs / 1000)).toFixed(0), (mb / (saveMs / 1000)).toFixed(2), (n / (loadMs / 1000)).toFixed(0), (mb / (loadMs / 1000)).toFixed(2)]
}

/** Stored documents under automerge-repo's keys: distinct ids, content from 100 templates (loading costs the same). */
function storedDocs(n: number): { id: DocumentId; key: string[]; data: Uint8Array }[] {
  const templates = Array.from({ length: Math.min(100, n) }, (_, i) => A.save(A.from(content(i))))
  return Array.from({ length: n }, (_, i) => {
    const data = templates[i % templates.length]!
    const id = parseAutomergeUrl(generateAutomergeUrl()).documentId
    return { id, key: [id, "snapshot", createHash("sha256").update(data).digest("hex")], data }
  })
}

/** Writes documents straight into a backend (as a hub that made them would have), and the home's index. */
export async function seedHome(home: string, docs: ReturnType<typeof storedDocs>, pg?: { url: string }): Promise<void> {
  await mkdir(home, { recursive: true })
  if (pg) {
    const adapter = await PostgresStorageAdapter.open({ url: pg.url })
    for (let i = 0; i < docs.length; i += 1000) {
      const rows = docs.slice(i, i + 1000)
      const values = rows.map((_, k) => `($${2 * k + 1}, $${2 * k + 2})`).join(",")
      await adapter.pool.query(`INSERT INTO fedhub.chunks (key, data) VALUES ${values}`, rows.flatMap(r => [r.key, Buffer.from(r.data)]))
    }
    await adapter.close()
  } else {
    for (let i = 0; i < docs.length; i += 500) {
      // nodefs keeps every chunk it wrote in memory: a new adapter per batch keeps the seeding small
      const storage = new NodeFSStorageAdapter(join(home, "data"))
      await Promise.all(docs.slice(i, i + 500).map(r => storage.save(r.key, r.data)))
    }
  }
  await writeFile(join(home, "documents.idx"), docs.map(d => `${d.id}\n`).join(""))
}

interface ChildReport {
  startMs: number
  rssStartMb: number
  /** Documents ready once the hub was listening (the default loads all, each within 5 s). */
  loadedAtStart: number
  rssInUseMb: number
  inUse: number
  loadInUseMs: number
}

/** Starts a hub in its own process on a home, touches `inUse` documents, reports. */
function runHub(home: string, opts: { idleUnloadMs: number; url?: string; inUse: number }): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const args = ["--import", "tsx", CHILD, home, String(opts.idleUnloadMs), String(opts.inUse), opts.url ?? ""]
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", d => (out += d))
    child.on("error", reject)
    child.on("exit", code => {
      try {
        if (code !== 0) throw new Error(`hub child exited ${code}`)
        resolve(JSON.parse(out.trim().split("\n").pop()!) as ChildReport)
      } catch (e) {
        reject(e as Error)
      }
    })
  })
}

export async function benchStorage(): Promise<void> {
  const docs = env("BENCH_DOCS", 100_000)
  const eagerDocs = env("BENCH_EAGER_DOCS", 3_000)
  const tDocs = env("BENCH_THROUGHPUT_DOCS", 2_000)
  const server: TestPostgres = await startPostgres()
  const dirs: string[] = []
  try {
    const nodefs: Backend = {
      label: "nodefs (baseline)",
      open: async () => {
        const dir = dirs.at(-1)!
        return { adapter: new NodeFSStorageAdapter(dir), close: async () => {} }
      },
    }
    dirs.push(await tempDir("bench-storage-fs-"))
    const pgUrl = await server.createDatabase("throughput")
    const postgres: Backend = {
      label: "postgres",
      open: async () => {
        const adapter = await PostgresStorageAdapter.open({ url: pgUrl })
        return { adapter, close: () => adapter.close() }
      },
    }
    const rows = [await throughput(nodefs, tDocs), await throughput(postgres, tDocs)]
    printTable(
      `storage throughput: a Repo saves ${tDocs} documents of 20 atomic strings (flush), a fresh Repo loads them all`,
      ["backend", "documents", "save docs/s", "save MB/s", "load docs/s", "load MB/s"],
      rows,
    )

    const hubRows: (string | number)[][] = []
    const inUse = 1_000
    const many = storedDocs(docs)
    for (const kind of ["nodefs", "postgres"] as const) {
      const url = kind === "postgres" ? await server.createDatabase(`hub${docs}`) : undefined
      const home = await tempDir(`bench-storage-home-${kind}-`)
      dirs.push(home)
      const t0 = performance.now()
      await seedHome(home, many, url ? { url } : undefined)
      const seeded = ((performance.now() - t0) / 1000).toFixed(1)
      const lazy = await runHub(home, { idleUnloadMs: 600_000, url, inUse })
      hubRows.push([kind, docs, "idle unloading", (lazy.startMs / 1000).toFixed(2), lazy.loadedAtStart, lazy.rssStartMb.toFixed(0), lazy.inUse, (lazy.loadInUseMs / 1000).toFixed(1), lazy.rssInUseMb.toFixed(0), `seeded in ${seeded} s`])
    }
    for (const kind of ["nodefs", "postgres"] as const) {
      const url = kind === "postgres" ? await server.createDatabase(`eager${eagerDocs}`) : undefined
      const home = await tempDir(`bench-storage-eager-${kind}-`)
      dirs.push(home)
      await seedHome(home, many.slice(0, eagerDocs), url ? { url } : undefined)
      const eager = await runHub(home, { idleUnloadMs: 0, url, inUse })
      hubRows.push([kind, eagerDocs, "all loaded at start (default)", (eager.startMs / 1000).toFixed(2), eager.loadedAtStart, eager.rssStartMb.toFixed(0), eager.inUse, (eager.loadInUseMs / 1000).toFixed(1), eager.rssInUseMb.toFixed(0), ""])
    }
    printTable(
      `a hub process over stored documents: start (open to listening) and RSS, then with ${inUse} documents in use (read by a client)`,
      ["storage", "stored", "loading", "start s", "loaded at start", "RSS at start MB", "in use", "reading them s", "RSS in use MB", ""],
      hubRows,
    )
  } finally {
    await server.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
}
