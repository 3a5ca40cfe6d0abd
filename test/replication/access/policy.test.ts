import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fromBase64, Identity, signEnvelope, toBase64, type NodeId } from "../../../src/identity/index.ts"
import {
  documentIdFor,
  evaluatePolicies,
  genesisPolicy,
  mayAdminister,
  mayRead,
  mayRelay,
  mayWrite,
  newDocumentId,
  nextPolicy,
  POLICY_PURPOSE,
  recordId,
  type PolicyRecord,
} from "../../../src/replication/access/index.ts"
import { addLToS, errorOf } from "../../identity/helpers.ts"

const owner = Identity.generate("owner")
const adminA = Identity.generate("admin-a")
const adminB = Identity.generate("admin-b")
const writer = Identity.generate("writer")
const reader = Identity.generate("reader")
const relay = Identity.generate("relay")
const stranger = Identity.generate("stranger")
const T0 = 1_760_000_000_000

const { documentId, nonce } = newDocumentId(owner.nodeId)
const ctx = { documentId }

const genesis = (): PolicyRecord =>
  genesisPolicy(owner, documentId, {
    nonce,
    admins: [adminA.nodeId, adminB.nodeId],
    writers: [writer.nodeId],
    readers: [reader.nodeId],
    relays: [relay.nodeId],
    now: T0,
  })

/** Re-signs `payload` as `who`, as a forger holding its own key would. */
const forge = (who: Identity, payload: PolicyRecord["payload"], time = payload.issuedAt): PolicyRecord =>
  signEnvelope(who, POLICY_PURPOSE, payload, time)

describe("policy genesis", () => {
  it("is valid when signed by its owner for a document id derived from the owner", () => {
    const g = genesis()
    const state = evaluatePolicies([g], ctx)
    expect(state.refused).toEqual([])
    expect(state.heads).toEqual([recordId(g)])
    expect(state.conflict).toBe(false)
    expect(state.effective).toMatchObject({ documentId, owner: owner.nodeId, version: 1, writers: [writer.nodeId] })
    expect(documentIdFor(owner.nodeId, nonce)).toBe(documentId)
  })

  it("is refused when signed by anyone but its owner", () => {
    const g = genesis()
    const byAdmin = forge(adminA, g.payload)
    const state = evaluatePolicies([byAdmin], ctx)
    expect(state.effective).toBeUndefined()
    expect(state.refused).toHaveLength(1)
    expect(state.refused[0]).toMatchObject({ id: recordId(byAdmin), code: "POLICY_INVALID" })
    expect(state.refused[0]!.reason).toMatch(/signed by its owner/)
  })

  it("is refused for a document whose id is not derived from the signer (a stranger claiming a document)", () => {
    const claim = forge(stranger, { ...genesis().payload, owner: stranger.nodeId, admins: [], readers: [stranger.nodeId] })
    const state = evaluatePolicies([genesis(), claim], ctx)
    expect(state.heads).toEqual([recordId(genesis())])
    expect(mayRead(state.effective, stranger.nodeId)).toBe(false)
    expect(state.refused.map((r) => r.id)).toEqual([recordId(claim)])
    expect(state.refused[0]!.reason).toMatch(/not derived from owner/)
  })

  it("of a legacy (random-id) document is valid only when pinned by id", () => {
    const legacyId = newDocumentId(stranger.nodeId).documentId // any valid id not derived from owner
    const g = genesisPolicy(owner, legacyId, { writers: [writer.nodeId], now: T0 })
    const other = genesisPolicy(stranger, legacyId, { writers: [stranger.nodeId], now: T0 })
    expect(evaluatePolicies([g], { documentId: legacyId }).effective).toBeUndefined()
    const pinned = evaluatePolicies([g, other], { documentId: legacyId, genesisId: recordId(g)! })
    expect(pinned.effective?.owner).toBe(owner.nodeId)
    expect(pinned.refused.map((r) => r.id)).toEqual([recordId(other)])
  })

  it("refuses a nonce that does not derive the document id", () => {
    expect(errorOf(() => genesisPolicy(stranger, documentId, { nonce })).code).toBe("INVALID_INPUT")
  })
})

