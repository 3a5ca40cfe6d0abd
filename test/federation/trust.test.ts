import { describe, expect, it } from "vitest"
import { FedhubError } from "../../src/errors.ts"
import {
  ENDORSEMENT_PURPOSE,
  endorse,
  verifyEndorsement,
} from "../../src/federation/endorsement.ts"
import {
  atLeast,
  compareTrust,
  computeTrust,
  mergeRefused,
  TRUST_ORDER,
  type AdminLevel,
  type TrustInput,
} from "../../src/federation/trust.ts"
import {
  envelopeId,
  Identity,
  signEnvelope,
  toBase64,
  type NodeId,
  type SignedEnvelope,
} from "../../src/identity/index.ts"
import type { Endorsement } from "../../src/schema/index.ts"
import { codeOf } from "../identity/helpers.ts"

const id = (n: number, name: string): Identity => Identity.fromSeed(new Uint8Array(32).fill(n), name)
const root = id(1, "root")
const alice = id(2, "alice")
const bob = id(3, "bob")
const carol = id(4, "carol")
const mallory = id(5, "mallory")
const dave = id(6, "dave")

const NOW = 1_700_000_000_000
const DAY = 86_400_000
/** A JSON round trip, as an envelope arrives from a peer. */
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T
const by = (issuer: Identity, subject: Identity, at = NOW - 1000, ttlMs = DAY) =>
  wire(endorse(issuer, subject.nodeId, { ttlMs, now: at }))

const everyone = [root, alice, bob, carol, mallory, dave].map((i) => i.nodeId)
const trust = (over: Partial<TrustInput> = {}) =>
  computeTrust({
    nodes: everyone,
    adminLevels: new Map<NodeId, AdminLevel>([[root.nodeId, "trusted"]]),
    proven: new Set<NodeId>(),
    endorsements: [],
    now: NOW,
    ...over,
  })

describe("trust levels order", () => {
  it("ranks unknown < basic < verified < trusted < partner", () => {
    expect(TRUST_ORDER).toEqual(["unknown", "basic", "verified", "trusted", "partner"])
    expect(compareTrust("basic", "verified")).toBeLessThan(0)
    expect(compareTrust("partner", "trusted")).toBeGreaterThan(0)
    expect(compareTrust("verified", "verified")).toBe(0)
    expect(atLeast("trusted", "verified")).toBe(true)
    expect(atLeast("basic", "verified")).toBe(false)
  })
})

