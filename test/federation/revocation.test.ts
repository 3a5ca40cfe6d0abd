/**
 * Endorsement revocation: only a verified revocation by an endorsement's issuer removes it
 * (trust level and reputation edge); forged, altered or foreign revocations are refused,
 * listed, and change nothing; re-endorsing after a revocation works. Pure functions first,
 * then the directory document, then FederationManager, then two real hubs.
 */
import * as A from "@automerge/automerge"
import type { AutomergeUrl } from "@automerge/automerge-repo"
import { describe, expect, it } from "vitest"
import { emptyDirectory, putEndorsement, putRevocation, readDirectory, revocationKey, type DirectoryDoc } from "../../src/federation/directory.ts"
import { endorse, ENDORSEMENT_PURPOSE, REVOCATION_PURPOSE, revokeEndorsement, verifyRevocation } from "../../src/federation/endorsement.ts"
import { computeTrust, type AdminLevel, type TrustInput } from "../../src/federation/trust.ts"
import { canonicalJson, envelopeId, Identity, signEnvelope, type NodeId } from "../../src/identity/index.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { codeOf } from "../identity/helpers.ts"
import { startHubs, waitForDoc } from "../helpers/hubs.ts"

const id = (n: number, name: string): Identity => Identity.fromSeed(new Uint8Array(32).fill(n), name)
const root = id(41, "root")
const alice = id(42, "alice")
const bob = id(43, "bob")
const mallory = id(44, "mallory")
const carol = id(45, "carol")
const NOW = 1_700_000_000_000
const DAY = 86_400_000
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T
const by = (issuer: Identity, subject: Identity, at = NOW - 10_000) => wire(endorse(issuer, subject.nodeId, { ttlMs: DAY, now: at }))
const revoke = (issuer: Identity, e: unknown, at = NOW - 5000) => wire(revokeEndorsement(issuer, e, { now: at }))

const everyone = [root, alice, bob, mallory, carol].map(i => i.nodeId)
const trust = (over: Partial<TrustInput> = {}) =>
  computeTrust({
    nodes: everyone,
    adminLevels: new Map<NodeId, AdminLevel>([[root.nodeId, "trusted"]]),
    proven: new Set<NodeId>([alice.nodeId, bob.nodeId]),
    endorsements: [],
    now: NOW,
    ...over,
  })

describe("revocation records", () => {
  it("are signed by the endorsement's issuer, name its subject and envelope id, and verify after a JSON round trip", () => {
    const e = by(root, alice)
    const r = revoke(root, e)
    expect(r.purpose).toBe(REVOCATION_PURPOSE)
    expect(r.signer).toBe(root.nodeId)
    expect(r.payload).toEqual({ subject: alice.nodeId, endorsementId: envelopeId(e), revokedAt: NOW - 5000 })
    expect(verifyRevocation(r, { now: NOW })).toEqual(r)
  })

  it("cannot be issued by anyone but the issuer, nor before the endorsement", () => {
    const e = by(root, alice)
    expect(codeOf(() => revokeEndorsement(alice, e, { now: NOW }))).toBe("WRONG_SIGNER")
    expect(codeOf(() => revokeEndorsement(mallory, e, { now: NOW }))).toBe("WRONG_SIGNER")
    expect(codeOf(() => revokeEndorsement(root, e, { now: NOW - 20_000 }))).toBe("INVALID_INPUT")
    expect(codeOf(() => revokeEndorsement(root, { ...e, sig: wire(by(root, bob)).sig }, { now: NOW }))).toBe("SIGNATURE_INVALID")
  })

  it("are refused when altered, signed for another purpose, self-revoking or dated ahead", () => {
    const e = by(root, alice)
    const r = revoke(root, e)
    expect(codeOf(() => verifyRevocation({ ...r, payload: { ...r.payload, subject: bob.nodeId } }, { now: NOW }))).toBe("SIGNATURE_INVALID")
    expect(codeOf(() => verifyRevocation(signEnvelope(root, ENDORSEMENT_PURPOSE, r.payload, NOW), { now: NOW }))).toBe("WRONG_PURPOSE")
    expect(codeOf(() => verifyRevocation(e, { now: NOW }))).toBe("WRONG_PURPOSE")
    const self = signEnvelope(alice, REVOCATION_PURPOSE, { subject: alice.nodeId, endorsementId: envelopeId(e), revokedAt: NOW }, NOW)
    expect(codeOf(() => verifyRevocation(self, { now: NOW }))).toBe("SELF_ENDORSEMENT")
    expect(codeOf(() => verifyRevocation(revoke(root, e, NOW + 10 * 60_000), { now: NOW }))).toBe("STALE_TIMESTAMP")
    expect(codeOf(() => verifyRevocation({ ...r, payload: { ...r.payload, extra: 1 } }, { now: NOW }))).toBe("SIGNATURE_INVALID")
    const bad = signEnvelope(root, REVOCATION_PURPOSE, { subject: alice.nodeId, endorsementId: "x", revokedAt: NOW }, NOW)
    expect(codeOf(() => verifyRevocation(bad, { now: NOW }))).toBe("SCHEMA_INVALID")
  })
})

