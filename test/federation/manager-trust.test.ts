/**
 * FederationManager's trust, reputation and rotation carry-over over a real Repo
 * with no network: observations, forged endorsements and rotations in its directory.
 */
import * as A from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pino from "pino"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { FederationManager, type LinkSummary } from "../../src/federation/FederationManager.ts"
import { endorse, revokeEndorsement } from "../../src/federation/endorsement.ts"
import { PERIOD_MS } from "../../src/federation/reputation.ts"
import { Registry } from "../../src/federation/registry.ts"
import { rotateKey } from "../../src/federation/rotation.ts"
import { canonicalJson, envelopeId, Identity, type NodeId } from "../../src/identity/index.ts"

const id = (n: number, name: string): Identity => Identity.fromSeed(new Uint8Array(32).fill(n), name)
const self = id(31, "self")
const root = id(32, "root")
const alice = id(33, "alice")
const mallory = id(34, "mallory")
const fresh = id(35, "fresh")
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % PERIOD_MS)
const HOUR = PERIOD_MS

let dir: string
let repo: Repo
let linked: Set<string>
let fed: FederationManager

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fedhub-manager-trust-"))
  repo = new Repo({ network: [] })
  linked = new Set()
  fed = await FederationManager.open({
    identity: self,
    repo,
    registryPath: join(dir, "registry.json"),
    settings: {
      federationMode: "open",
      peerExchangeMinTrust: "basic",
      bootstrap: [],
      dnsDomains: [],
      mdns: false,
      endorsementTtlMs: 86_400_000,
    },
    links: {
      dial: () => {},
      hangUp: () => {},
      dropInbound: () => {},
      linkOf: (n: NodeId): LinkSummary | undefined => (linked.has(n) ? { direction: "inbound", state: "established" } : undefined),
    },
    log: pino({ level: "silent" }),
  })
})

afterEach(async () => {
  await fed.close()
  await repo.shutdown()
  await rm(dir, { recursive: true, force: true })
})

describe("reputation from observations over time", () => {
  it("does not rise when a node reconnects 50 times, and is 0 for a node that connected once", async () => {
    await fed.noteProven(alice.nodeId, undefined, T0)
    const once = structuredClone(fed.registry.get(alice.nodeId)!.observed)
    const repOnce = fed.reputation(fed.trust(T0 + 1000), T0 + 1000).get(alice.nodeId)
    for (let i = 1; i <= 50; i++) await fed.noteProven(alice.nodeId, undefined, T0 + i * 1000)
    expect(fed.registry.get(alice.nodeId)!.observed.up).toEqual(once.up)
    expect(repOnce).toBe(0)
    expect(fed.reputation(fed.trust(T0 + 60_000), T0 + 60_000).get(alice.nodeId)).toBe(0)
    // still 0 a day later when the link did not stay up
    expect(fed.reputation(fed.trust(T0 + 25 * HOUR), T0 + 25 * HOUR).get(alice.nodeId)).toBe(0)
  })

  it("gives weight once a link has stayed up over the minimum span, and keeps it after the link fails", async () => {
    linked.add(alice.nodeId)
    await fed.noteProven(alice.nodeId, undefined, T0)
    expect(fed.reputation(fed.trust(T0 + 22 * HOUR), T0 + 22 * HOUR).get(alice.nodeId)).toBe(0)
    const up = fed.reputation(fed.trust(T0 + 24 * HOUR), T0 + 24 * HOUR).get(alice.nodeId)!
    expect(up).toBeGreaterThan(0)
    fed.noteFailure(alice.nodeId, 50, T0 + 24 * HOUR + 1)
    linked.delete(alice.nodeId)
    const node = fed.registry.get(alice.nodeId)!
    expect(node.observed.upSince).toBeUndefined()
    expect(node.observed.down).toEqual([[T0 / HOUR + 24, T0 / HOUR + 24]])
    expect(fed.reputation(fed.trust(T0 + 24 * HOUR + 2), T0 + 24 * HOUR + 2).get(alice.nodeId)).toBeGreaterThan(0)
  })

  it("migrates a registry of old success counters: bought successes count for nothing", async () => {
    const path = join(dir, "old-registry.json")
    const node = { nodeId: alice.nodeId, discoveredBy: [], firstSeen: T0, lastSeen: T0, provenAt: T0, observed: { successes: 5000, failures: 0, uptime: 1 } }
    await writeFile(path, JSON.stringify({ version: 1, nodes: [node] }))
    const reg = await Registry.open(path)
    expect(reg.get(alice.nodeId)!.observed).toEqual({ up: [], down: [] })
  })
})