describe("policy versions", () => {
  it("a version signed by an admin is valid; one by a non-admin is refused, and so is what builds on it", () => {
    const g = genesis()
    const s0 = evaluatePolicies([g], ctx)
    const byAdmin = nextPolicy(adminA, s0, { add: { readers: [stranger.nodeId] } }, T0 + 1)
    const byWriter = forge(writer, { ...byAdmin.payload, writers: [writer.nodeId, stranger.nodeId] })
    const s1 = evaluatePolicies([g, byWriter], ctx)
    expect(s1.heads).toEqual([recordId(g)])
    const onForged = forge(adminA, { ...byAdmin.payload, version: 3, parents: [recordId(byWriter)!], issuedAt: T0 + 2 })
    const state = evaluatePolicies([g, byAdmin, byWriter, onForged], ctx)
    expect(state.heads).toEqual([recordId(byAdmin)])
    expect(mayRead(state.effective, stranger.nodeId)).toBe(true)
    expect(mayWrite(state.effective, stranger.nodeId)).toBe(false)
    const reasons = new Map(state.refused.map((r) => [r.id, r.reason]))
    expect(reasons.get(recordId(byWriter))).toMatch(/not the owner or an admin/)
    expect(reasons.get(recordId(onForged))).toMatch(/parent .* is refused/)
  })

  it("nextPolicy refuses a signer who is not an admin (NOT_AN_ADMIN)", () => {
    const s0 = evaluatePolicies([genesis()], ctx)
    expect(errorOf(() => nextPolicy(writer, s0, { add: { writers: [stranger.nodeId] } })).code).toBe("NOT_AN_ADMIN")
  })

  it("a removed writer can no longer write under the effective policy", () => {
    const g = genesis()
    const s0 = evaluatePolicies([g], ctx)
    expect(mayWrite(s0.effective, writer.nodeId)).toBe(true)
    const v2 = nextPolicy(adminB, s0, { remove: { writers: [writer.nodeId] } }, T0 + 1)
    const s1 = evaluatePolicies([v2, g], ctx)
    expect(s1.effective?.version).toBe(2)
    expect(mayWrite(s1.effective, writer.nodeId)).toBe(false)
    expect(mayRead(s1.effective, writer.nodeId)).toBe(false)
  })

  it("refuses a version not above its parent, an owner change, a nonce outside the genesis and an unknown parent", () => {
    const g = genesis()
    const s0 = evaluatePolicies([g], ctx)
    const good = nextPolicy(adminA, s0, {}, T0 + 1).payload
    const sameVersion = forge(adminA, { ...good, version: 1 })
    const newOwner = forge(adminA, { ...good, owner: adminA.nodeId })
    const withNonce = forge(adminA, { ...good, nonce })
    const orphan = forge(adminA, { ...good, parents: ["0".repeat(64)] })
    const state = evaluatePolicies([g, sameVersion, newOwner, withNonce, orphan], ctx)
    expect(state.heads).toEqual([recordId(g)])
    const reasons = new Map(state.refused.map((r) => [r.id, r.reason]))
    expect(reasons.get(recordId(sameVersion))).toMatch(/not above/)
    expect(reasons.get(recordId(newOwner))).toMatch(/changes the owner/)
    expect(reasons.get(recordId(withNonce))).toMatch(/only a genesis/)
    expect(reasons.get(recordId(orphan))).toMatch(/unknown/)
  })

  it("a removed admin can no longer sign versions after its removal", () => {
    const g = genesis()
    const v2 = nextPolicy(adminA, evaluatePolicies([g], ctx), { remove: { admins: [adminB.nodeId] } }, T0 + 1)
    const s1 = evaluatePolicies([g, v2], ctx)
    expect(mayAdminister(s1.effective, adminB.nodeId)).toBe(false)
    expect(errorOf(() => nextPolicy(adminB, s1, {})).code).toBe("NOT_AN_ADMIN")
  })
})

describe("forged and altered records", () => {
  it("are refused and listed with a reason, never counted", () => {
    const g = genesis()
    const s0 = evaluatePolicies([g], ctx)
    const v2 = nextPolicy(adminA, s0, { add: { writers: [adminA.nodeId] } }, T0 + 1)
    const altered = { ...v2, payload: { ...v2.payload, writers: [...v2.payload.writers, stranger.nodeId] } }
    const malleable = { ...v2, sig: toBase64(addLToS(fromBase64(v2.sig))) }
    const otherPurpose = signEnvelope(adminA, "fedhub/other/v1", v2.payload, v2.time)
    const otherDoc = genesisPolicy(owner, newDocumentId(owner.nodeId).documentId, { now: T0 })
    const junk = { hello: "world" }
    const state = evaluatePolicies([g, altered, malleable, otherPurpose, otherDoc, junk, null], ctx)
    expect(state.heads).toEqual([recordId(g)])
    expect(mayWrite(state.effective, stranger.nodeId)).toBe(false)
    const codes = state.refused.map((r) => r.code).sort()
    expect(codes).toEqual(["INVALID_INPUT", "INVALID_INPUT", "POLICY_INVALID", "SIGNATURE_INVALID", "SIGNATURE_MALLEABLE", "WRONG_PURPOSE"].sort())
    expect(state.refused.find((r) => r.code === "SIGNATURE_INVALID")?.id).toBe(recordId(altered))
    for (const r of state.refused) expect(r.reason.length).toBeGreaterThan(0)
  })

  it("a forged copy does not hide the genuine record, whatever the order", () => {
    const g = genesis()
    const bad = { ...g, sig: toBase64(new Uint8Array(64)) }
    for (const set of [[g, bad], [bad, g]]) {
      const state = evaluatePolicies(set, ctx)
      expect(state.heads).toEqual([recordId(g)])
      expect(state.refused).toHaveLength(1)
    }
  })
})

