import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { emptyDirectory, putRotation, readDirectory, type DirectoryDoc } from "../../src/federation/directory.ts"
import {
  carryRotations,
  ROTATION_CONSENT_PURPOSE,
  ROTATION_PURPOSE,
  rotateKey,
  verifyRotation,
  type KeyRotation,
} from "../../src/federation/rotation.ts"
import type { AdminLevel } from "../../src/federation/trust.ts"
import { canonicalJson, Identity, signEnvelope, toBase64, type NodeId, type SignedEnvelope } from "../../src/identity/index.ts"
import { codeOf } from "../identity/helpers.ts"

const id = (n: number, name: string): Identity => Identity.fromSeed(new Uint8Array(32).fill(n), name)
const oldKey = id(11, "old")
const newKey = id(12, "new")
const other = id(13, "other")
const victim = id(14, "victim")
const NOW = 1_700_000_000_000
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

/** A record signed by `old` naming `next`, counter-signed by `consenter` for `purpose` over `statement`. */
function handMade(
  old: Identity,
  next: Identity,
  opts: { consenter?: Identity; purpose?: string; statement?: Partial<KeyRotation>; time?: number } = {},
): SignedEnvelope<KeyRotation> {
  const statement = { oldId: old.nodeId, newId: next.nodeId, newPublicKey: toBase64(next.publicKey), rotatedAt: NOW }
  const consent = signEnvelope(opts.consenter ?? next, opts.purpose ?? ROTATION_CONSENT_PURPOSE, { ...statement, ...opts.statement }, NOW)
  return wire(signEnvelope(old, ROTATION_PURPOSE, { ...statement, newKeySig: consent.sig }, opts.time ?? NOW))
}

const levels = (entries: [Identity, AdminLevel][]) => new Map<NodeId, AdminLevel | undefined>(entries.map(([i, l]) => [i.nodeId, l]))

