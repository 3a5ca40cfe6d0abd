/**
 * The federation core with real hubs: discovery by manual configuration,
 * bootstrap and peer exchange; trust, endorsement and reputation; blocking; and
 * the refusals an administrator must see with a reason.
 */
import "@automerge/automerge-repo"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as A from "@automerge/automerge"
import type { AutomergeUrl } from "@automerge/automerge-repo"
import { Identity, signEnvelope } from "../../src/identity/index.ts"
import { buildDescriptor, DESCRIPTOR_PURPOSE, signDescriptor } from "../../src/federation/descriptor.ts"
import { emptyDirectory, putDescriptor, readDirectory, type DirectoryDoc } from "../../src/federation/directory.ts"
import { rotateKey, verifyRotation } from "../../src/federation/rotation.ts"
import { endorse } from "../../src/federation/endorsement.ts"
import { runDiscovery } from "../../src/federation/discovery/runDiscovery.ts"
import { DnsTxtSource } from "../../src/federation/discovery/dns.ts"
import { verifyCandidate } from "../../src/federation/verifyCandidate.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, nextEvent, startHubs, startTestHub, waitForDoc } from "../helpers/hubs.ts"
import { startTestDnsServer } from "./discovery/dnsServer.ts"
import { rm } from "node:fs/promises"
import { codeOf } from "../identity/helpers.ts"

const settings = { name: "x", type: "hub" as const, federationMode: "open" as const, dataRetentionDays: null }

const descriptorOf = (id: Identity, sequence: number) =>
  signDescriptor(id, buildDescriptor(id, settings, { endpoints: ["ws://127.0.0.1:1/sync"], startedAt: 1, sequence, issuedAt: sequence }))


describe("directory entries", () => {
  it("refuses a forged descriptor", () => {
    const id = Identity.generate("n")
    const env = descriptorOf(id, 1)
    const forged = { ...env, payload: { ...env.payload, name: "someone else" } }
    const doc = emptyDirectory()
    expect(codeOf(() => putDescriptor(doc, forged))).toBe("SIGNATURE_INVALID")
    // a descriptor signed by another key for this node id
    const other = Identity.generate("m")
    const stolen = signEnvelope(other, DESCRIPTOR_PURPOSE, env.payload)
    expect(codeOf(() => putDescriptor(doc, stolen))).toBe("WRONG_SIGNER")
  })

  it("replaces an older descriptor with a newer one and refuses a replayed older one", () => {
    const id = Identity.generate("n")
    let doc = A.from<DirectoryDoc>(emptyDirectory())
    doc = A.change(doc, d => void putDescriptor(d, descriptorOf(id, 5)))
    doc = A.change(doc, d => void putDescriptor(d, descriptorOf(id, 7)))
    expect(readDirectory(doc).nodes[0]!.descriptor.payload.sequence).toBe(7)
    let code = ""
    A.change(doc, d => {
      code = codeOf(() => putDescriptor(d, descriptorOf(id, 6)))
    })
    expect(code).toBe("DESCRIPTOR_REPLAYED")
    // a replay written by a misbehaving hub is refused in the view, with a reason
    const replayed = A.change(doc, d => {
      d.entries[id.nodeId] = new A.ImmutableString(JSON.stringify(descriptorOf(id, 6)))
    })
    const view = readDirectory(replayed, { lastSequence: new Map([[id.nodeId, 7]]) })
    expect(view.nodes).toHaveLength(0)
    expect(view.refused[0]).toMatchObject({ key: id.nodeId, code: "DESCRIPTOR_REPLAYED" })
  })

  it("keeps the newest valid descriptor among concurrent writes and reports the forged one", () => {
    const id = Identity.generate("n")
    const base = A.from<DirectoryDoc>(emptyDirectory())
    const left = A.change(A.clone(base), d => void putDescriptor(d, descriptorOf(id, 3)))
    const right = A.change(A.clone(base), d => {
      const bad = descriptorOf(id, 9)
      d.entries[id.nodeId] = new A.ImmutableString(JSON.stringify({ ...bad, payload: { ...bad.payload, name: "forged" } }))
    })
    const view = readDirectory(A.merge(left, right))
    expect(view.nodes[0]!.descriptor.payload.sequence).toBe(3)
    expect(view.refused.map(r => r.code)).toContain("SIGNATURE_INVALID")
  })

  it("verifies a key rotation signed by the old key and refuses one signed by another", () => {
    const oldKey = Identity.generate("old")
    const newKey = Identity.generate("new")
    expect(verifyRotation(rotateKey(oldKey, newKey)).payload.newId).toBe(newKey.nodeId)
    const r = rotateKey(newKey, oldKey)
    const tampered = { ...r, payload: { ...r.payload, oldId: Identity.generate("x").nodeId } }
    expect(codeOf(() => verifyRotation(tampered))).toBe("WRONG_SIGNER")
  })
})

