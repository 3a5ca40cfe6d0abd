/**
 * Write control on every hub (issue 12, "Found" 3 and 4, and "what must hold" 2): each
 * change is checked for its author before the Repo applies it — a forged author, a reader
 * writing, a removed writer, a stranger writing into a hub's directory are refused,
 * counted and reported with the hub that sent them, and nothing changes.
 */
import { afterEach, describe, expect, it } from "vitest"
import * as A from "@automerge/automerge"
import { generateAutomergeUrl, parseAutomergeUrl, type AutomergeUrl, type DocHandle, type PeerId } from "@automerge/automerge-repo"
import { Identity } from "../../src/identity/index.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { actorIdFor, bindActor } from "../../src/replication/access/actorBinding.ts"
import { signHeads } from "../../src/replication/access/signedHeads.ts"
import { SIGNATURES_FRAME } from "../../src/replication/SignatureAnnouncer.ts"
import type { Refusal } from "../../src/replication/SyncServerAdapter.ts"
import type { DirectoryDoc } from "../../src/federation/directory.ts"
import { hubPool, linkReaches, nextEvent, waitForDoc } from "../helpers/hubs.ts"
import { rawPeer, type RawPeer } from "../helpers/rawPeer.ts"

const pool = hubPool()
const hub = pool.start
afterEach(pool.cleanup)

type Doc = Record<string, unknown>
const link = async (from: RunningHub, to: RunningHub) => linkReaches(from.hub.dial(to.url, to.hub.nodeId), "established")
const plain = (d: unknown) => JSON.parse(JSON.stringify(d)) as Doc

/** A change to `doc` made under `actor`, as the bytes a sync message carries. */
function changeAs(doc: A.Doc<unknown>, actor: string, fn: (d: Doc) => void, message?: string): { bytes: Uint8Array; hash: string } {
  const changed = A.change(A.clone(doc as A.Doc<Doc>, { actor }), message ? { message } : {}, fn)
  const bytes = A.getLastLocalChange(changed)!
  return { bytes, hash: A.decodeChange(bytes).hash }
}

/** Sends one change to the hub as a sync message, after the given bindings and signed heads. */
function sendChange(peer: RawPeer, documentId: string, change: { bytes: Uint8Array; hash: string }, bindings: unknown[], heads: unknown[]): void {
  const base = { senderId: peer.identity.nodeId, targetId: peer.hubId, documentId }
  peer.send({ type: SIGNATURES_FRAME, ...base, bindings, heads })
  peer.send({ type: "sync", ...base, data: A.encodeSyncMessage({ heads: [change.hash], need: [], have: [], changes: [change.bytes] }) })
}

/** Resolves with the next refusal `h` records for a change (the server side of a link). */
const nextRefusal = (h: RunningHub, code: string): Promise<Refusal> =>
  (async () => {
    for (;;) {
      const [r] = await nextEvent<[Refusal]>(h.hub.server.events, "refusal", 15_000)
      if (r.code === code) return r
    }
  })()

