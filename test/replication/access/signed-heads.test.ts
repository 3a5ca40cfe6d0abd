import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { Identity, signEnvelope, toBase64 } from "../../../src/identity/index.ts"
import {
  ACTOR_BINDING_PURPOSE,
  actorIdFor,
  assertAllAttributed,
  attributeChanges,
  bindActor,
  changeHeaders,
  decodeChanges,
  evaluatePolicies,
  genesisPolicy,
  newDocumentId,
  refuseNonWriters,
  signHeads,
  verifyBinding,
} from "../../../src/replication/access/index.ts"
import { errorOf } from "../../identity/helpers.ts"

const hubA = Identity.generate("hub-a")
const hubB = Identity.generate("hub-b")
const relay = Identity.generate("relay")
const { documentId, nonce } = newDocumentId(hubA.nodeId)
const T0 = 1_760_000_000_000

/** `n` small changes on the raw backend under `actor`, after `base` (bytes of earlier changes). */
function writeChanges(actor: string, n: number, base: Uint8Array[] = [], key = actor): Uint8Array[] {
  const doc = A.getBackend(A.init({ actor }))
  if (base.length > 0) doc.applyChanges(base)
  const before = new Set(doc.getChanges([]).map((c) => A.decodeChange(c).hash))
  for (let i = 0; i < n; i++) {
    doc.put("_root", `${key}${i}`, i)
    doc.commit(null)
  }
  return doc.getChanges([]).filter((c) => !before.has(A.decodeChange(c).hash))
}

const actorA = actorIdFor(hubA.nodeId, documentId)
const actorB = actorIdFor(hubB.nodeId, documentId)
const bindingA = bindActor(hubA, documentId, { now: T0 })
const bindingB = bindActor(hubB, documentId, { now: T0 })

describe("actor bindings", () => {
  it("bind the actor derived from node, document and epoch", () => {
    expect(bindingA.payload.actorId).toBe(actorA)
    expect(verifyBinding(bindingA, { documentId }).signer).toBe(hubA.nodeId)
    expect(bindActor(hubA, documentId, { epoch: 1 }).payload.actorId).not.toBe(actorA)
    expect(actorA).toMatch(/^[0-9a-f]{32}$/)
  })

  it("refuse an actor the signer does not own, another document, another signer or an altered record", () => {
    const claim = signEnvelope(relay, ACTOR_BINDING_PURPOSE, { documentId, nodeId: relay.nodeId, epoch: 0, actorId: actorA }, T0)
    expect(errorOf(() => verifyBinding(claim)).code).toBe("ACTOR_BINDING_INVALID")
    const forOther = signEnvelope(relay, ACTOR_BINDING_PURPOSE, { documentId, nodeId: hubA.nodeId, epoch: 0, actorId: actorA }, T0)
    expect(errorOf(() => verifyBinding(forOther)).code).toBe("ACTOR_BINDING_INVALID")
    expect(errorOf(() => verifyBinding(bindingA, { documentId: newDocumentId(hubA.nodeId).documentId })).code).toBe("ACTOR_BINDING_INVALID")
    const altered = { ...bindingA, payload: { ...bindingA.payload, epoch: 1, actorId: actorIdFor(hubA.nodeId, documentId, 1) } }
    expect(errorOf(() => verifyBinding(altered)).code).toBe("SIGNATURE_INVALID")
  })
})