describe("endorsements", () => {
  it("carry the subject's key and a validity window, and verify after a JSON round trip", () => {
    const env = by(root, alice)
    expect(env.purpose).toBe(ENDORSEMENT_PURPOSE)
    expect(env.signer).toBe(root.nodeId)
    expect(env.payload).toEqual({
      subject: alice.nodeId,
      subjectPublicKey: toBase64(alice.publicKey),
      level: "verified",
      issuedAt: NOW - 1000,
      expiresAt: NOW - 1000 + DAY,
    })
    expect(verifyEndorsement(env, { now: NOW, subject: alice.nodeId })).toEqual(env)
  })

  it("cannot be issued by a node for itself", () => {
    expect(codeOf(() => endorse(alice, alice.nodeId, { ttlMs: DAY }))).toBe("SELF_ENDORSEMENT")
  })

  it("are refused once expired, naming the expiry time", () => {
    const env = by(root, alice, NOW - 2 * DAY)
    let err: unknown
    try {
      verifyEndorsement(env, { now: NOW })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(FedhubError)
    expect((err as FedhubError).code).toBe("ENDORSEMENT_EXPIRED")
    expect((err as FedhubError).detail).toContain(new Date(NOW - DAY).toISOString())
  })

  it("are refused when issued more than five minutes in the future", () => {
    expect(codeOf(() => verifyEndorsement(by(root, alice, NOW + 10 * 60_000), { now: NOW }))).toBe("STALE_TIMESTAMP")
    expect(codeOf(() => verifyEndorsement(by(root, alice, NOW + 60_000), { now: NOW }))).toBe("no error")
  })

  it("are refused for another subject than the one expected", () => {
    expect(codeOf(() => verifyEndorsement(by(root, alice), { now: NOW, subject: bob.nodeId }))).toBe("WRONG_SUBJECT")
  })

  it("are refused when the payload was altered after signing", () => {
    const env = by(root, alice)
    env.payload.expiresAt += 365 * DAY
    expect(codeOf(() => verifyEndorsement(env, { now: NOW }))).toBe("SIGNATURE_INVALID")
  })

  it("are refused when signed for another purpose", () => {
    const env = wire(signEnvelope(root, "fedhub/something-else/v1", by(root, alice).payload, NOW))
    expect(codeOf(() => verifyEndorsement(env, { now: NOW }))).toBe("WRONG_PURPOSE")
  })

  it("are refused when the endorsed key is not the one the subject id commits to", () => {
    const payload: Endorsement = { ...by(root, alice).payload, subjectPublicKey: toBase64(mallory.publicKey) }
    const env = wire(signEnvelope(root, ENDORSEMENT_PURPOSE, payload, NOW - 1000))
    expect(codeOf(() => verifyEndorsement(env, { now: NOW }))).toBe("ENDORSEMENT_KEY_MISMATCH")
  })

  it("are refused when a node signs one for itself", () => {
    const payload: Endorsement = { ...by(root, alice).payload }
    const env = wire(signEnvelope(alice, ENDORSEMENT_PURPOSE, payload, NOW - 1000))
    expect(codeOf(() => verifyEndorsement(env, { now: NOW }))).toBe("SELF_ENDORSEMENT")
  })

  it("are refused when they do not match the schema or vouch below verified", () => {
    const extra = wire(signEnvelope(root, ENDORSEMENT_PURPOSE, { ...by(root, alice).payload, note: "hi" }, NOW))
    expect(codeOf(() => verifyEndorsement(extra, { now: NOW }))).toBe("SCHEMA_INVALID")
    const basic = wire(signEnvelope(root, ENDORSEMENT_PURPOSE, { ...by(root, alice).payload, level: "basic" }, NOW))
    expect(codeOf(() => verifyEndorsement(basic, { now: NOW }))).toBe("INVALID_INPUT")
  })
})

describe("computeTrust", () => {
  it("gives administrator levels precedence over everything else", () => {
    const { levels } = trust({
      adminLevels: new Map<NodeId, AdminLevel>([
        [root.nodeId, "trusted"],
        [alice.nodeId, "partner"],
        [bob.nodeId, "blocked"],
      ]),
      proven: new Set([alice.nodeId, bob.nodeId]),
      endorsements: [by(root, alice), by(root, bob)],
    })
    expect(levels.get(root.nodeId)).toEqual({ level: "trusted", reason: "set to trusted by an administrator" })
    expect(levels.get(alice.nodeId)?.level).toBe("partner")
    expect(levels.get(bob.nodeId)).toEqual({ level: "unknown", reason: "blocked by an administrator" })
  })

  it("makes a node endorsed by a trusted node verified, naming the chain", () => {
    const { levels, refused } = trust({ endorsements: [by(root, alice)] })
    const entry = levels.get(alice.nodeId)!
    expect(entry.level).toBe("verified")
    expect(entry.via).toEqual([root.nodeId])
    expect(entry.reason).toContain(`${root.nodeId} → ${alice.nodeId}`)
    expect(entry.reason).toContain("1 link(s) from trusted node")
    expect(refused).toEqual([])
  })

  it("follows a two-link chain within maxChainLength", () => {
    const { levels } = trust({ endorsements: [by(root, alice), by(alice, bob)], maxChainLength: 2 })
    expect(levels.get(bob.nodeId)?.level).toBe("verified")
    expect(levels.get(bob.nodeId)?.via).toEqual([root.nodeId, alice.nodeId])
    expect(levels.get(bob.nodeId)?.reason).toContain(`${root.nodeId} → ${alice.nodeId} → ${bob.nodeId}`)
  })

  it("stops a chain longer than maxChainLength and reports the link", () => {
    const beyond = by(alice, bob)
    const { levels, refused } = trust({ endorsements: [by(root, alice), beyond], maxChainLength: 1 })
    expect(levels.get(alice.nodeId)?.level).toBe("verified")
    expect(levels.get(bob.nodeId)?.level).toBe("unknown")
    expect(levels.get(bob.nodeId)?.reason).toContain("chains longer than 1 link(s)")
    expect(refused).toMatchObject([
      { envelopeId: envelopeId(beyond), issuer: alice.nodeId, subject: bob.nodeId, code: "ENDORSEMENT_CHAIN_TOO_LONG" },
    ])
  })

  it("uses a default chain limit of three links", () => {
    const chain = [by(root, alice), by(alice, bob), by(bob, carol), by(carol, dave)]
    const { levels } = trust({ endorsements: chain })
    expect(levels.get(carol.nodeId)?.level).toBe("verified")
    expect(levels.get(dave.nodeId)?.level).toBe("unknown")
  })

  it("prefers the shortest chain", () => {
    const { levels } = trust({ endorsements: [by(root, alice), by(alice, bob), by(root, bob)] })
    expect(levels.get(bob.nodeId)?.via).toEqual([root.nodeId])
  })

  it("gives nothing for an endorsement from an unknown node, and reports it", () => {
    const fromMallory = by(mallory, carol)
    const { levels, refused } = trust({ endorsements: [fromMallory], proven: new Set([carol.nodeId]) })
    expect(levels.get(carol.nodeId)).toEqual({
      level: "basic",
      reason: "proved key possession by connecting; endorsed only by untrusted nodes",
    })
    expect(refused).toEqual([
      {
        envelopeId: envelopeId(fromMallory),
        issuer: mallory.nodeId,
        subject: carol.nodeId,
        code: "UNTRUSTED_ENDORSER",
        detail: expect.stringContaining(mallory.nodeId) as string,
      },
    ])
  })

  it("gives nothing for an endorsement from a blocked node, even one endorsed by a trusted node", () => {
    const { levels, refused } = trust({
      adminLevels: new Map<NodeId, AdminLevel>([
        [root.nodeId, "trusted"],
        [mallory.nodeId, "blocked"],
      ]),
      endorsements: [by(root, mallory), by(mallory, carol)],
    })
    expect(levels.get(mallory.nodeId)?.level).toBe("unknown")
    expect(levels.get(carol.nodeId)?.level).toBe("unknown")
    expect(refused.map((r) => [r.issuer, r.code])).toEqual([[mallory.nodeId, "UNTRUSTED_ENDORSER"]])
  })

  it("refuses an expired endorsement with ENDORSEMENT_EXPIRED and gives nothing for it", () => {
    const old = by(root, alice, NOW - 2 * DAY)
    const { levels, refused } = trust({ endorsements: [old] })
    expect(levels.get(alice.nodeId)?.level).toBe("unknown")
    expect(levels.get(alice.nodeId)?.reason).toContain("were refused")
    expect(refused).toMatchObject([{ envelopeId: envelopeId(old), subject: alice.nodeId, code: "ENDORSEMENT_EXPIRED" }])
  })

  it("refuses a forged endorsement: payload altered after signing", () => {
    const forged = by(root, alice)
    forged.payload.subject = mallory.nodeId
    forged.payload.subjectPublicKey = toBase64(mallory.publicKey)
    const { levels, refused } = trust({ endorsements: [forged] })
    expect(levels.get(mallory.nodeId)?.level).toBe("unknown")
    expect(refused).toMatchObject([{ issuer: root.nodeId, subject: mallory.nodeId, code: "SIGNATURE_INVALID" }])
  })

  it("refuses a forged endorsement: signer replaced by a trusted node", () => {
    const forged = by(mallory, alice)
    forged.signer = root.nodeId
    const { levels, refused } = trust({ endorsements: [forged] })
    expect(levels.get(alice.nodeId)?.level).toBe("unknown")
    expect(refused).toMatchObject([{ issuer: root.nodeId, subject: alice.nodeId, code: "SIGNATURE_INVALID" }])
  })

  it("refuses a forged endorsement: subject key not the one the subject id commits to", () => {
    const payload: Endorsement = { ...by(root, alice).payload, subjectPublicKey: toBase64(mallory.publicKey) }
    const forged = wire(signEnvelope(root, ENDORSEMENT_PURPOSE, payload, NOW - 1000))
    const { levels, refused } = trust({ endorsements: [forged] })
    expect(levels.get(alice.nodeId)?.level).toBe("unknown")
    expect(refused).toMatchObject([{ code: "ENDORSEMENT_KEY_MISMATCH" }])
  })

  it("never lets a forged record with the same issuer:subject knock out the valid one", () => {
    const valid = by(root, alice)
    // the same pair, altered after signing
    const altered = by(root, alice, NOW - 500)
    altered.payload.expiresAt += DAY
    // the same signed body (so the same envelope id) with a bad signature
    const badSig = { ...wire(valid), sig: toBase64(new Uint8Array(64).fill(7)) }
    for (const endorsements of [
      [valid, altered, badSig],
      [badSig, altered, valid],
    ]) {
      const { levels, refused, accepted } = trust({ endorsements })
      expect(levels.get(alice.nodeId)).toMatchObject({ level: "verified", via: [root.nodeId] })
      expect(accepted).toEqual([{ envelopeId: envelopeId(valid), issuer: root.nodeId, subject: alice.nodeId }])
      expect(refused.map(r => r.code).sort()).toEqual(["SIGNATURE_INVALID", "SIGNATURE_INVALID"])
      expect(refused.every(r => r.issuer === root.nodeId && r.subject === alice.nodeId)).toBe(true)
    }
  })

  it("lists as accepted only endorsements that conferred trust", () => {
    const { accepted, refused } = trust({ endorsements: [by(root, alice), by(mallory, bob), by(alice, carol)] })
    expect(accepted.map(a => [a.issuer, a.subject]).sort()).toEqual(
      [
        [root.nodeId, alice.nodeId],
        [alice.nodeId, carol.nodeId],
      ].sort(),
    )
    expect(refused).toMatchObject([{ issuer: mallory.nodeId, code: "UNTRUSTED_ENDORSER" }])
  })

  it("merges refusal lists, counting identical reports once", () => {
    const { refused } = trust({ endorsements: [by(mallory, bob)] })
    const other = { envelopeId: "", issuer: "x", subject: "y", code: "SIGNATURE_INVALID" as const, detail: "d" }
    expect(mergeRefused(refused, refused, [other])).toEqual([other, ...refused])
  })

  it("reports garbage in place of an endorsement without failing", () => {
    const { refused } = trust({ endorsements: [null, "nope", { v: 1 }] as unknown[] })
    expect(refused).toHaveLength(3)
    for (const r of refused) expect(r.code).toBe("INVALID_INPUT")
  })

  it("makes a node that proved its key basic, and any other unknown", () => {
    const { levels } = trust({ proven: new Set([dave.nodeId]) })
    expect(levels.get(dave.nodeId)).toEqual({
      level: "basic",
      reason: "proved key possession by connecting; no endorsement chain from a trusted node",
    })
    expect(levels.get(carol.nodeId)?.level).toBe("unknown")
  })

  it("rates every node named in nodes, adminLevels or proven, in id order", () => {
    const { levels } = computeTrust({
      nodes: [alice.nodeId],
      adminLevels: new Map<NodeId, AdminLevel>([[root.nodeId, "trusted"]]),
      proven: new Set([bob.nodeId]),
      endorsements: [],
      now: NOW,
    })
    expect([...levels.keys()]).toEqual([alice.nodeId, root.nodeId, bob.nodeId].sort())
  })

  it("computes the same result whatever the order of its inputs", () => {
    const envs: SignedEnvelope<Endorsement>[] = [
      by(root, alice),
      by(root, bob),
      by(alice, carol),
      by(bob, carol),
      by(carol, dave),
      by(mallory, dave),
      by(root, mallory, NOW - 2 * DAY),
      by(dave, mallory),
    ]
    const admin: [NodeId, AdminLevel][] = [
      [root.nodeId, "trusted"],
      [bob.nodeId, "partner"],
    ]
    const run = (order: number[], reverse: boolean) =>
      computeTrust({
        nodes: reverse ? [...everyone].reverse() : everyone,
        adminLevels: new Map(reverse ? [...admin].reverse() : admin),
        proven: new Set(reverse ? [mallory.nodeId, carol.nodeId] : [carol.nodeId, mallory.nodeId]),
        endorsements: order.map((i) => envs[i]!),
        now: NOW,
      })
    const a = run([0, 1, 2, 3, 4, 5, 6, 7], false)
    const b = run([7, 5, 3, 1, 6, 4, 2, 0], true)
    const c = run([4, 4, 2, 0, 7, 1, 3, 6, 5, 6], false) // duplicates count once
    expect([...b.levels]).toEqual([...a.levels])
    expect([...c.levels]).toEqual([...a.levels])
    expect(b.refused).toEqual(a.refused)
    expect(c.refused).toEqual(a.refused)
    // carol is endorsed through alice (two links from root) and by bob (a partner): the shorter chain wins
    expect(a.levels.get(carol.nodeId)?.via).toEqual([bob.nodeId])
    expect(a.levels.get(mallory.nodeId)?.via).toEqual([bob.nodeId, carol.nodeId, dave.nodeId])
  })
})
