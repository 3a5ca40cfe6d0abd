/**
 * A hub runs on PostgreSQL end to end: it syncs with a hub on files, keeps its documents
 * across a restart, is chosen by config.json or FEDHUB_DATABASE_URL, and refuses a
 * database another identity owns.
 */
import "@automerge/automerge-repo"
import { readdir, rm, writeFile } from "node:fs/promises"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import pg from "pg"
import { serveHub } from "../../src/api/server.ts"
import { resolveConfig } from "../../src/hub/config.ts"
import { resolveHome } from "../../src/hub/home.ts"
import { startHub, type RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, startTestHub, tempDir, waitForDoc } from "../helpers/hubs.ts"
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts"

let server: TestPostgres
beforeAll(async () => {
  server = await startPostgres()
}, 90_000)
afterAll(async () => server?.stop(), 60_000)

const str = (v: unknown) => (v === undefined ? undefined : String(v))

/** Rows of the hub's chunks table per storage-key kind. */
async function chunkKinds(url: string, documentId: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ kind: string }>(`SELECT DISTINCT key[2] AS kind FROM fedhub.chunks WHERE doc = $1 ORDER BY 1`, [documentId])
    return rows.map(r => r.kind)
  } finally {
    await client.end()
  }
}

describe("a hub on PostgreSQL", () => {
  let cleanup: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {})
    cleanup = []
  })
  const track = (h: RunningHub) => {
    cleanup.push(async () => {
      await h.stop()
      await rm(h.paths.home, { recursive: true, force: true })
    })
    return h
  }

  it("syncs both ways with a hub on files, stores in the database (not the home), and keeps it all across a restart", async () => {
    const url = await server.createDatabase("hub")
    const home = await tempDir()
    const storage = { kind: "postgres" as const, url }
    let a = await startTestHub({ home, flags: { storage } })
    const b = track(await startTestHub())
    const link = b.hub.dial(a.url, a.hub.nodeId)
    await linkReaches(link, "established")

    const fromA = await a.hub.docs.create({ title: "made on a" }, { writers: [b.hub.nodeId] })
    await waitForDoc(await b.hub.docs.find(fromA.url), d => str(d.title) === "made on a")
    const fromB = await b.hub.docs.create({ title: "made on b" }, { readers: [a.hub.nodeId] })
    await waitForDoc(await a.hub.docs.find(fromB.url), d => str(d.title) === "made on b")
    await b.hub.docs.put(fromA.url, "note", "from b")
    await waitForDoc(await a.hub.docs.find(fromA.url), d => str(d.note) === "from b")
    await a.hub.repo.flush()

    // the content is in PostgreSQL; the home's data folder holds none of it
    expect(await chunkKinds(url, fromA.documentId)).not.toEqual([])
    expect((await chunkKinds(url, fromA.documentId)).some(k => k === "incremental" || k === "snapshot")).toBe(true)
    const dataFiles = await readdir(a.paths.data).catch(() => [])
    expect(dataFiles).toEqual([])

    // restart a alone: both documents come back from the database
    b.hub.hangUp(a.url)
    await a.stop()
    a = track(await startTestHub({ home, flags: { storage } }))
    expect((await a.hub.docs.show(fromA.url)).content).toMatchObject({ title: "made on a", note: "from b" })
    expect((await a.hub.docs.show(fromB.url)).content).toMatchObject({ title: "made on b" })
    expect(a.hub.index.has(fromB.documentId)).toBe(true)
  })

  it("rebuilds its document index from the database when the home lost it", async () => {
    const url = await server.createDatabase("index")
    const home = await tempDir()
    const flags = { storage: { kind: "postgres" as const, url } }
    const first = await startTestHub({ home, flags })
    const made = await first.hub.docs.create({ title: "kept" })
    await first.stop()
    await rm(`${home}/documents.idx`)
    const again = track(await startTestHub({ home, flags }))
    expect(again.hub.index.has(made.documentId)).toBe(true)
  })

  it("is chosen by FEDHUB_DATABASE_URL, and by config.json storage", async () => {
    const url = await server.createDatabase("env")
    const home = await tempDir()
    const viaEnv = track(
      await startHub(serveHub, { home, env: { FEDHUB_DATABASE_URL: url }, flags: { host: "127.0.0.1", port: 0, logLevel: "silent" } }),
    )
    expect(viaEnv.config.storage).toMatchObject({ kind: "postgres", url })
    const made = await viaEnv.hub.docs.create({ title: "env" })
    await viaEnv.hub.repo.flush()
    expect(await chunkKinds(url, made.documentId)).not.toEqual([])

    const other = await tempDir()
    cleanup.push(() => rm(other, { recursive: true, force: true }))
    await writeFile(`${other}/config.json`, JSON.stringify({ storage: { kind: "postgres", url, schema: "second", idleUnloadMs: 60000 } }))
    const resolved = await resolveConfig(resolveHome(other), {}, { FEDHUB_IDLE_UNLOAD_MS: "5000" })
    // the environment's idle time alone does not switch the kind back to files
    expect(resolved.storage).toEqual({ kind: "postgres", url, schema: "second", idleUnloadMs: 5000 })
  })

  it("refuses a configuration that names postgres without a URL, or a bad idle time", async () => {
    const home = await tempDir()
    cleanup.push(() => rm(home, { recursive: true, force: true }))
    await expect(resolveConfig(resolveHome(home), { storage: { kind: "postgres" } }, {})).rejects.toMatchObject({ code: "CONFIG_INVALID" })
    await expect(resolveConfig(resolveHome(home), {}, { FEDHUB_IDLE_UNLOAD_MS: "soon" })).rejects.toMatchObject({ code: "CONFIG_INVALID" })
    await expect(resolveConfig(resolveHome(home), { storage: { kind: "files" as never } }, {})).rejects.toMatchObject({ code: "CONFIG_INVALID" })
    expect((await resolveConfig(resolveHome(home), {}, {})).storage).toEqual({ kind: "nodefs", idleUnloadMs: 0 })
  })

  it("refuses to start on a database another identity owns, and writes nothing into it", async () => {
    const url = await server.createDatabase("owned")
    const flags = { storage: { kind: "postgres" as const, url } }
    const owner = track(await startTestHub({ flags }))
    const made = await owner.hub.docs.create({ title: "mine" })
    await owner.hub.repo.flush()
    const before = await chunkKinds(url, made.documentId)
    const intruderHome = await tempDir()
    cleanup.push(() => rm(intruderHome, { recursive: true, force: true }))
    await expect(startTestHub({ home: intruderHome, flags })).rejects.toMatchObject({ code: "CONFIG_INVALID" })
    expect(await chunkKinds(url, made.documentId)).toEqual(before)
  })

  it("fails to start with a typed error when the database cannot be reached", async () => {
    const home = await tempDir()
    cleanup.push(() => rm(home, { recursive: true, force: true }))
    const url = `postgresql://postgres@/missing_db?host=${encodeURIComponent(server.socketDir)}`
    await expect(startTestHub({ home, flags: { storage: { kind: "postgres", url } } })).rejects.toMatchObject({ code: "CONFIG_INVALID" })
  })
})