describe("rotation records", () => {
  it("need the old key's signature and the new key's counter-signature, and survive a JSON round trip", () => {
    const r = wire(rotateKey(oldKey, newKey, NOW))
    expect(r.purpose).toBe(ROTATION_PURPOSE)
    expect(verifyRotation(r, { now: NOW }).payload).toMatchObject({ oldId: oldKey.nodeId, newId: newKey.nodeId, rotatedAt: NOW })
    expect(handMade(oldKey, newKey).payload.newKeySig).toBe(r.payload.newKeySig)
  })

  it("are refused without the new key's counter-signature", () => {
    const r = rotateKey(oldKey, newKey, NOW)
    const { newKeySig: _dropped, ...bare } = r.payload
    const unsigned = wire(signEnvelope(oldKey, ROTATION_PURPOSE, bare, NOW))
    expect(codeOf(() => verifyRotation(unsigned, { now: NOW }))).toBe("SCHEMA_INVALID")
  })

  it("are refused when another key counter-signed, or the new key signed something else", () => {
    expect(codeOf(() => verifyRotation(handMade(oldKey, newKey, { consenter: other }), { now: NOW }))).toBe("SIGNATURE_INVALID")
    // the new key's signature for another purpose (domain separation)
    expect(codeOf(() => verifyRotation(handMade(oldKey, newKey, { purpose: ROTATION_PURPOSE }), { now: NOW }))).toBe("SIGNATURE_INVALID")
    // the new key consented to a rotation of another old id
    expect(codeOf(() => verifyRotation(handMade(oldKey, newKey, { statement: { oldId: other.nodeId } }), { now: NOW }))).toBe(
      "SIGNATURE_INVALID",
    )
  })

  it("cannot hand an old key's standing to an existing node that did not counter-sign", () => {
    // the old key names the victim and signs with a counter-signature made by itself
    const stolen = handMade(oldKey, victim, { consenter: oldKey })
    expect(codeOf(() => verifyRotation(stolen, { now: NOW }))).toBe("SIGNATURE_INVALID")
    const carried = carryRotations(levels([[oldKey, "partner"]]), [stolen], NOW)
    expect(carried.adminLevels.get(victim.nodeId)).toBeUndefined()
    expect(carried.outcomes).toEqual([expect.objectContaining({ newId: victim.nodeId, code: "SIGNATURE_INVALID" })])
  })

  it("are refused when not signed by the old id they name", () => {
    const r = rotateKey(other, newKey, NOW)
    const lie = { ...r, payload: { ...r.payload, oldId: oldKey.nodeId } }
    expect(codeOf(() => verifyRotation(lie, { now: NOW }))).toBe("WRONG_SIGNER")
  })

  it("are refused when stored under another key than their oldId", () => {
    const r = rotateKey(oldKey, newKey, NOW)
    expect(codeOf(() => verifyRotation(r, { now: NOW, storedUnder: victim.nodeId }))).toBe("WRONG_SIGNER")
    expect(verifyRotation(r, { now: NOW, storedUnder: oldKey.nodeId }).payload.newId).toBe(newKey.nodeId)
  })

  it("refuse the old single-signature v1 records, a mismatched time, a future date and a self-rotation", () => {
    const v1 = wire(
      signEnvelope(oldKey, "fedhub/key-rotation/v1", { oldId: oldKey.nodeId, newId: newKey.nodeId, newPublicKey: toBase64(newKey.publicKey), rotatedAt: NOW }, NOW),
    )
    expect(codeOf(() => verifyRotation(v1, { now: NOW }))).toBe("WRONG_PURPOSE")
    expect(codeOf(() => verifyRotation(handMade(oldKey, newKey, { time: NOW + 1 }), { now: NOW }))).toBe("INVALID_INPUT")
    expect(codeOf(() => verifyRotation(rotateKey(oldKey, newKey, NOW + 3_600_000), { now: NOW }))).toBe("STALE_TIMESTAMP")
    expect(codeOf(() => rotateKey(oldKey, oldKey, NOW))).toBe("INVALID_INPUT")
    expect(codeOf(() => verifyRotation(null, { now: NOW }))).toBe("INVALID_INPUT")
  })
})

describe("rotations in the directory", () => {
  it("are stored under their own oldId, and one stored under another key is refused on read", () => {
    const r = rotateKey(oldKey, newKey, NOW)
    const doc = A.change(A.from<DirectoryDoc>(emptyDirectory()), d => {
      putRotation(d, r, { now: NOW })
      d.rotations[victim.nodeId] = new A.ImmutableString(canonicalJson(r))
    })
    expect(Object.keys(doc.rotations).sort()).toEqual([oldKey.nodeId, victim.nodeId].sort())
    const view = readDirectory(doc, { now: NOW })
    expect(view.rotations.map(x => x.payload.oldId)).toEqual([oldKey.nodeId])
    expect(view.refused).toEqual([expect.objectContaining({ key: `rotation:${victim.nodeId}`, code: "WRONG_SIGNER" })])
  })

  it("refuse a record without counter-signature when published, and do not let a second rotation replace the first", () => {
    let doc = A.from<DirectoryDoc>(emptyDirectory())
    expect(codeOf(() => A.change(doc, d => void putRotation(d, handMade(oldKey, newKey, { consenter: other }), { now: NOW })))).toBe(
      "SIGNATURE_INVALID",
    )
    doc = A.change(doc, d => void putRotation(d, rotateKey(oldKey, newKey, NOW), { now: NOW }))
    doc = A.change(doc, d => void putRotation(d, rotateKey(oldKey, newKey, NOW), { now: NOW })) // same record: no-op
    expect(codeOf(() => A.change(doc, d => void putRotation(d, rotateKey(oldKey, other, NOW), { now: NOW })))).toBe("INVALID_INPUT")
    expect(readDirectory(doc, { now: NOW }).rotations.map(r => r.payload.newId)).toEqual([newKey.nodeId])
  })

  it("keep a blocked node's rotation in the view, so its block carries", () => {
    const doc = A.change(A.from<DirectoryDoc>(emptyDirectory()), d => void putRotation(d, rotateKey(oldKey, newKey, NOW), { now: NOW }))
    const view = readDirectory(doc, { now: NOW, blocked: new Set([oldKey.nodeId]) })
    expect(view.rotations).toHaveLength(1)
    expect(carryRotations(levels([[oldKey, "blocked"]]), view.rotations, NOW).adminLevels.get(newKey.nodeId)).toBe("blocked")
  })
})

