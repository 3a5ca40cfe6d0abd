/**
 * Live key rotation across real hubs (issue 16 part 3, "rotation keeps links, trust and
 * attribution"): `fedhub rotate` on a running hub, its links re-handshake under the new id,
 * peers carry trust, a link pinned to the old id follows, history keeps both authors; a
 * forged rotation is refused and changes nothing; a blocked node stays blocked.
 */
import { readdir } from "node:fs/promises"
import type { DocHandle, PeerId } from "@automerge/automerge-repo"
import { afterEach, describe, expect, it } from "vitest"
import { rotateKey, ROTATION_CONSENT_PURPOSE, ROTATION_PURPOSE } from "../../src/federation/rotation.ts"
import type { DirectoryDoc } from "../../src/federation/directory.ts"
import type { RotationReport } from "../../src/hub/rotateIdentity.ts"
import type { Hub } from "../../src/hub/Hub.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { Identity, loadIdentity, signEnvelope, toBase64, type NodeId } from "../../src/identity/index.ts"
import { codeOf } from "../helpers/errors.ts"
import { fedhub } from "../helpers/cli.ts"
import { hubPool, linkReaches, nextEvent, waitForDoc } from "../helpers/hubs.ts"
import { rawPeer } from "../helpers/rawPeer.ts"

const pool = hubPool()
afterEach(pool.cleanup)

type Doc = Record<string, unknown>

/** Resolves once `peerId` is a peer of the hub's Repo (checked now, then on every new peer). */
async function peerOf(hub: Hub, peerId: string): Promise<void> {
  const net = hub.repo.networkSubsystem
  while (!hub.repo.peers.includes(peerId as PeerId)) await nextEvent(net, "peer", 45_000)
}

/** Resolves once `ok()` holds, checking now and after each `event`. */
async function until(emitter: Parameters<typeof nextEvent>[0], event: string, ok: () => boolean): Promise<void> {
  while (!ok()) await nextEvent(emitter, event, 20_000)
}

/** Resolves once the hub's own directory holds a rotation of `oldId` (a peer's record, learned). */
const rotationLearned = (hub: Hub, oldId: string) =>
  waitForDoc(hub.federation.directory as DocHandle<DirectoryDoc>, d => d.rotations?.[oldId] !== undefined, 20_000)

