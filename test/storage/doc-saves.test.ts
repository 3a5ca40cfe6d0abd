/**
 * The Repo's saves (storage/DocSaves.ts): a document that arrives whole is stored as the
 * bytes that arrived (not saved again by automerge-repo), loads back from them after a
 * restart, and is compacted into one snapshot of the Repo's own once it changes; and a
 * document unloaded from memory is never overwritten by the empty document unloading leaves.
 */
import { readdir, readFile, rm } from "node:fs/promises"
import { join } from "node:path"
import * as A from "@automerge/automerge"
import type { DocHandle } from "@automerge/automerge-repo"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DocumentId } from "@automerge/automerge-repo"
import { docSaves, savesAsArrived, storedAsArrived } from "../../src/replication/createRepo.ts"
import { headsHash } from "../../src/replication/storage/DocSaves.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, startTestHub, waitForDoc } from "../helpers/hubs.ts"

type Doc = Record<string, unknown>

/** The nodefs chunk files of one document under a hub's data folder, by kind ("snapshot" / "incremental"). */
async function chunkFiles(h: RunningHub, documentId: string, kind: string): Promise<string[]> {
  const dir = join(h.paths.data, documentId.slice(0, 2), documentId.slice(2), kind)
  return (await readdir(dir).catch(() => [] as string[])).map(f => join(dir, f))
}

describe("a document that arrives whole", () => {
  let a: RunningHub, b: RunningHub
  beforeAll(async () => {
    a = await startTestHub()
    b = await startTestHub()
  })
  afterAll(async () => {
    for (const h of [a, b]) {
      await h.stop()
      await rm(h.paths.home, { recursive: true, force: true })
    }
  })

  /** A document made on A that B then finds: it reaches B whole, in one sync message. */
  async function arrive(title: string): Promise<{ url: string; documentId: string; onB: DocHandle<Doc> }> {
    const made = await a.hub.docs.create({ title, items: Array.from({ length: 50 }, (_, i) => `item ${i}`) }, { writers: [b.hub.nodeId] })
    const onB = (await b.hub.docs.find(made.url)) as DocHandle<Doc>
    await waitForDoc(onB, d => String(d.title) === title)
    await b.hub.repo.flush()
    return { url: made.url, documentId: made.documentId, onB }
  }

  /** Every chunk file of the document, loaded together (as automerge-repo loads them). */
  async function storedDoc(h: RunningHub, documentId: string): Promise<{ doc: A.Doc<Doc>; files: string[] }> {
    const files = [...(await chunkFiles(h, documentId, "snapshot")), ...(await chunkFiles(h, documentId, "incremental"))]
    let doc = A.init<Doc>()
    for (const f of files) doc = A.loadIncremental(doc, new Uint8Array(await readFile(f)))
    return { doc, files }
  }

  it("is stored as the bytes it arrived as, and loads from them after a restart", async () => {
    await linkReaches(b.hub.dial(a.url, a.hub.nodeId), "established")
    const before = savesAsArrived(b.hub.repo)
    const { url, documentId, onB } = await arrive("whole")
    expect(storedAsArrived(b.hub.repo, documentId)).toBe(true)
    expect(savesAsArrived(b.hub.repo)).toBeGreaterThan(before)
    // one snapshot, under the key automerge-repo would give those heads, loading to the replica
    const heads = A.getHeads(onB.doc())
    const { doc, files } = await storedDoc(b, documentId)
    expect(files).toHaveLength(1)
    expect(files[0]!.endsWith(join("snapshot", headsHash(heads)))).toBe(true)
    expect(A.getHeads(doc)).toEqual(heads)
    expect(JSON.parse(JSON.stringify(doc))).toEqual(JSON.parse(JSON.stringify(onB.doc())))

    // after a restart, with no peer, the document comes from those bytes
    const home = b.paths.home
    await b.stop()
    b = await startTestHub({ home })
    const reloaded = (await b.hub.docs.find(url)) as DocHandle<Doc>
    expect(A.getHeads(reloaded.doc())).toEqual(heads)
    expect(String(reloaded.doc().title)).toBe("whole")
  })

  it("is saved by the Repo once it changes, and the arrived bytes are removed", async () => {
    await linkReaches(b.hub.dial(a.url, a.hub.nodeId), "established")
    const { url, documentId, onB } = await arrive("to change")
    const arrivedHeads = A.getHeads(onB.doc())
    expect(storedAsArrived(b.hub.repo, documentId)).toBe(true)
    await b.hub.docs.put(url, "title", "changed")
    await b.hub.repo.flush()
    const { doc, files } = await storedDoc(b, documentId)
    expect(storedAsArrived(b.hub.repo, documentId)).toBe(false)
    expect(files.some(f => f.endsWith(headsHash(arrivedHeads)))).toBe(false)
    expect(files).toHaveLength(1)
    expect(A.getHeads(doc)).toEqual(A.getHeads(onB.doc()))
    expect(String(doc.title)).toBe("changed")
  })

  it("keeps a document unloaded from memory in storage: the empty document unloading leaves is never saved", async () => {
    const made = await a.hub.docs.create({ title: "unloaded", n: 1 })
    await a.hub.docs.put(made.url, "n", 2)
    await a.hub.repo.flush()
    const saves = docSaves(a.hub.repo)!
    // unloading sets the handle's document to an empty one; the Repo's throttled save then fires with it
    const dropped = new Promise<void>(resolve => {
      const on = (id: string) => {
        if (id !== made.documentId) return
        saves.events.off("droppedEmpty", on)
        resolve()
      }
      saves.events.on("droppedEmpty", on)
    })
    await a.hub.repo.removeFromCache(made.documentId as DocumentId)
    await dropped
    const { doc, files } = await storedDoc(a, made.documentId)
    expect(files.length).toBeGreaterThan(0)
    expect(files.some(f => f.endsWith(headsHash([])))).toBe(false)
    expect(doc).toMatchObject({ n: 2 })
    const reloaded = (await a.hub.docs.find(made.url)) as DocHandle<Doc>
    expect(String(reloaded.doc().title)).toBe("unloaded")
    expect(reloaded.doc().n).toBe(2)
  })
})