describe("endorsements and rotations in FederationManager", () => {
  it("keeps a valid endorsement's trust and reputation edge when a forged record with the same pair arrives", async () => {
    await fed.setTrust(root.nodeId, "trusted")
    await fed.noteProven(alice.nodeId)
    const now = Date.now()
    const valid = endorse(root, alice.nodeId, { ttlMs: 86_400_000, now: now - 1000 })
    const forgedEnv = { ...structuredClone(valid), payload: { ...valid.payload, expiresAt: valid.payload.expiresAt + 1 } }
    const key = `${root.nodeId}:${alice.nodeId}`
    const before = fed.directory.doc()
    fed.directory.change(d => {
      d.endorsements[key] = new A.ImmutableString(canonicalJson(valid))
    })
    // a concurrent forged value for the same key, merged in as a peer's change would be
    const branch = A.change(A.clone(before), d => {
      d.endorsements[key] = new A.ImmutableString(canonicalJson(forgedEnv))
    })
    fed.directory.update(d => A.merge(d, branch))
    await fed.refreshEndorsements()
    const t = fed.trust(now)
    expect(t.levels.get(alice.nodeId)).toMatchObject({ level: "verified", via: [root.nodeId] })
    expect(t.refused).toEqual([expect.objectContaining({ issuer: root.nodeId, subject: alice.nodeId, code: "SIGNATURE_INVALID" })])
    expect(fed.ownDirectory().endorsements).toHaveLength(1)
    expect(fed.reputation(t, now).get(alice.nodeId)).toBeGreaterThan(0)
    // without the valid one, the forged record alone confers nothing
    fed.directory.change(d => {
      d.endorsements[key] = new A.ImmutableString(canonicalJson(forgedEnv))
    })
    await fed.refreshEndorsements()
    expect(fed.trust(now).levels.get(alice.nodeId)?.level).not.toBe("verified")
    expect(fed.reputation(fed.trust(now), now).get(alice.nodeId) ?? 0).toBe(0)
  })

  it("carries a blocked node's block, not trust, to its new id", async () => {
    await fed.setTrust(mallory.nodeId, "trusted")
    await fed.block(mallory.nodeId)
    await fed.noteProven(fresh.nodeId)
    fed.publishRotation(rotateKey(mallory, fresh))
    await fed.refreshEndorsements()
    const t = fed.trust()
    expect(t.levels.get(fresh.nodeId)).toMatchObject({ level: "unknown" })
    expect(t.levels.get(fresh.nodeId)!.reason).toContain("blocked")
    expect(t.rotations).toEqual([expect.objectContaining({ oldId: mallory.nodeId, newId: fresh.nodeId, carried: "blocked" })])
    expect(fed.reputation(t).has(fresh.nodeId)).toBe(false)
  })

  it("carries an administrator's trust across a rotation both keys signed, and refuses one without the new key", async () => {
    await fed.setTrust(root.nodeId, "partner")
    expect(() => fed.publishRotation(rotateKey(root, root))).toThrow(/INVALID_INPUT/)
    const r = rotateKey(root, fresh)
    const noConsent = { ...r, payload: { ...r.payload, newId: alice.nodeId, newPublicKey: Buffer.from(alice.publicKey).toString("base64") } }
    expect(() => fed.publishRotation(noConsent)).toThrow(/SIGNATURE_INVALID/)
    fed.publishRotation(r)
    await fed.refreshEndorsements()
    const t = fed.trust()
    expect(t.levels.get(fresh.nodeId)).toMatchObject({ level: "partner" })
    expect(t.levels.get(fresh.nodeId)!.reason).toContain(root.nodeId)
    expect(t.levels.get(alice.nodeId)?.level).not.toBe("partner")
  })

  it("drops an endorsement's trust and reputation edge only for a verified revocation by its issuer", async () => {
    await fed.setTrust(root.nodeId, "trusted")
    await fed.noteProven(alice.nodeId)
    const now = Date.now()
    const valid = endorse(root, alice.nodeId, { ttlMs: 86_400_000, now: now - 2000 })
    const revocation = revokeEndorsement(root, valid, { now: now - 1000 })
    const byMallory = revokeEndorsement(mallory, endorse(mallory, alice.nodeId, { ttlMs: 1000, now: now - 2000 }), { now: now - 1000 })
    const forgedByMallory = { ...byMallory, payload: { ...byMallory.payload, endorsementId: envelopeId(valid) } } // re-pointed after signing
    const key = (r: typeof revocation) => `${r.signer}:${r.payload.subject}:${r.payload.endorsementId}`
    fed.directory.change(d => {
      d.endorsements[`${root.nodeId}:${alice.nodeId}`] = new A.ImmutableString(canonicalJson(valid))
      d.revocations ??= {}
      d.revocations[key(forgedByMallory)] = new A.ImmutableString(canonicalJson(forgedByMallory))
    })
    await fed.refreshEndorsements()
    const kept = fed.trust(now)
    expect(kept.levels.get(alice.nodeId)).toMatchObject({ level: "verified", via: [root.nodeId] })
    expect(kept.refused).toEqual([expect.objectContaining({ issuer: mallory.nodeId, code: "SIGNATURE_INVALID", kind: "revocation" })])
    expect(kept.revoked).toEqual([])
    const repKept = fed.reputation(kept, now).get(alice.nodeId)!
    expect(repKept).toBeGreaterThan(0)
    // root's own revocation, as a peer's directory would carry it
    fed.directory.change(d => {
      d.revocations![key(revocation)] = new A.ImmutableString(canonicalJson(revocation))
    })
    await fed.refreshEndorsements()
    const t = fed.trust(now)
    expect(t.levels.get(alice.nodeId)?.level).toBe("basic")
    expect(t.revoked).toEqual([expect.objectContaining({ envelopeId: envelopeId(valid), revocationId: envelopeId(revocation) })])
    expect(fed.reputation(t, now).get(alice.nodeId) ?? 0).toBe(0)
  })

  it("revokes its own endorsement of a node, refuses when none is left, and re-endorses after it", async () => {
    expect(() => fed.revokeEndorsement(alice.nodeId)).toThrow(/NOT_FOUND/)
    const first = fed.endorse(alice.nodeId)
    const [r, ...more] = fed.revokeEndorsement(alice.nodeId)
    expect(more).toEqual([])
    expect(r).toMatchObject({ signer: self.nodeId, payload: { subject: alice.nodeId, endorsementId: envelopeId(first) } })
    expect(fed.ownDirectory().revocations).toEqual([r])
    expect(() => fed.revokeEndorsement(alice.nodeId)).toThrow(/NOT_FOUND/)
    const renewed = fed.endorse(alice.nodeId)
    expect(renewed.payload.issuedAt).toBeGreaterThanOrEqual(r!.payload.revokedAt) // never covered by the revocation
    expect(fed.ownDirectory().endorsements.map(e => envelopeId(e))).toEqual([envelopeId(renewed)])
    expect(fed.revokeEndorsement(alice.nodeId).map(x => x.payload.endorsementId)).toEqual([envelopeId(renewed)])
  })
})
