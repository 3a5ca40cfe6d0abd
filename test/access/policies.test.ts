/**
 * Owner-signed policies decide who gets a document, on every hub (issue 12, items 1-2 of
 * "Found" and "a policy per document"): private unless shared, the same after a restart,
 * not widened by a member or a forger, narrowed at once, and concurrent admin edits
 * resolved alike everywhere.
 */
import { afterEach, describe, expect, it } from "vitest"
import * as A from "@automerge/automerge"
import { Identity, signEnvelope } from "../../src/identity/index.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { POLICY_PURPOSE } from "../../src/replication/access/policy.ts"
import { POLICY_FRAME } from "../../src/replication/PolicyAnnouncer.ts"
import { hubPool, linkReaches, nextEvent, waitForDoc } from "../helpers/hubs.ts"
import { rawPeer } from "../helpers/rawPeer.ts"

const pool = hubPool()
const hub = pool.start
afterEach(pool.cleanup)

const link = async (from: RunningHub, to: RunningHub) => linkReaches(from.hub.dial(to.url, to.hub.nodeId), "established")

/** Resolves once `h`'s policy of `documentId` satisfies `predicate` (checked now and on every change). */
async function policyReaches(h: RunningHub, documentId: string, predicate: (readers: string[], heads: number) => boolean): Promise<void> {
  const holds = () => {
    const s = h.hub.policies.state(documentId)
    return s !== undefined && predicate(s.effective?.readers ?? [], s.heads.length)
  }
  while (!holds()) await nextEvent(h.hub.policies.events, "changed", 15_000)
}