describe("concurrent versions", () => {
  it("a concurrent narrowing is not undone by a concurrent widening; both heads are reported", () => {
    const g = genesis()
    const s0 = evaluatePolicies([g], ctx)
    const narrow = nextPolicy(adminA, s0, { remove: { writers: [writer.nodeId] } }, T0 + 1)
    const widen = nextPolicy(adminB, s0, { add: { readers: [stranger.nodeId], writers: [stranger.nodeId] } }, T0 + 1)
    const s1 = evaluatePolicies([g, widen, narrow], ctx)
    expect(s1.conflict).toBe(true)
    expect(s1.heads).toEqual([recordId(narrow), recordId(widen)].sort())
    expect(mayWrite(s1.effective, writer.nodeId)).toBe(false) // narrowing holds
    expect(mayRead(s1.effective, stranger.nodeId)).toBe(false) // widening waits for a merge
    const merged = nextPolicy(adminA, s1, { add: { readers: [stranger.nodeId] } }, T0 + 2)
    expect(merged.payload.parents).toEqual(s1.heads)
    const s2 = evaluatePolicies([g, widen, narrow, merged], ctx)
    expect(s2.conflict).toBe(false)
    expect(s2.effective?.version).toBe(3)
    expect(mayRead(s2.effective, stranger.nodeId)).toBe(true)
    expect(mayWrite(s2.effective, writer.nodeId)).toBe(false)
  })

  it("resolve the same way whatever the order of the set (property)", () => {
    const people = [writer, reader, relay, stranger].map((p) => p.nodeId)
    const listKey = fc.constantFrom("writers", "readers", "relays", "admins")
    const edit = fc.record({
      who: fc.constantFrom(0, 1, 2), // 0: admin A's replica, 1: admin B's, 2: sync both
      op: fc.constantFrom("add", "remove"),
      list: listKey,
      target: fc.constantFrom(...people, adminA.nodeId, adminB.nodeId, "public"),
    })
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 10 }), fc.infiniteStream(fc.nat()), (edits, seeds) => {
        const g = genesis()
        const replicas: PolicyRecord[][] = [[g], [g]]
        const admins = [adminA, adminB]
        let t = T0
        for (const e of edits) {
          if (e.who === 2) {
            const all = [...new Set([...replicas[0]!, ...replicas[1]!])]
            replicas[0] = [...all]
            replicas[1] = [...all]
            continue
          }
          const mine = replicas[e.who]!
          const target = e.target as NodeId
          if (e.target === "public" && e.list !== "readers") continue
          try {
            mine.push(nextPolicy(admins[e.who]!, evaluatePolicies(mine, ctx), { [e.op]: { [e.list]: [target] } }, ++t))
          } catch {
            // removed from admins on this replica: its edits stop here
          }
        }
        const all = [...replicas[0]!, ...replicas[1]!]
        const reference = evaluatePolicies(all, ctx)
        const it = seeds[Symbol.iterator]()
        const shuffled = [...all, ...all.slice(0, 2)]
          .map((r) => ({ r, k: it.next().value as number }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.r)
        const again = evaluatePolicies(shuffled, ctx)
        expect(again.effective).toEqual(reference.effective)
        expect(again.heads).toEqual(reference.heads)
        expect([...again.valid.keys()].sort()).toEqual([...reference.valid.keys()].sort())
        expect(again.refused).toEqual(reference.refused)
        expect(reference.refused).toEqual([]) // honest admins never produce invalid records
        expect(reference.effective?.owner).toBe(owner.nodeId)
      }),
      { numRuns: 60 },
    )
  })
})

describe("decisions", () => {
  it("levels nest: owner ⊇ admin ⊇ writer ⊇ reader ⊇ relay; no policy allows nothing", () => {
    const eff = evaluatePolicies([genesis()], ctx).effective
    const table = [owner, adminA, writer, reader, relay, stranger].map((p) => [
      mayAdminister(eff, p.nodeId),
      mayWrite(eff, p.nodeId),
      mayRead(eff, p.nodeId),
      mayRelay(eff, p.nodeId),
    ])
    expect(table).toEqual([
      [true, true, true, true],
      [true, true, true, true],
      [false, true, true, true],
      [false, false, true, true],
      [false, false, false, true],
      [false, false, false, false],
    ])
    for (const f of [mayAdminister, mayWrite, mayRead, mayRelay]) expect(f(undefined, owner.nodeId)).toBe(false)
  })

  it("\"public\" lets every node read, not write", () => {
    const s0 = evaluatePolicies([genesis()], ctx)
    const pub = nextPolicy(owner, s0, { add: { readers: ["public"] } }, T0 + 1)
    const eff = evaluatePolicies([genesis(), pub], ctx).effective
    expect(mayRead(eff, stranger.nodeId)).toBe(true)
    expect(mayWrite(eff, stranger.nodeId)).toBe(false)
  })
})
