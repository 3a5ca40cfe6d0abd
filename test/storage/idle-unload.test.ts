/**
 * Memory bounded by use: an idle document leaves memory and comes back when a peer or a
 * client asks; the policy refuses a stranger without loading anything; a hub with idle
 * unloading starts with nothing loaded and still offers what it holds to a hub that connects.
 */
import "@automerge/automerge-repo"
import type { DocumentId, Repo } from "@automerge/automerge-repo"
import { rm } from "node:fs/promises"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import type { HubConfig } from "../../src/schema/index.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, nextEvent, startTestHub, tempDir, waitForDoc } from "../helpers/hubs.ts"
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts"
import type { ReofferResult } from "../../src/replication/storage/Reoffer.ts"

const IDLE = 3_600_000
const str = (v: unknown) => (v === undefined ? undefined : String(v))

let server: TestPostgres
beforeAll(async () => {
  server = await startPostgres()
}, 90_000)
afterAll(async () => server?.stop(), 60_000)

/**
 * Unloads every idle document of a hub now: one sweep notes what is loaded, the next (two
 * idle times later, so the last sync messages of the test count as long past) unloads it.
 */
async function unloadIdle(h: RunningHub): Promise<string[]> {
  const now = Date.now()
  await h.hub.unloader!.sweep(now)
  return h.hub.unloader!.sweep(now + 2 * IDLE)
}

/** Resolves when the Repo has processed a sync message for the document from any peer. */
const synced = (repo: Repo, documentId: string) =>
  new Promise<void>(resolve => {
    const on = (e: { documentId: DocumentId }) => {
      if (e.documentId !== documentId) return
      repo.synchronizer.off("sync-state", on)
      resolve()
    }
    repo.synchronizer.on("sync-state", on)
  })

describe.each(["nodefs", "postgres"] as const)("idle unloading on %s", kind => {
  let cleanup: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {})
    cleanup = []
  })
  const storageFlags = async (): Promise<HubConfig["storage"]> =>
    kind === "postgres" ? { kind, url: await server.createDatabase("idle"), idleUnloadMs: IDLE } : { kind, idleUnloadMs: IDLE }
  const start = async (opts: { home?: string; storage?: HubConfig["storage"] } = {}) => {
    const h = await startTestHub({ home: opts.home, flags: opts.storage ? { storage: opts.storage } : {} })
    cleanup.push(async () => {
      await h.stop()
      await rm(h.paths.home, { recursive: true, force: true })
    })
    return h
  }

  it("unloads a document nobody used for the idle time; a peer's change loads it again and is applied", async () => {
    const a = await start({ storage: await storageFlags() })
    const b = await start()
    await linkReaches(b.hub.dial(a.url, a.hub.nodeId), "established")
    const made = await a.hub.docs.create({ title: "idle soon" }, { writers: [b.hub.nodeId] })
    await waitForDoc(await b.hub.docs.find(made.url), d => str(d.title) === "idle soon")

    expect(await unloadIdle(a)).toContain(made.documentId)
    // this hub's directory is never unloaded: the federation core keeps its handle
    expect(a.hub.repo.handles[a.hub.federation.directory.documentId]?.isReady()).toBe(true)

    const arrived = synced(a.hub.repo, made.documentId)
    await b.hub.docs.put(made.url, "note", "from b")
    await arrived
    const reloaded = a.hub.repo.handles[made.documentId as DocumentId]!
    await reloaded.whenReady()
    await waitForDoc(reloaded, d => str((d as { note?: unknown }).note) === "from b")

    // a client's read loads it on demand too
    expect(await unloadIdle(a)).toContain(made.documentId)
    expect((await a.hub.docs.show(made.url)).content).toMatchObject({ title: "idle soon", note: "from b" })
  })

  it("keeps a document in use: one with new heads since the last sweep stays loaded", async () => {
    const a = await start({ storage: await storageFlags() })
    const made = await a.hub.docs.create({ n: 1 })
    const now = Date.now()
    await a.hub.unloader!.sweep(now)
    await a.hub.docs.put(made.url, "n", 2)
    expect(await a.hub.unloader!.sweep(now + IDLE + 1)).not.toContain(made.documentId)
    expect(await a.hub.unloader!.sweep(now + 2 * IDLE + 2)).toContain(made.documentId)
  })

  it("starts with no held document loaded, and offers each to a hub that connects, a batch at a time", async () => {
    const storage = await storageFlags()
    const home = await tempDir()
    const b = await start()
    let a = await startTestHub({ home, flags: { storage } })
    const made = []
    for (let i = 0; i < 40; i++) made.push(await a.hub.docs.create({ title: `doc ${i}` }, { readers: [b.hub.nodeId] }))
    await a.stop()
    a = await start({ home, storage })
    for (const m of made) expect(a.hub.repo.handles[m.documentId as DocumentId]).toBeUndefined()

    const done = nextEvent<[ReofferResult]>(a.hub.reoffer!.events, "done", 80_000)
    await linkReaches(b.hub.dial(a.url, a.hub.nodeId), "established")
    const [result] = await done
    expect(result).toMatchObject({ peerId: b.hub.nodeId, offered: 40, settled: 40 })
    for (const [i, m] of made.entries()) {
      const onB = b.hub.repo.handles[m.documentId as DocumentId]
      expect(onB?.isReady()).toBe(true)
      expect(str((onB!.doc() as { title?: unknown }).title)).toBe(`doc ${i}`)
    }
  }, 120_000)
})

describe("the policy check without the document in memory", () => {
  let cleanup: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {})
    cleanup = []
  })

  it("refuses a hub that may not read an unloaded document, and loads nothing for it", async () => {
    const a = await startTestHub({ flags: { storage: { kind: "nodefs", idleUnloadMs: IDLE } } })
    const c = await startTestHub()
    cleanup.push(async () => {
      for (const h of [c, a]) {
        await h.stop()
        await rm(h.paths.home, { recursive: true, force: true })
      }
    })
    const secret = await a.hub.docs.create({ title: "private to a" })
    expect(await unloadIdle(a)).toContain(secret.documentId)
    await linkReaches(c.hub.dial(a.url, a.hub.nodeId), "established")
    await expect(c.hub.repo.find(secret.documentId as DocumentId, { signal: AbortSignal.timeout(10_000) })).rejects.toThrow()
    expect(a.hub.repo.handles[secret.documentId as DocumentId]).toBeUndefined()
    expect(c.hub.repo.handles[secret.documentId as DocumentId]?.isReady()).not.toBe(true)
  })
})