/**
 * Every case starts from three fresh hubs (c bootstraps from a) and builds the rest of
 * the state it needs itself, so the cases pass in any order (`--sequence.shuffle`).
 */
describe("a federation of three hubs", () => {
  let stopAll: () => Promise<void>
  let a: RunningHub, b: RunningHub, c: RunningHub

  beforeEach(async () => {
    const started = await startHubs(2)
    ;[a, b] = started.hubs as [RunningHub, RunningHub]
    c = await startTestHub({ flags: { peers: [a.url] } }) // a is c's bootstrap node
    started.hubs.push(c)
    stopAll = started.stopAll
  })
  afterEach(() => stopAll())

  /** a knows b by manual configuration; c found a (bootstrap) and b (peer exchange from a) and linked both. */
  async function federate(): Promise<void> {
    await a.hub.federation.addPeer(b.url)
    await c.hub.federation.discover({ timeoutMs: 2_000 })
    const replica = await c.hub.repo.find<DirectoryDoc>(a.hub.federation.directory.url as AutomergeUrl)
    await waitForDoc(replica, d => Boolean(d.entries?.[b.hub.nodeId]))
    const second = await c.hub.federation.discover({ timeoutMs: 2_000 })
    expect(second.candidates.find(x => x.nodeId === b.hub.nodeId)?.status).toBe("verified")
  }

  it("finds hubs by manual configuration, bootstrap and peer exchange, each verified", async () => {
    const added = await a.hub.federation.addPeer(b.url)
    expect(added.nodeId).toBe(b.hub.nodeId)
    expect(a.hub.federation.registry.get(b.hub.nodeId)?.discoveredBy).toContain("manual_configuration")

    const first = await c.hub.federation.discover({ timeoutMs: 2_000 })
    expect(first.candidates.find(x => x.nodeId === a.hub.nodeId)).toMatchObject({ status: "verified", methods: ["bootstrap_nodes"] })

    // c now holds a's directory (synced over the link): b is learned from it
    const aDirectoryUrl = a.hub.federation.directory.url
    const replica = await c.hub.repo.find<DirectoryDoc>(aDirectoryUrl as AutomergeUrl)
    await waitForDoc(replica, d => Boolean(d.entries?.[b.hub.nodeId]))
    const second = await c.hub.federation.discover({ timeoutMs: 2_000 })
    const viaPx = second.candidates.find(x => x.nodeId === b.hub.nodeId)
    expect(viaPx).toMatchObject({ status: "verified" })
    expect(viaPx!.methods).toContain("peer_exchange")
    expect(second.methods.map(m => m.method).sort()).toEqual(["bootstrap_nodes", "manual_configuration", "peer_exchange"])
    expect(c.hub.federation.registry.get(b.hub.nodeId)?.discoveredBy).toContain("peer_exchange")
  })

  it("accepts peer exchange only from hubs at or above the configured trust level", async () => {
    await a.hub.federation.addPeer(b.url) // b is in a's directory, for d to learn by peer exchange
    const d = await startTestHub({ flags: { peers: [a.url], discovery: { peerExchangeMinTrust: "trusted" } } })
    try {
      await d.hub.federation.discover({ timeoutMs: 2_000 }) // bootstrap: a is now known (basic)
      const replica = await d.hub.repo.find<DirectoryDoc>(a.hub.federation.directory.url as AutomergeUrl)
      await waitForDoc(replica, doc => Boolean(doc.entries?.[b.hub.nodeId]))
      const low = await d.hub.federation.discover({ timeoutMs: 2_000, connect: false })
      expect(low.candidates.some(x => x.nodeId === b.hub.nodeId)).toBe(false)
      const px = low.methods.find(m => m.method === "peer_exchange")!
      expect(px.problems).toContainEqual(expect.objectContaining({ source: a.hub.nodeId, code: "UNTRUSTED_ENDORSER" }))

      await d.hub.federation.setTrust(a.hub.nodeId, "trusted")
      const high = await d.hub.federation.discover({ timeoutMs: 2_000, connect: false })
      expect(high.candidates.find(x => x.nodeId === b.hub.nodeId)).toMatchObject({ status: "verified", methods: ["peer_exchange"] })
    } finally {
      await d.stop()
      await rm(d.paths.home, { recursive: true, force: true })
    }
  })

  it("lists peers with verified descriptors, trust, reputation and link state", async () => {
    await federate()
    await c.hub.federation.refreshEndorsements()
    const peers = c.hub.federation.peers()
    const ids = peers.map(p => p.nodeId)
    expect(ids.sort()).toEqual([a.hub.nodeId, b.hub.nodeId].sort())
    const pa = peers.find(p => p.nodeId === a.hub.nodeId)!
    expect(pa.trust).toBe("basic")
    // the view shows this hub's computed score (how it is computed is reputation.test.ts's business)
    const score = c.hub.federation.reputation().get(a.hub.nodeId)
    expect(score).toBeTypeOf("number")
    expect(pa.reputation).toBe(Number(score!.toFixed(4)))
    // c dialed a, its bootstrap node, when it started
    expect(pa.link).toMatchObject({ direction: "outbound", state: "established" })
    expect(pa.descriptor).toMatchObject({ id: a.hub.nodeId, name: a.hub.config.name, type: "hub" })
    const view = c.hub.federation.ownDirectory()
    expect(view.nodes.find(n => n.nodeId === a.hub.nodeId)?.descriptor.payload.name).toBe(a.hub.config.name)
  })

  it("learns the verified descriptor of a hub that connected to it", async () => {
    // c dialed a (its bootstrap node): a learns c's descriptor from the directory c announced
    const deadline = Date.now() + 10_000
    while (!a.hub.federation.ownDirectory().nodes.some(n => n.nodeId === c.hub.nodeId) && Date.now() < deadline)
      await new Promise(resolve => a.hub.federation.directory.once("change", resolve))
    const entry = a.hub.federation.ownDirectory().nodes.find(n => n.nodeId === c.hub.nodeId)
    expect(entry?.descriptor.payload.connectivity.endpoints[0]?.url).toBe(`wss://${new URL(c.url).host}/sync`)
    expect(a.hub.federation.registry.get(c.hub.nodeId)?.url).toBe(c.url)
  })

  it("makes a node verified by an endorsement from a trusted hub, and not from an untrusted one", async () => {
    await federate()
    // b endorses a: b is only basic on c, so it confers nothing
    b.hub.federation.endorse(a.hub.nodeId)
    // a endorses b; once c trusts a, b becomes verified on c
    a.hub.federation.endorse(b.hub.nodeId)
    const aDir = await c.hub.repo.find<DirectoryDoc>(a.hub.federation.directory.url as AutomergeUrl)
    await waitForDoc(aDir, d => Boolean(d.endorsements?.[`${a.hub.nodeId}:${b.hub.nodeId}`]))
    const bDir = await c.hub.repo.find<DirectoryDoc>(b.hub.federation.directory.url as AutomergeUrl)
    await waitForDoc(bDir, d => Boolean(d.endorsements?.[`${b.hub.nodeId}:${a.hub.nodeId}`]))

    await c.hub.federation.refreshEndorsements()
    expect(c.hub.federation.trust().levels.get(b.hub.nodeId)?.level).toBe("basic")
    const refusedBefore = c.hub.federation.trust().refused
    expect(refusedBefore.some(r => r.code === "UNTRUSTED_ENDORSER")).toBe(true)

    await c.hub.federation.setTrust(a.hub.nodeId, "trusted")
    const t = c.hub.federation.trust()
    expect(t.levels.get(a.hub.nodeId)?.level).toBe("trusted")
    expect(t.levels.get(b.hub.nodeId)).toMatchObject({ level: "verified", via: [a.hub.nodeId] })
  })

  it("carries an administrator's trust across a key rotation signed by the old key", async () => {
    await federate()
    await c.hub.federation.setTrust(a.hub.nodeId, "trusted")
    const next = Identity.generate("a-next")
    a.hub.federation.publishRotation(rotateKey(a.hub.identity, next))
    const aDir = await c.hub.repo.find<DirectoryDoc>(a.hub.federation.directory.url as AutomergeUrl)
    await waitForDoc(aDir, d => Boolean(d.rotations?.[a.hub.nodeId]))
    await c.hub.federation.refreshEndorsements()
    expect(c.hub.federation.trust().levels.get(next.nodeId)?.level).toBe("trusted")
    // a rotation not signed by the old key is refused when published
    const forged = rotateKey(next, Identity.generate("x"))
    const lie = { ...forged, payload: { ...forged.payload, oldId: b.hub.nodeId } }
    expect(() => a.hub.federation.publishRotation(lie)).toThrow(/WRONG_SIGNER|SIGNATURE_INVALID/)
  })

  it("refuses an expired endorsement with a reason", async () => {
    await federate()
    const subject = Identity.generate("late")
    const expired = endorse(a.hub.identity, subject.nodeId, { ttlMs: 1_000, now: Date.now() - 60_000 })
    a.hub.federation.directory.change(d => {
      d.endorsements[`${a.hub.nodeId}:${subject.nodeId}`] = new A.ImmutableString(JSON.stringify(expired))
    })
    const aDir = await c.hub.repo.find<DirectoryDoc>(a.hub.federation.directory.url as AutomergeUrl)
    await waitForDoc(aDir, d => Boolean(d.endorsements?.[`${a.hub.nodeId}:${subject.nodeId}`]))
    await c.hub.federation.refreshEndorsements()
    const refused = c.hub.federation.trust().refused.find(r => r.subject === subject.nodeId)
    expect(refused?.code).toBe("ENDORSEMENT_EXPIRED")
    expect(refused?.issuer).toBe(a.hub.nodeId)
  })

  it("blocks a node at the handshake and leaves it out of every view until unblocked", async () => {
    await federate()
    const bId = b.hub.nodeId
    await c.hub.federation.block(bId)
    expect(c.hub.federation.peers().map(p => p.nodeId)).not.toContain(bId)
    expect(c.hub.federation.peers({ blocked: true }).map(p => p.nodeId)).toEqual([bId])
    expect(c.hub.federation.ownDirectory().nodes.map(n => n.nodeId)).not.toContain(bId)
    expect(c.hub.links().some(l => l.remoteNodeId === bId)).toBe(false)

    // b dialing c is refused before any sync, with the reason
    const link = b.hub.dial(c.url, c.hub.nodeId)
    await linkReaches(link, "offline")
    expect(link.lastError?.code).toBe("BLOCKED")
    b.hub.hangUp(c.url)

    await c.hub.federation.unblock(bId)
    expect(c.hub.federation.peers().map(p => p.nodeId)).toContain(bId)
    expect(c.hub.federation.ownDirectory().nodes.map(n => n.nodeId)).toContain(bId)
  })

  it("refuses a DNS record whose key does not match the node that answers", async () => {
    const impostorId = Identity.generate("claimed").nodeId
    const dns = await startTestDnsServer({
      "_fedhub._tcp.good.test": [`v=fedhub1 id=${b.hub.nodeId} url=${b.url}`],
      "_fedhub._tcp.bad.test": [`v=fedhub1 id=${impostorId} url=${a.url}`],
    })
    try {
      const report = await runDiscovery([new DnsTxtSource({ domains: ["good.test", "bad.test"], servers: [dns.address] })], {
        verify: cand => verifyCandidate(c.hub.identity, cand),
      })
      expect(report.candidates.find(x => x.claimedId === b.hub.nodeId)?.status).toBe("verified")
      const bad = report.candidates.find(x => x.claimedId === impostorId)
      expect(bad).toMatchObject({ status: "refused", code: "KEY_MISMATCH" })
      expect(bad!.reason).toContain(a.hub.nodeId)
    } finally {
      await dns.close()
    }
  })
})