describe("computeTrust with revocations", () => {
  const rootAlice = by(root, alice)
  const aliceBob = by(alice, bob)

  it("a revoked endorsement no longer makes its subject verified nor counts as accepted, and breaks chains through it", () => {
    const before = trust({ endorsements: [rootAlice, aliceBob] })
    expect(before.levels.get(alice.nodeId)?.level).toBe("verified")
    expect(before.levels.get(bob.nodeId)?.level).toBe("verified")
    const r = revoke(root, rootAlice)
    const after = trust({ endorsements: [rootAlice, aliceBob], revocations: [r] })
    expect(after.levels.get(alice.nodeId)).toMatchObject({ level: "basic" })
    expect(after.levels.get(alice.nodeId)!.reason).toContain("revoked")
    expect(after.levels.get(bob.nodeId)?.level).toBe("basic")
    expect(after.accepted.map(a => a.envelopeId)).not.toContain(envelopeId(rootAlice))
    expect(after.revoked).toEqual([
      { envelopeId: envelopeId(rootAlice), issuer: root.nodeId, subject: alice.nodeId, revocationId: envelopeId(r), revokedAt: NOW - 5000 },
    ])
    // alice → bob is no longer accepted (alice is not verified), but it is not revoked either
    expect(after.refused).toContainEqual(expect.objectContaining({ envelopeId: envelopeId(aliceBob), code: "UNTRUSTED_ENDORSER" }))
    expect(after.refused.filter(x => x.kind === "revocation")).toEqual([])
  })

  it("a revocation signed by another node or by the subject is refused, listed, and changes nothing", () => {
    const byMallory = signEnvelope(mallory, REVOCATION_PURPOSE, { subject: alice.nodeId, endorsementId: envelopeId(rootAlice), revokedAt: NOW }, NOW)
    const bySubject = signEnvelope(alice, REVOCATION_PURPOSE, { subject: carol.nodeId, endorsementId: envelopeId(rootAlice), revokedAt: NOW }, NOW)
    const wrongSubject = signEnvelope(root, REVOCATION_PURPOSE, { subject: carol.nodeId, endorsementId: envelopeId(rootAlice), revokedAt: NOW }, NOW)
    const baseline = trust({ endorsements: [rootAlice, aliceBob] })
    const t = trust({ endorsements: [rootAlice, aliceBob], revocations: [byMallory, bySubject, wrongSubject] })
    expect(t.levels).toEqual(baseline.levels)
    expect(t.accepted).toEqual(baseline.accepted)
    expect(t.revoked).toEqual([])
    const refusedRevocations = t.refused.filter(x => x.kind === "revocation").map(x => [x.envelopeId, x.issuer, x.code])
    expect(refusedRevocations.sort()).toEqual(
      [
        [envelopeId(byMallory), mallory.nodeId, "WRONG_SIGNER"],
        [envelopeId(bySubject), alice.nodeId, "WRONG_SIGNER"],
        [envelopeId(wrongSubject), root.nodeId, "WRONG_SUBJECT"],
      ].sort(),
    )
  })

  it("a forged or altered revocation of a real one is refused and changes nothing", () => {
    const r = revoke(root, rootAlice)
    const altered = { ...r, payload: { ...r.payload, revokedAt: NOW - 1 } }
    const t = trust({ endorsements: [rootAlice], revocations: [altered, "garbage", { ...r, purpose: "fedhub/other/v1" }] })
    expect(t.levels.get(alice.nodeId)?.level).toBe("verified")
    expect(t.revoked).toEqual([])
    expect(t.refused.filter(x => x.kind === "revocation").map(x => x.code).sort()).toEqual(["INVALID_INPUT", "SIGNATURE_INVALID", "WRONG_PURPOSE"])
  })

  it("a newer endorsement issued at or after the revocation is valid again; an older one replayed is not", () => {
    const older = by(root, alice, NOW - 20_000)
    const r = revoke(root, rootAlice, NOW - 5000)
    const renewed = by(root, alice, NOW - 5000)
    const replay = trust({ endorsements: [older, rootAlice], revocations: [r] })
    expect(replay.levels.get(alice.nodeId)?.level).toBe("basic")
    expect(replay.revoked.map(x => x.envelopeId).sort()).toEqual([envelopeId(older), envelopeId(rootAlice)].sort())
    const again = trust({ endorsements: [older, rootAlice, renewed], revocations: [r] })
    expect(again.levels.get(alice.nodeId)).toMatchObject({ level: "verified", via: [root.nodeId] })
    expect(again.accepted.map(a => a.envelopeId)).toEqual([envelopeId(renewed)])
  })

  it("does not depend on the order of endorsements and revocations", () => {
    const r1 = revoke(root, rootAlice)
    const r2 = revoke(root, rootAlice, NOW - 4000)
    const forged = { ...r1, payload: { ...r1.payload, subject: bob.nodeId } }
    const a = trust({ endorsements: [rootAlice, aliceBob], revocations: [r1, r2, forged] })
    const b = trust({ endorsements: [aliceBob, rootAlice], revocations: [forged, r2, r1] })
    expect(b).toEqual(a)
    expect(a.revoked).toEqual([expect.objectContaining({ revocationId: envelopeId(r1) })]) // the earliest one
  })
})