describe("policies", () => {
  it("a document is private to its creator unless shared", async () => {
    const a = await hub()
    const b = await hub()
    await link(b, a)
    const secret = await a.hub.docs.create({ secret: 1 })
    await expect(b.hub.docs.find(secret.url)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    const shared = await a.hub.docs.create({ open: 1 }, { readers: [b.hub.nodeId] })
    await waitForDoc(await b.hub.docs.find(shared.url), d => (d as { open?: number }).open === 1)
    expect(await a.hub.docs.policy(secret.url)).toMatchObject({ owner: a.hub.nodeId, readers: [], legacy: false })
  })

  it("keeps a document from a hub outside its policy after the creator restarts (found 1)", async () => {
    const a = await hub()
    const b = await hub()
    const made = await a.hub.docs.create({ for: "b only" }, { readers: [b.hub.nodeId] })
    await pool.stop(a)
    const a2 = await hub(a.paths.home)
    const c = await hub()
    await link(c, a2)
    await link(b, a2)
    await expect(c.hub.docs.find(made.url)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    await waitForDoc(await b.hub.docs.find(made.url), d => String((d as { for?: unknown }).for) === "b only")
  })

  it("is not widened by a member, nor by a forged record sent as a frame (found 2)", async () => {
    const a = await hub()
    const b = await hub()
    const c = await hub()
    await link(b, a)
    await link(c, a)
    const made = await a.hub.docs.create({ x: 1 }, { writers: [b.hub.nodeId] })
    await waitForDoc(await b.hub.docs.find(made.url), d => (d as { x?: number }).x === 1)
    // b, a writer, may not change who reads
    await expect(b.hub.docs.share(made.url, { readers: [c.hub.nodeId] })).rejects.toMatchObject({ code: "NOT_AN_ADMIN" })
    // a stranger signs a version adding c and sends it to a as a policy frame
    const stranger = Identity.generate()
    const genesis = a.hub.policies.state(made.documentId)!.heads[0]!
    // one instant for the payload and the envelope: only the signer is wrong (a millisecond between them was a second refusal reason)
    const at = Date.now()
    const forged = signEnvelope(stranger, POLICY_PURPOSE, {
      documentId: made.documentId,
      version: 2,
      owner: a.hub.nodeId,
      admins: [],
      writers: [b.hub.nodeId],
      readers: [c.hub.nodeId],
      relays: [],
      parents: [genesis],
      issuedAt: at,
    }, at)
    const peer = await rawPeer(a.url, stranger)
    peer.send({ type: POLICY_FRAME, senderId: stranger.nodeId, targetId: peer.hubId, documentId: made.documentId, records: [forged] })
    // the frame was handled before a probe on the same socket is answered
    peer.send({ type: "request", senderId: stranger.nodeId, targetId: peer.hubId, documentId: made.documentId, data: A.encodeSyncMessage({ heads: [], need: [], have: [], changes: [] }) })
    await peer.next(m => m.type === "doc-unavailable" && m.documentId === made.documentId)
    const state = a.hub.policies.state(made.documentId)!
    expect(state.effective?.readers).toEqual([])
    expect(state.refused.map(r => [r.code, r.reason])).toEqual([
      ["POLICY_INVALID", `signer ${stranger.nodeId} is not the owner or an admin in its parent ${genesis}`],
    ])
    await expect(c.hub.docs.find(made.url)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
  })

  it("narrowing stops a running sync at once; the link keeps serving other documents", async () => {
    const a = await hub()
    const b = await hub()
    await link(b, a)
    const made = await a.hub.docs.create({ v: 1 }, { readers: [b.hub.nodeId] })
    const onB = await b.hub.docs.find(made.url)
    await waitForDoc(onB, d => (d as { v?: number }).v === 1)
    await a.hub.docs.unshare(made.url, [b.hub.nodeId])
    await a.hub.docs.put(made.url, "v", 2)
    // a later document shared with b arrives over the same link: sync goes on, but not of the first
    const later = await a.hub.docs.create({ later: true }, { readers: [b.hub.nodeId] })
    await waitForDoc(await b.hub.docs.find(later.url), d => (d as { later?: boolean }).later === true)
    await a.hub.docs.put(later.url, "after", 1)
    await waitForDoc(await b.hub.docs.find(later.url), d => (d as { after?: number }).after === 1)
    expect((onB.doc() as { v?: number }).v).toBe(1)
  })

  it("resolves concurrent edits by two admins the same way on both hubs (intersection)", async () => {
    const a = await hub()
    const b = await hub()
    const c = await hub()
    const d = await hub()
    await link(b, a)
    const made = await a.hub.docs.create({ x: 1 }, { readers: [c.hub.nodeId, d.hub.nodeId] })
    await a.hub.docs.share(made.url, { writers: [b.hub.nodeId] })
    // b becomes an admin: a new version by a, the owner
    const state = a.hub.policies.state(made.documentId)!
    const { nextPolicy } = await import("../../src/replication/access/policy.ts")
    await a.hub.policies.add(made.documentId, [nextPolicy(a.hub.identity, state, { add: { admins: [b.hub.nodeId] } })])
    await waitForDoc(await b.hub.docs.find(made.url), doc => (doc as { x?: number }).x === 1)
    await policyReaches(b, made.documentId, () => (b.hub.policies.effective(made.documentId)?.admins ?? []).includes(b.hub.nodeId))
    // partition, then each admin narrows differently
    b.hub.hangUp(a.url)
    await a.hub.docs.unshare(made.url, [c.hub.nodeId])
    await b.hub.docs.unshare(made.url, [d.hub.nodeId])
    await link(b, a)
    await a.hub.docs.put(made.url, "after", 1) // traffic on the document carries the records
    await b.hub.docs.put(made.url, "afterB", 1)
    for (const h of [a, b]) await policyReaches(h, made.documentId, (_readers, heads) => heads === 2)
    const onA = a.hub.policies.state(made.documentId)!
    const onB = b.hub.policies.state(made.documentId)!
    expect(onA.effective).toEqual(onB.effective)
    expect(onA.effective?.readers).toEqual([]) // each narrowing holds: neither c nor d reads
    expect([onA.conflict, onB.conflict]).toEqual([true, true])
  })
})