describe("allowlist mode", () => {
  it("admits only nodes an administrator added or trusts", async () => {
    const strict = await startTestHub({ flags: { federationMode: "allowlist" } })
    const stranger = await startTestHub()
    try {
      const link = stranger.hub.dial(strict.url, strict.hub.nodeId)
      await linkReaches(link, "offline")
      expect(link.lastError?.code).toBe("NOT_ALLOWED")
      stranger.hub.hangUp(strict.url)
      await strict.hub.federation.setTrust(stranger.hub.nodeId, "partner")
      const again = stranger.hub.dial(strict.url, strict.hub.nodeId)
      await linkReaches(again, "established")
    } finally {
      for (const h of [stranger, strict]) {
        await h.stop()
        await rm(h.paths.home, { recursive: true, force: true })
      }
    }
  })
})

describe("negotiated connections", () => {
  it("refuses a hub whose retention policy is incompatible, saying why, and agrees with a compatible one", async () => {
    const strict = await startTestHub({ flags: { maxPeerRetentionDays: 30 } })
    const forever = await startTestHub() // keeps data forever (dataRetentionDays: null)
    const brief = await startTestHub({ flags: { dataRetentionDays: 7, heartbeatMs: 50 } })
    try {
      const refused = forever.hub.dial(strict.url, strict.hub.nodeId)
      await linkReaches(refused, "offline")
      expect(refused.lastError?.code).toBe("NEGOTIATION_FAILED")
      expect(refused.lastError?.detail).toContain("retention")
      forever.hub.hangUp(strict.url)

      const ok = brief.hub.dial(strict.url, strict.hub.nodeId)
      await linkReaches(ok, "established")
      expect(ok.agreement?.protocolVersion).toBe("fedhub/1")
      expect(ok.agreement?.capabilities).toContain("sync")
      // heartbeats measure latency, shown in the peers view
      const [rtt] = (await nextEvent<[number]>(ok.events, "pong")) // the link's first round trip
      const view = brief.hub.federation.peers().find(p => p.nodeId === strict.hub.nodeId)
      expect(view?.link).toMatchObject({ direction: "outbound", state: "established" })
      expect(rtt).toBeGreaterThan(0)
      expect(ok.metrics.pongsReceived).toBe(1)
      expect(view?.link?.latencyMs).toBe(rtt) // the average of one sample is that sample
      expect(view?.link?.uptimePct).toBeGreaterThan(0)
    } finally {
      for (const h of [brief, forever, strict]) {
        await h.stop()
        await rm(h.paths.home, { recursive: true, force: true })
      }
    }
  })
})