/** POST /api/rotate on a running hub. */
async function rotateByRest(h: RunningHub): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${h.localUrl}/api/rotate`, { method: "POST", headers: { authorization: `Bearer ${h.hub.adminToken}` } })
  return { status: res.status, body: await res.json() }
}

describe("fedhub rotate", () => {
  it("keeps links, trust and attribution across three hubs", async () => {
    const a = await pool.start()
    const b = await pool.start()
    const c = await pool.start()
    const oldA = a.hub.nodeId
    const oldName = a.hub.config.name
    // b's link to a is pinned to a's old id (a #fh1… URL), a dials c
    await linkReaches(b.hub.dial(`${a.url}#${oldA}`), "established")
    await linkReaches(a.hub.dial(c.url, c.hub.nodeId), "established")
    await peerOf(c.hub, oldA)
    await b.hub.federation.setTrust(oldA, "trusted")
    await c.hub.federation.setTrust(oldA, "partner")
    const made = await a.hub.docs.create({ title: "before" }, { writers: [b.hub.nodeId], readers: [c.hub.nodeId] })
    await waitForDoc(await b.hub.docs.find(made.url), d => String((d as Doc).title) === "before")
    await waitForDoc(await c.hub.docs.find(made.url), d => String((d as Doc).title) === "before")
    // a document c owns, a writes
    const byC = await c.hub.docs.create({ note: "c's" }, { writers: [oldA] })
    await waitForDoc(await a.hub.docs.find(byC.url), d => String((d as Doc).note) === "c's")

    // the CLI, as a user runs it
    const r = await fedhub(["rotate", "--json", "--hub", a.localUrl, "--token", a.hub.adminToken])
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout) as RotationReport
    const newA = report.newId
    expect(report.oldId).toBe(oldA)
    expect(newA).not.toBe(oldA)
    expect(a.hub.nodeId).toBe(newA) // the running hub swapped to the new key on the same port
    expect(report.policies).toContain(made.documentId)
    expect(report.record).toMatchObject({ purpose: ROTATION_PURPOSE, signer: oldA, payload: { oldId: oldA, newId: newA } })
    // the home holds the new key, the old one is kept
    expect((await loadIdentity(a.paths.home)).nodeId).toBe(newA)
    expect(await readdir(a.paths.home)).toContain(report.archived)
    const health = (await (await fetch(`${a.localUrl}/healthz`)).json()) as { nodeId: string }
    expect(health.nodeId).toBe(newA)

    // links come back under the new id: b's pinned link follows the rotation, a redials c
    await peerOf(b.hub, newA)
    await peerOf(c.hub, newA)
    await peerOf(a.hub, b.hub.nodeId)
    await peerOf(a.hub, c.hub.nodeId)
    expect(b.hub.links().some(l => l.remoteNodeId === newA && l.state === "established")).toBe(true)
    await rotationLearned(c.hub, oldA)

    // trust carried at the same level, with its reason; the registry follows the new id
    for (const [hub, level] of [
      [b.hub, "trusted"],
      [c.hub, "partner"],
    ] as const) {
      await hub.federation.refreshEndorsements()
      const t = hub.federation.trust().levels.get(newA)
      expect(t?.level).toBe(level)
      expect(t?.reason).toContain(`carried from ${oldA}`)
    }

    // after the rotation: the new key writes the same document, b still writes it too
    await a.hub.docs.put(made.url, "after", "by the new key")
    await waitForDoc(await b.hub.docs.find(made.url), d => String((d as Doc).after) === "by the new key")
    await waitForDoc(await c.hub.docs.find(made.url), d => String((d as Doc).after) === "by the new key")
    await b.hub.docs.put(made.url, "reply", "by b")
    await waitForDoc((await a.hub.docs.find(made.url)) as DocHandle<Doc>, d => String(d.reply) === "by b")

    // c, which administers its document, granted the new key what the old one had; a writes it
    await until(a.hub.policies.events, "changed", () => a.hub.policies.effective(byC.documentId)?.writers.includes(newA) === true)
    await a.hub.docs.put(byC.url, "fromA", "by the new key")
    await waitForDoc(await c.hub.docs.find(byC.url), d => String((d as Doc).fromA) === "by the new key")

    // history: old changes by the old id, new ones by the new id, shown as one node
    for (const hub of [a.hub, b.hub, c.hub]) {
      const log = await hub.docs.log(made.url)
      const authors = log.map(e => e.author)
      expect(authors).toContain(oldA)
      expect(authors).toContain(newA)
      expect(log.every(e => e.attributed)).toBe(true)
      const before = log.find(e => e.author === oldA)!
      expect(before.authorName).toBe(`${oldName} (rotated to ${newA})`)
    }
    expect((await a.hub.docs.log(made.url)).find(e => e.author === newA)?.authorName).toBe(oldName)
  }, 90_000)

  it("refuses a forged rotation with a typed error and changes nothing", async () => {
    const a = await pool.start()
    const b = await pool.start()
    const oldA = a.hub.nodeId
    await linkReaches(b.hub.dial(`${a.url}#${oldA}`), "established")
    await b.hub.federation.setTrust(oldA, "trusted")
    const mallory = Identity.generate()
    const other = Identity.generate()
    const now = Date.now()
    const statement = { oldId: oldA, newId: mallory.nodeId, newPublicKey: toBase64(mallory.publicKey), rotatedAt: now }
    const consent = (by: Identity) => signEnvelope(by, ROTATION_CONSENT_PURPOSE, statement, now).sig
    // a's old key names mallory, who never counter-signed / whose consent another key made
    const notCountersigned = signEnvelope(a.hub.identity, ROTATION_PURPOSE, statement, now)
    const consentByOther = signEnvelope(a.hub.identity, ROTATION_PURPOSE, { ...statement, newKeySig: consent(other) }, now)
    // mallory signs a's rotation herself, with her own consent
    const signedByAnother = signEnvelope(mallory, ROTATION_PURPOSE, { ...statement, newKeySig: consent(mallory) }, now)
    const forged = [notCountersigned, consentByOther, signedByAnother]
    const before = JSON.stringify(b.hub.federation.directory.doc())

    // a typed refusal where a record is published
    expect(forged.map(f => codeOf(() => b.hub.federation.publishRotation(f)))).toEqual(["SCHEMA_INVALID", "SIGNATURE_INVALID", "WRONG_SIGNER"])
    // a hostile peer presents them in its join, the way a rotated hub presents its chain
    const peer = await rawPeer(b.url, mallory, { peerMetadata: { fedhubRotations: [...forged, "junk", { v: 1 }] } })
    expect(await b.hub.federation.learnRotations(forged, mallory.nodeId)).toEqual([])
    // a valid record is kept only when its chain leads to the node that presents it
    const stray = rotateKey(Identity.generate(), Identity.generate())
    expect(await b.hub.federation.learnRotations([stray], mallory.nodeId)).toEqual([])
    peer.ws.close()

    // nothing changed: b's directory, a's trust, mallory's, the pinned link to a
    expect(JSON.stringify(b.hub.federation.directory.doc())).toBe(before)
    await b.hub.federation.refreshEndorsements()
    const t = b.hub.federation.trust()
    expect(t.levels.get(oldA)?.level).toBe("trusted")
    expect(t.levels.get(mallory.nodeId)?.level).not.toBe("trusted")
    expect(b.hub.federation.successorOf(oldA)).toBe(oldA)
    expect(b.hub.links().find(l => l.remoteNodeId === oldA)?.state).toBe("established")
    expect((await (await fetch(`${b.localUrl}/healthz`)).json()) as { status: string }).toMatchObject({ status: "ok" })
  })

  it("keeps a blocked node blocked when it rotates", async () => {
    const x = await pool.start()
    const b = await pool.start()
    const oldX = x.hub.nodeId
    await linkReaches(x.hub.dial(b.url, b.hub.nodeId), "established")
    await peerOf(b.hub, oldX)
    await b.hub.federation.block(oldX)

    const rotated = await rotateByRest(x)
    expect(rotated.status).toBe(200)
    const newX = (rotated.body as RotationReport).newId
    expect(x.hub.nodeId).toBe(newX)

    // x redials b under its new key and presents its rotation: b learns it and the block carries
    await rotationLearned(b.hub, oldX)
    expect(codeOf(() => b.hub.federation.admitNode(newX as NodeId))).toBe("BLOCKED")
    await b.hub.federation.refreshEndorsements()
    expect(b.hub.federation.trust().rotations).toContainEqual(expect.objectContaining({ oldId: oldX, newId: newX, carried: "blocked" }))
    // the connection that delivered the record is dropped, and x's link is refused from then on
    const net = b.hub.repo.networkSubsystem
    while (b.hub.repo.peers.includes(newX as string as PeerId)) await nextEvent(net, "peer-disconnected", 20_000)
    expect(b.hub.federation.peers().some(p => p.nodeId === newX)).toBe(false)
    expect(b.hub.federation.peers({ blocked: true }).map(p => p.nodeId).sort()).toEqual([oldX, newX].sort())
  })

  it("refuses a second rotation while one is under way", async () => {
    const a = await pool.start()
    const [first, second] = await Promise.all([rotateByRest(a), rotateByRest(a)])
    expect([first.status, second.status].sort()).toEqual([200, 409])
    expect([first.body, second.body].some(b => (b as { code?: string }).code === "ROTATION_UNAVAILABLE")).toBe(true)
  })
})