describe("carryRotations", () => {
  const r = rotateKey(oldKey, newKey, NOW)

  it("carries an administrator's trust to the new id", () => {
    const carried = carryRotations(levels([[oldKey, "trusted"]]), [r], NOW)
    expect(carried.adminLevels.get(newKey.nodeId)).toBe("trusted")
    expect(carried.carriedFrom.get(newKey.nodeId)).toBe(oldKey.nodeId)
    expect(carried.outcomes[0]).toMatchObject({ carried: "trusted" })
  })

  it("carries a blocked node's block, not trust, even to a new id an administrator trusted", () => {
    const carried = carryRotations(levels([[oldKey, "blocked"], [newKey, "partner"]]), [r], NOW)
    expect(carried.adminLevels.get(newKey.nodeId)).toBe("blocked")
    expect(carried.outcomes[0]).toMatchObject({ carried: "blocked" })
  })

  it("carries the block along a chain of rotations", () => {
    const third = rotateKey(newKey, other, NOW)
    const carried = carryRotations(levels([[oldKey, "blocked"]]), [third, r], NOW)
    expect(carried.adminLevels.get(other.nodeId)).toBe("blocked")
  })

  it("carries nothing to a blocked new id", () => {
    const carried = carryRotations(levels([[oldKey, "partner"], [newKey, "blocked"]]), [r], NOW)
    expect(carried.adminLevels.get(newKey.nodeId)).toBe("blocked")
    expect(carried.carriedFrom.has(newKey.nodeId)).toBe(false)
  })

  it("never overrides a level an administrator set for the new id", () => {
    const carried = carryRotations(levels([[oldKey, "partner"], [newKey, "trusted"]]), [r], NOW)
    expect(carried.adminLevels.get(newKey.nodeId)).toBe("trusted")
  })

  it("carries no trust from an old key that rotated to two keys, but still carries its block", () => {
    const fork = rotateKey(oldKey, other, NOW)
    const trusted = carryRotations(levels([[oldKey, "trusted"]]), [r, fork], NOW)
    expect(trusted.adminLevels.get(newKey.nodeId)).toBeUndefined()
    expect(trusted.adminLevels.get(other.nodeId)).toBeUndefined()
    const blocked = carryRotations(levels([[oldKey, "blocked"]]), [r, fork], NOW)
    expect(blocked.adminLevels.get(newKey.nodeId)).toBe("blocked")
    expect(blocked.adminLevels.get(other.nodeId)).toBe("blocked")
  })

  it("follows chains, gives the weaker level when two old ids reach one new id, and ignores input order", () => {
    const chain = rotateKey(newKey, victim, NOW)
    const a = carryRotations(levels([[oldKey, "partner"]]), [chain, r], NOW)
    expect(a.adminLevels.get(victim.nodeId)).toBe("partner")
    const both = [rotateKey(oldKey, victim, NOW), rotateKey(other, victim, NOW)]
    const weaker = carryRotations(levels([[oldKey, "partner"], [other, "trusted"]]), both, NOW)
    expect(weaker.adminLevels.get(victim.nodeId)).toBe("trusted")
    const reversed = carryRotations(levels([[other, "trusted"], [oldKey, "partner"]]), [...both].reverse(), NOW)
    expect(reversed).toEqual(weaker)
  })
})