describe("attribution by signed heads", () => {
  it("a batch of 1,000 changes is covered by one signature (one verify per record, none per change)", () => {
    const bytes = writeChanges(actorA, 1000)
    const changes = changeHeaders(bytes) // the fast header reader a hub uses (same fields as A.decodeChange)
    const last = changes[changes.length - 1]!.hash
    const heads = signHeads(hubA, documentId, actorA, [last], T0)
    const verified = new Set<string>()
    const report = attributeChanges({ documentId, changes, signedHeads: [heads], bindings: [bindingA], verified })
    expect(report.results).toHaveLength(1000)
    expect(report.results.every((r) => r.ok && r.author === hubA.nodeId)).toBe(true)
    expect(report.refusedRecords).toEqual([])
    expect(report.verifications).toBe(2) // the heads record and the binding
    const again = attributeChanges({ documentId, changes, signedHeads: [heads], bindings: [bindingA], verified })
    expect(again.verifications).toBe(0)
    expect(() => assertAllAttributed(again)).not.toThrow()
  })

  it("per-change signatures give the same verdicts", () => {
    const changes = decodeChanges(writeChanges(actorA, 20))
    const perChange = changes.map((c) => signHeads(hubA, documentId, actorA, [c.hash], T0))
    const report = attributeChanges({ documentId, changes: [...changes].reverse(), signedHeads: perChange, bindings: [bindingA] })
    expect(report.results.every((r) => r.ok)).toBe(true)
    expect(report.verifications).toBe(21)
  })

  it("refuses a change by an unbound actor", () => {
    const stray = "ab".repeat(16)
    const changes = decodeChanges(writeChanges(stray, 3))
    const heads = signHeads(hubA, documentId, stray, [changes[2]!.hash], T0)
    const report = attributeChanges({ documentId, changes, signedHeads: [heads], bindings: [bindingA] })
    expect(report.results.map((r) => (r.ok ? "ok" : r.reason))).toEqual(["unbound-actor", "unbound-actor", "unbound-actor"])
    expect(errorOf(() => assertAllAttributed(report)).code).toBe("CHANGE_UNATTRIBUTED")
  })

  it("refuses the changes its author's signed heads do not cover", () => {
    const changes = decodeChanges(writeChanges(actorA, 10))
    const heads = signHeads(hubA, documentId, actorA, [changes[4]!.hash], T0)
    const report = attributeChanges({ documentId, changes, signedHeads: [heads], bindings: [bindingA] })
    expect(report.results.map((r) => (r.ok ? "ok" : r.reason))).toEqual([
      ...Array<string>(5).fill("ok"),
      ...Array<string>(5).fill("no-covering-signature"),
    ])
  })

  it("a relay cannot forge an author: a change under another hub's actor signed by the relay is refused", () => {
    const genuine = writeChanges(actorA, 2)
    const forged = decodeChanges(writeChanges(actorA, 1, genuine, "forged")) // the relay writes under hub A's actor
    const genuineDecoded = decodeChanges(genuine)
    const byA = signHeads(hubA, documentId, actorA, [genuineDecoded[1]!.hash], T0)
    const byRelay = signHeads(relay, documentId, actorA, [forged[0]!.hash], T0)
    const relayClaim = signEnvelope(relay, ACTOR_BINDING_PURPOSE, { documentId, nodeId: relay.nodeId, epoch: 0, actorId: actorA }, T0)
    const report = attributeChanges({
      documentId,
      changes: [...genuineDecoded, ...forged],
      signedHeads: [byA, byRelay],
      bindings: [bindingA, relayClaim],
    })
    expect(report.results.map((r) => (r.ok ? r.author : r.reason))).toEqual([hubA.nodeId, hubA.nodeId, "signer-not-bound-node"])
    expect(report.refusedRecords.map((r) => r.code)).toEqual(["ACTOR_BINDING_INVALID"])
  })

  it("refuses a change claimed only by a record whose signature is invalid, and lists the record", () => {
    const changes = decodeChanges(writeChanges(actorA, 3))
    const good = signHeads(hubA, documentId, actorA, [changes[0]!.hash], T0)
    const bad = { ...good, payload: { ...good.payload, heads: [changes[2]!.hash] } }
    const zeroSig = { ...signHeads(hubA, documentId, actorA, [changes[1]!.hash], T0), sig: toBase64(new Uint8Array(64)) }
    const report = attributeChanges({ documentId, changes, signedHeads: [good, bad, zeroSig], bindings: [bindingA] })
    expect(report.results.map((r) => (r.ok ? "ok" : r.reason))).toEqual(["ok", "signature-invalid", "signature-invalid"])
    expect(report.refusedRecords.map((r) => r.code)).toEqual(["SIGNATURE_INVALID", "SIGNATURE_INVALID"])
  })

  it("two authors: each one's heads vouch only for its own changes, though they cover the other's by hash", () => {
    const a1 = writeChanges(actorA, 3)
    const b1 = writeChanges(actorB, 3, a1)
    const a2 = writeChanges(actorA, 2, [...a1, ...b1], "again")
    const changes = decodeChanges([...a1, ...b1, ...a2])
    const headsA = signHeads(hubA, documentId, actorA, [changes[7]!.hash], T0)
    const only = attributeChanges({ documentId, changes, signedHeads: [headsA], bindings: [bindingA, bindingB] })
    expect(only.results.map((r) => (r.ok ? "A" : r.reason))).toEqual([
      "A", "A", "A", "no-covering-signature", "no-covering-signature", "no-covering-signature", "A", "A",
    ])
    const headsB = signHeads(hubB, documentId, actorB, [changes[5]!.hash], T0)
    const both = attributeChanges({ documentId, changes, signedHeads: [headsA, headsB], bindings: [bindingA, bindingB] })
    expect(both.results.map((r) => (r.ok ? (r.author === hubA.nodeId ? "A" : "B") : r.reason)).join("")).toBe("AAABBBAA")
  })

  it("refuses a record whose head is a change of another actor, or of another document", () => {
    const a = decodeChanges(writeChanges(actorA, 1))
    const wrongActor = signHeads(hubB, documentId, actorB, [a[0]!.hash], T0)
    const otherDoc = signHeads(hubA, newDocumentId(hubA.nodeId).documentId, actorA, [a[0]!.hash], T0)
    const report = attributeChanges({ documentId, changes: a, signedHeads: [wrongActor, otherDoc], bindings: [bindingA, bindingB] })
    expect(report.results[0]).toMatchObject({ ok: false, reason: "no-covering-signature" })
    expect(report.refusedRecords).toHaveLength(2)
  })

  it("refuseNonWriters turns an attributed change by a non-writer into a refusal", () => {
    const g = genesisPolicy(hubA, documentId, { nonce, readers: [hubB.nodeId], now: T0 })
    const policy = evaluatePolicies([g], { documentId }).effective
    const changes = decodeChanges([...writeChanges(actorA, 1, [], "a"), ...writeChanges(actorB, 1, [], "b")])
    const report = attributeChanges({
      documentId,
      changes,
      signedHeads: [signHeads(hubA, documentId, actorA, [changes[0]!.hash], T0), signHeads(hubB, documentId, actorB, [changes[1]!.hash], T0)],
      bindings: [bindingA, bindingB],
    })
    const checked = refuseNonWriters(report, policy)
    expect(checked.results.map((r) => (r.ok ? "ok" : r.reason))).toEqual(["ok", "not-a-writer"])
    expect(errorOf(() => assertAllAttributed(checked)).code).toBe("NOT_A_WRITER")
  })

  it("lists junk records as refused and does not throw", () => {
    const changes = changeHeaders(writeChanges(actorA, 2))
    const junk = [null, 5, "x", {}, { payload: { actor: actorA, heads: [changes[1]!.hash] } }]
    const verified = new Set<string>()
    const report = attributeChanges({ documentId, changes, signedHeads: junk, bindings: [...junk, bindingA], verified })
    expect(report.results.map((r) => (r.ok ? "ok" : r.reason))).toEqual(["signature-invalid", "signature-invalid"])
    expect(report.refusedRecords).toHaveLength(10)
    for (const r of report.refusedRecords) expect(r.code).toBe("INVALID_INPUT")
  })

  it("decodeChanges refuses bytes that are not a change", () => {
    expect(errorOf(() => decodeChanges([new Uint8Array([1, 2, 3])])).code).toBe("MALFORMED_FRAME")
  })
})