describe("revocations in the directory", () => {
  const e = by(root, alice)
  const r = revoke(root, e)
  const key = revocationKey(r)
  const withEndorsement = () => A.change(A.from<DirectoryDoc>(emptyDirectory()), d => void putEndorsement(d, e, { now: NOW }))
  const put = (doc: A.Doc<DirectoryDoc>, env: unknown) => A.change(doc, d => void putRevocation(d, env, { now: NOW }))
  const raw = (doc: A.Doc<DirectoryDoc>, k: string, v: unknown) =>
    A.change(doc, d => {
      d.revocations ??= {}
      d.revocations[k] = new A.ImmutableString(typeof v === "string" ? v : canonicalJson(v))
    })

  it("stores a verified revocation under issuer:subject:endorsementId and returns it from the view", () => {
    const doc = put(put(withEndorsement(), r), r) // the second put is a no-op
    expect(key).toBe(`${root.nodeId}:${alice.nodeId}:${envelopeId(e)}`)
    expect(Object.keys(doc.revocations!)).toEqual([key])
    const view = readDirectory(doc, { now: NOW })
    expect(view.revocations).toEqual([r])
    expect(view.refused).toEqual([])
  })

  it("refuses to store a forged revocation or one by a node that did not issue the named endorsement", () => {
    const doc = withEndorsement()
    expect(codeOf(() => put(doc, { ...r, payload: { ...r.payload, revokedAt: NOW } }))).toBe("SIGNATURE_INVALID")
    const byMallory = signEnvelope(mallory, REVOCATION_PURPOSE, { subject: alice.nodeId, endorsementId: envelopeId(e), revokedAt: NOW }, NOW)
    expect(codeOf(() => put(doc, byMallory))).toBe("WRONG_SIGNER")
    const wrongSubject = signEnvelope(root, REVOCATION_PURPOSE, { subject: bob.nodeId, endorsementId: envelopeId(e), revokedAt: NOW }, NOW)
    expect(codeOf(() => put(doc, wrongSubject))).toBe("WRONG_SUBJECT")
    expect(readDirectory(doc, { now: NOW }).revocations).toEqual([])
  })

  it("lists a forged revocation merged into a directory under refused, and keeps the valid one beside it", () => {
    const base = withEndorsement()
    const left = put(A.clone(base), r)
    const right = raw(A.clone(base), key, { ...r, payload: { ...r.payload, revokedAt: NOW - 1 } })
    for (const merged of [A.merge(A.clone(left), right), A.merge(A.clone(right), left)]) {
      const view = readDirectory(merged, { now: NOW })
      expect(view.revocations.map(x => envelopeId(x))).toEqual([envelopeId(r)])
      expect(view.refused).toEqual([
        expect.objectContaining({ key: `revocation:${key}`, code: "SIGNATURE_INVALID", issuer: root.nodeId, subject: alice.nodeId }),
      ])
    }
    // the forged one alone: refused, nothing returned
    const alone = readDirectory(raw(withEndorsement(), key, { ...r, sig: wire(by(root, bob)).sig }), { now: NOW })
    expect(alone.revocations).toEqual([])
    expect(alone.refused.map(x => [x.key, x.code])).toEqual([[`revocation:${key}`, "SIGNATURE_INVALID"]])
  })

  it("refuses a misfiled record, garbage and a bad key, and reads a directory made before revocations", () => {
    let doc = withEndorsement()
    doc = raw(doc, `${mallory.nodeId}:${alice.nodeId}:${envelopeId(e)}`, r)
    doc = raw(doc, `${root.nodeId}:${bob.nodeId}:${"0".repeat(64)}`, "{not json")
    doc = raw(doc, "nonsense", r)
    const view = readDirectory(doc, { now: NOW })
    expect(view.revocations).toEqual([])
    expect(view.refused.map(x => [x.key, x.code]).sort()).toEqual(
      [
        [`revocation:${mallory.nodeId}:${alice.nodeId}:${envelopeId(e)}`, "WRONG_SIGNER"],
        [`revocation:${root.nodeId}:${bob.nodeId}:${"0".repeat(64)}`, "INVALID_INPUT"],
        ["revocation:nonsense", "INVALID_INPUT"],
      ].sort(),
    )
    const old = A.from<DirectoryDoc>({ entries: {}, rotations: {}, endorsements: {} })
    expect(readDirectory(old, { now: NOW }).revocations).toEqual([])
    expect(readDirectory(put(old, r), { now: NOW }).revocations).toEqual([r])
  })
})

