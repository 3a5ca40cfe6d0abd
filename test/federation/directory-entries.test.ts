/**
 * One directory entry per node id (issue 11, item 5): restarts of a peer (each a new
 * descriptor whose sequence is its issue time) replace its entry, concurrent writes
 * collapse into one on the next newer write, and a lower sequence is refused.
 */
import "@automerge/automerge-repo"
import * as A from "@automerge/automerge"
import { rm } from "node:fs/promises"
import { afterEach, describe, expect, it } from "vitest"
import { Identity } from "../../src/identity/index.ts"
import { buildDescriptor, nextSequence, signDescriptor } from "../../src/federation/descriptor.ts"
import { emptyDirectory, putDescriptor, readDirectory, type DirectoryDoc } from "../../src/federation/directory.ts"
import { codeOf } from "../helpers/errors.ts"
import { linkReaches, startTestHub, tempDir } from "../helpers/hubs.ts"

const settings = { name: "x", type: "hub" as const, federationMode: "open" as const, dataRetentionDays: null }

/** The descriptor a restart at `issuedAt` on `port` issues (sequence: its issue time, as a hub does). */
const restartAt = (id: Identity, issuedAt: number, port: number) =>
  signDescriptor(id, buildDescriptor(id, settings, { endpoints: [`ws://127.0.0.1:${port}/sync`], startedAt: issuedAt, issuedAt }))

/** How many concurrent values the key holds (getConflicts lists them only when there are several). */
const valuesOf = (doc: DirectoryDoc, key: string) =>
  doc.entries[key] === undefined ? 0 : Math.max(1, Object.keys(A.getConflicts(doc.entries as A.Doc<Record<string, unknown>>, key) ?? {}).length)

describe("directory entries per node", () => {
  it("50 restarts of a peer leave one entry, holding the latest descriptor", () => {
    const peer = Identity.generate("peer")
    let doc = A.from<DirectoryDoc>(emptyDirectory())
    for (let i = 0; i < 50; i++) doc = A.change(doc, d => void putDescriptor(d, restartAt(peer, 1_700_000_000_000 + i * 1000, 4000 + i)))
    expect(Object.keys(doc.entries)).toEqual([peer.nodeId])
    expect(valuesOf(doc, peer.nodeId)).toBe(1)
    const [entry] = readDirectory(doc).nodes
    expect(entry!.descriptor.payload.connectivity.endpoints[0]!.url).toBe("ws://127.0.0.1:4049/sync")
  })

  it("concurrent writes of two replicas show the newest, and the next newer write collapses them into one value", () => {
    const peer = Identity.generate("peer")
    const base = A.from<DirectoryDoc>(emptyDirectory())
    const left = A.change(A.clone(base), d => void putDescriptor(d, restartAt(peer, 1_000, 1)))
    const right = A.change(A.clone(base), d => void putDescriptor(d, restartAt(peer, 2_000, 2)))
    let merged = A.merge(left, right)
    expect(valuesOf(merged, peer.nodeId)).toBe(2)
    expect(readDirectory(merged).nodes.map(n => n.descriptor.payload.sequence)).toEqual([2_000])
    merged = A.change(merged, d => void putDescriptor(d, restartAt(peer, 3_000, 3)))
    expect(Object.keys(merged.entries)).toEqual([peer.nodeId])
    expect(valuesOf(merged, peer.nodeId)).toBe(1)
  })

  it("a restart whose clock stepped back is refused as a replay, unless its sequence continues from the last one", () => {
    const peer = Identity.generate("peer")
    let doc = A.from<DirectoryDoc>(emptyDirectory())
    doc = A.change(doc, d => void putDescriptor(d, restartAt(peer, 5_000, 1)))
    let code = ""
    A.change(doc, d => {
      code = codeOf(() => putDescriptor(d, restartAt(peer, 4_000, 2)))
    })
    expect(code).toBe("DESCRIPTOR_REPLAYED")
    // nextSequence keeps a node's own sequence rising whatever its clock says
    expect(nextSequence(5_000, 4_000)).toBe(5_001)
    expect(nextSequence(5_000, 6_000)).toBe(6_000)
    expect(nextSequence(undefined, 7)).toBe(7)
    const seq = nextSequence(5_000, 4_000)
    const continued = signDescriptor(peer, buildDescriptor(peer, settings, { endpoints: ["ws://127.0.0.1:2/sync"], startedAt: 4_000, issuedAt: 4_000, sequence: seq }))
    doc = A.change(doc, d => void putDescriptor(d, continued))
    expect(Object.keys(doc.entries)).toEqual([peer.nodeId])
    expect(readDirectory(doc).nodes[0]!.descriptor.payload.sequence).toBe(5_001)
  })
})

describe("a peer restarting against a running hub", () => {
  const cleanup: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c()
  })

  it("keeps one directory entry per node id across restarts", async () => {
    const a = await startTestHub()
    cleanup.push(() => rm(a.paths.home, { recursive: true, force: true }), () => a.stop()) // run in reverse: stop, then remove
    const homeB = await tempDir()
    cleanup.push(() => rm(homeB, { recursive: true, force: true }))
    let bId = ""
    for (let i = 0; i < 3; i++) {
      const b = await startTestHub({ home: homeB })
      bId = b.hub.nodeId
      const link = b.hub.dial(a.url)
      await linkReaches(link, "established")
      await b.hub.federation.learnFromUrl(a.hub.nodeId, a.url) // what the hub does on establishing, awaited here
      await a.hub.federation.learnFromUrl(b.hub.nodeId, b.url) // A learns B's descriptor of this run
      expect(Object.keys(a.hub.federation.directory.doc()!.entries).sort()).toEqual([a.hub.nodeId, bId].sort())
      expect(a.hub.federation.ownDirectory().nodes.find(n => n.nodeId === bId)?.descriptor.payload.connectivity.endpoints[0]?.url).toBe(
        `${b.url.replace(/^http/, "ws")}/sync`,
      )
      await b.stop()
    }
    expect(a.hub.federation.registry.list().map(n => n.nodeId)).toEqual([bId])
  })
})