describe("write control", () => {
  it("refuses a change a relay wrote under another hub's actor, on every hub (found 4)", async () => {
    const a = await hub()
    const b = await hub()
    const forger = Identity.generate()
    await link(b, a)
    const made = await a.hub.docs.create({ title: "t" }, { writers: [b.hub.nodeId], relays: [forger.nodeId] })
    await b.hub.docs.put(made.url, "fromB", 1) // b's binding and heads travel to a
    const onA = (await a.hub.docs.find(made.url)) as DocHandle<Doc>
    await waitForDoc(onA, d => d.fromB === 1)
    const before = onA.heads()
    // the relay forges a change under b's actor, says it is b's, and signs the heads itself
    const peer = await rawPeer(a.url, forger)
    const bActor = a.hub.signatures.bindings(made.documentId).find(x => x.signer === b.hub.nodeId)!.payload.actorId
    const forged = changeAs(onA.doc(), bActor, d => void (d.title = new A.ImmutableString("forged")), `put title (by ${b.hub.nodeId})`)
    const refused = nextRefusal(a, "CHANGE_UNATTRIBUTED")
    sendChange(peer, made.documentId, forged, [a.hub.signatures.binding(made.documentId, bActor)], [signHeads(forger, made.documentId, bActor, [forged.hash])])
    expect((await refused).detail).toContain("signer-not-bound-node")
    expect(onA.heads()).toEqual(before)
    expect(a.hub.gate.refusedChanges(made.documentId)).toEqual([
      expect.objectContaining({ hash: forged.hash, actor: bActor, author: b.hub.nodeId, reason: "signer-not-bound-node", from: forger.nodeId }),
    ])
    // the operator sees it in the policy view, with the hub that sent it
    const view = (await (
      await fetch(`${a.localUrl}/api/docs/${encodeURIComponent(made.url)}/policy`, { headers: { authorization: `Bearer ${a.hub.adminToken}` } })
    ).json()) as { refusedChanges: unknown[] }
    expect(view.refusedChanges).toEqual([expect.objectContaining({ hash: forged.hash, reason: "signer-not-bound-node", from: forger.nodeId })])
    // the link stays up (the relay may be honest about other documents), and b never sees the change
    expect(peer.ws.readyState).toBe(peer.ws.OPEN)
    await b.hub.docs.put(made.url, "again", 1)
    const onB = (await b.hub.docs.find(made.url)) as DocHandle<Doc>
    await waitForDoc(onA, d => d.again === 1)
    expect(String(onB.doc().title)).toBe("t")
    expect(String(onA.doc().title)).toBe("t")
    peer.ws.close()
  })

  it("a reader cannot write: its own hub says NOT_A_WRITER, and a hand-signed change is refused", async () => {
    const a = await hub()
    const c = await hub()
    await link(c, a)
    const made = await a.hub.docs.create({ v: 1 }, { readers: [c.hub.nodeId] })
    await waitForDoc(await c.hub.docs.find(made.url), d => (d as Doc).v === 1)
    await expect(c.hub.docs.put(made.url, "v", 2)).rejects.toMatchObject({ code: "NOT_A_WRITER" })
    // a reader bypassing its API: a change under its own bound actor, properly signed
    const reader = Identity.generate()
    await a.hub.docs.share(made.url, { readers: [reader.nodeId] })
    const onA = (await a.hub.docs.find(made.url)) as DocHandle<Doc>
    const before = onA.heads()
    const peer = await rawPeer(a.url, reader)
    const binding = bindActor(reader, made.documentId)
    const change = changeAs(onA.doc(), binding.payload.actorId, d => void (d.v = 99))
    const refused = nextRefusal(a, "NOT_A_WRITER")
    sendChange(peer, made.documentId, change, [binding], [signHeads(reader, made.documentId, binding.payload.actorId, [change.hash])])
    expect((await refused).detail).toContain("not-a-writer")
    expect(onA.heads()).toEqual(before)
    expect(onA.doc().v).toBe(1)
    peer.ws.close()
  })

  it("a writer removed from the policy can no longer change the document on any hub; its earlier changes still reach a new reader", async () => {
    const a = await hub()
    const b = await hub()
    const c = await hub()
    await link(b, a)
    await link(c, a)
    await link(b, c)
    const made = await a.hub.docs.create({ n: 0 }, { writers: [b.hub.nodeId], readers: [c.hub.nodeId] })
    await b.hub.docs.put(made.url, "early", "by b")
    const onA = (await a.hub.docs.find(made.url)) as DocHandle<Doc>
    const onC = (await c.hub.docs.find(made.url)) as DocHandle<Doc>
    await waitForDoc(onA, d => String(d.early) === "by b")
    await waitForDoc(onC, d => String(d.early) === "by b")
    await a.hub.docs.unshare(made.url, [b.hub.nodeId])
    // c learns the narrowed policy with a's next change
    await a.hub.docs.put(made.url, "n", 1)
    await waitForDoc(onC, d => d.n === 1)
    expect(c.hub.policies.effective(made.documentId)?.writers).toEqual([])
    // b writes as if it had not heard (its own API may already know and refuse): straight
    // into its replica, under its bound actor, signed; a and c both refuse what it sends
    const refusedAtA = nextRefusal(a, "NOT_A_WRITER")
    const refusedAtC = nextRefusal(c, "NOT_A_WRITER")
    const onBRepo = await b.hub.repo.find<Doc>(made.url as AutomergeUrl, { signal: AbortSignal.timeout(10_000) })
    b.hub.authorship.adopt(onBRepo)
    onBRepo.change(d => void (d.late = new A.ImmutableString("by b")))
    b.hub.authorship.signLatest(onBRepo)
    await Promise.all([refusedAtA, refusedAtC])
    expect(onA.doc().late).toBeUndefined()
    expect(onC.doc().late).toBeUndefined()
    // a new reader fetches the document: b's change from before its removal is vouched for by a
    const d = await hub()
    await link(d, a)
    await a.hub.docs.share(made.url, { readers: [d.hub.nodeId] })
    const onD = (await d.hub.docs.find(made.url)) as DocHandle<Doc>
    await waitForDoc(onD, x => x.n === 1)
    expect(plain(onD.doc())).toEqual({ n: 1, early: "by b" })
    expect(d.hub.gate.refusedChanges(made.documentId)).toEqual([])
  })

  it("a hub's directory is written only by that hub (found 3)", async () => {
    const a = await hub()
    const x = await hub()
    const c = await hub()
    await link(x, a)
    await link(c, a)
    await link(c, x)
    const dirUrl = a.hub.federation.directory.url
    expect(a.hub.policies.effective(a.hub.federation.directory.documentId)).toMatchObject({ owner: a.hub.nodeId, writers: [], readers: ["public"] })
    // x plants an entry in a's directory and deletes a's own, straight through its Repo
    const onX = await x.hub.repo.find<DirectoryDoc>(dirUrl as AutomergeUrl, { signal: AbortSignal.timeout(10_000) })
    await waitForDoc(onX, d => d.entries[a.hub.nodeId] !== undefined)
    const refused = nextRefusal(a, "CHANGE_UNATTRIBUTED")
    onX.change(d => {
      d.entries["fh1planted"] = new A.ImmutableString("{}")
      delete d.entries[a.hub.nodeId]
    })
    await refused
    const own = a.hub.federation.ownDirectory()
    expect(own.nodes.map(n => n.nodeId)).toContain(a.hub.nodeId)
    expect(Object.keys(a.hub.federation.directory.doc().entries)).not.toContain("fh1planted")
    // a third hub reads a's directory as a wrote it, whichever peer it asks
    const onC = await c.hub.repo.find<DirectoryDoc>(dirUrl as AutomergeUrl, { signal: AbortSignal.timeout(10_000) })
    await waitForDoc(onC, d => d.entries[a.hub.nodeId] !== undefined)
    expect(Object.keys(onC.doc().entries)).not.toContain("fh1planted")
    expect(c.hub.gate.refusedChanges(a.hub.federation.directory.documentId).map(r => r.from)).not.toContain(a.hub.nodeId as string as PeerId)
  })

  it("refuses malformed or forged signature frames: bad lists close the socket, bad records are counted and never kept", async () => {
    const a = await hub()
    const made = await a.hub.docs.create({ v: 1 }, { writers: [] })
    const stranger = Identity.generate()
    await a.hub.docs.share(made.url, { readers: [stranger.nodeId] })
    const keptBefore = a.hub.signatures.bindings(made.documentId).length
    // a binding signed by the stranger for an actor derived from a's node id: not its own
    const honest = bindActor(stranger, made.documentId)
    const forged = { ...honest, payload: { ...honest.payload, actorId: actorIdFor(a.hub.nodeId, made.documentId, 7) } }
    const peer = await rawPeer(a.url, stranger)
    const base = { senderId: stranger.nodeId, targetId: peer.hubId, documentId: made.documentId }
    peer.send({ type: SIGNATURES_FRAME, ...base, bindings: [forged, { not: "an envelope" }], heads: [] })
    // handled in order: a probe on the same socket is answered after the frame
    const probe = parseAutomergeUrl(generateAutomergeUrl()).documentId
    peer.send({ type: "request", ...base, documentId: probe, data: A.encodeSyncMessage({ heads: [], need: [], have: [], changes: [] }) })
    await peer.next(m => m.type === "doc-unavailable" && m.documentId === probe)
    expect(a.hub.gate.signatureRecordsRefused).toBe(2)
    expect(a.hub.signatures.bindings(made.documentId).length).toBe(keptBefore)
    // not lists: the frame is malformed and the socket is closed
    peer.send({ type: SIGNATURES_FRAME, ...base, bindings: "everything", heads: [] })
    expect(await peer.closed).toBe(4400)
    expect(a.hub.signatures.bindings(made.documentId).length).toBe(keptBefore)
  })

  it("takes a new bound actor after a restart, so two runs of one identity never repeat an actor's sequence number", async () => {
    const a = await hub()
    const b = await hub()
    const made = await a.hub.docs.create({ v: 1 }, { readers: [b.hub.nodeId] })
    await a.hub.docs.put(made.url, "v", 2)
    await pool.stop(a)
    const a2 = await hub(a.paths.home)
    await a2.hub.docs.put(made.url, "v", 3)
    await a2.hub.docs.put(made.url, "v", 4)
    const actors = new Set(A.getChangesMetaSince((await a2.hub.docs.find(made.url)).doc(), []).map(c => c.actor))
    expect(actors.size).toBe(2) // one per run; the second run's two changes share its actor
    for (const actor of actors) expect(a2.hub.signatures.authorOf(made.documentId, actor)).toBe(a.hub.nodeId)
    expect(a2.hub.signatures.bindings(made.documentId).map(x => x.payload.actorId).sort()).toEqual([...actors].sort())
    await link(b, a2)
    const onB = await b.hub.docs.find(made.url)
    await waitForDoc(onB, d => (d as Doc).v === 4)
    for (const actor of actors) expect(b.hub.signatures.authorOf(made.documentId, actor)).toBe(a.hub.nodeId)
  })
  it("a writer that signs two different changes with one actor and sequence number is refused as equivocating; the hub keeps serving", async () => {
    const a = await hub()
    const writer = Identity.generate()
    const made = await a.hub.docs.create({ v: 1 }, { writers: [writer.nodeId] })
    const onA = (await a.hub.docs.find(made.url)) as DocHandle<Doc>
    const peer = await rawPeer(a.url, writer)
    const binding = bindActor(writer, made.documentId)
    const actor = binding.payload.actorId
    const base = onA.doc()
    const first = changeAs(base, actor, d => void (d.v = 2))
    sendChange(peer, made.documentId, first, [binding], [signHeads(writer, made.documentId, actor, [first.hash])])
    await waitForDoc(onA, d => d.v === 2)
    const heads = onA.heads()
    // the same actor and sequence number again, other content: Automerge cannot hold both
    const twin = changeAs(base, actor, d => void (d.v = 3))
    const refused = nextRefusal(a, "EQUIVOCATION")
    sendChange(peer, made.documentId, twin, [], [signHeads(writer, made.documentId, actor, [twin.hash])])
    expect((await refused).detail).toContain("equivocation")
    expect(onA.heads()).toEqual(heads)
    expect(a.hub.gate.refusedChanges(made.documentId)).toEqual([
      expect.objectContaining({ hash: twin.hash, actor, author: writer.nodeId, reason: "equivocation", from: writer.nodeId }),
    ])
    // the link and the document go on: the writer's next change (sequence 2) is applied
    const next = changeAs(onA.doc(), actor, d => void (d.v = 4))
    sendChange(peer, made.documentId, next, [], [signHeads(writer, made.documentId, actor, [next.hash])])
    await waitForDoc(onA, d => d.v === 4)
    peer.ws.close()
  })
})