/**
 * Hub a endorses hub c; hub b trusts a, links to a and c, and reads a's directory as it
 * replicates. When a revokes, b's view drops the endorsement; when a re-endorses, it is back.
 */
describe("revocation across two hubs", () => {
  it("b stops counting a's endorsement of c once a revokes it (REST), and counts a new one", async () => {
    const { hubs, stopAll } = await startHubs(3)
    const [a, b, c] = hubs as [RunningHub, RunningHub, RunningHub]
    try {
      await b.hub.federation.addPeer(a.url)
      await b.hub.federation.addPeer(c.url)
      await b.hub.federation.setTrust(a.hub.nodeId, "trusted")
      const fed = b.hub.federation
      const aDir = await b.hub.repo.find<DirectoryDoc>(a.hub.federation.directory.url as AutomergeUrl)
      const pair = `${a.hub.nodeId}:${c.hub.nodeId}`

      const first = a.hub.federation.endorse(c.hub.nodeId)
      await waitForDoc(aDir, d => d.endorsements?.[pair] !== undefined)
      await fed.refreshEndorsements()
      const before = fed.trust()
      expect(before.levels.get(c.hub.nodeId)).toMatchObject({ level: "verified", via: [a.hub.nodeId] })
      expect(before.accepted.map(x => x.envelopeId)).toContain(envelopeId(first))
      const repBefore = fed.reputation(before).get(c.hub.nodeId)!
      expect(repBefore).toBeGreaterThan(0)

      const res = await fetch(`${a.localUrl}/api/endorse/${c.hub.nodeId}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${a.hub.adminToken}` },
      })
      expect(res.status).toBe(200)
      const body = (await res.json()) as { nodeId: string; revocations: { signer: string; payload: { endorsementId: string } }[] }
      expect(body.revocations.map(x => [x.signer, x.payload.endorsementId])).toEqual([[a.hub.nodeId, envelopeId(first)]])

      await waitForDoc(aDir, d => Object.keys(d.revocations ?? {}).some(k => k.startsWith(`${pair}:`)))
      await fed.refreshEndorsements()
      const after = fed.trust()
      expect(after.levels.get(c.hub.nodeId)?.level).toBe("basic")
      expect(after.revoked).toEqual([expect.objectContaining({ envelopeId: envelopeId(first), issuer: a.hub.nodeId, subject: c.hub.nodeId })])
      expect(after.accepted.some(x => x.subject === c.hub.nodeId)).toBe(false)
      expect(fed.reputation(after).get(c.hub.nodeId) ?? 0).toBeLessThan(repBefore)

      // nothing left to revoke on a; a new endorsement makes c verified on b again
      const again = await fetch(`${a.localUrl}/api/endorse/${c.hub.nodeId}`, { method: "DELETE", headers: { authorization: `Bearer ${a.hub.adminToken}` } })
      expect(again.status).toBe(404)
      const renewed = a.hub.federation.endorse(c.hub.nodeId)
      await waitForDoc(aDir, d => d.endorsements?.[pair] !== undefined && String(d.endorsements[pair]).includes(renewed.sig))
      await fed.refreshEndorsements()
      expect(fed.trust().levels.get(c.hub.nodeId)).toMatchObject({ level: "verified", via: [a.hub.nodeId] })
    } finally {
      await stopAll()
    }
  }, 60_000)
})

describe("fedhub trust show", () => {
  it("prints a revoked endorsement with issuer, subject, id and time", async () => {
    const { revokedLine } = await import("../../src/cli/federationCommands.ts")
    const line = revokedLine({ envelopeId: "ab".repeat(32), issuer: root.nodeId, subject: alice.nodeId, revokedAt: NOW })
    expect(line).toBe(`revoked endorsement: ${root.nodeId} → ${alice.nodeId} (${"ab".repeat(6)}…) at ${new Date(NOW).toISOString()}`)
  })
})
