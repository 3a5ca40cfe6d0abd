import { describe, expect, it } from "vitest"
import { rotateKey } from "../../src/federation/rotation.ts"
import { followRotation, rotationChainTo } from "../../src/federation/rotationChain.ts"
import { rotatedGrants } from "../../src/hub/followRotation.ts"
import { Identity, signEnvelope } from "../../src/identity/index.ts"
import type { EffectivePolicy } from "../../src/replication/access/policy.ts"

const id = (n: number): Identity => Identity.fromSeed(new Uint8Array(32).fill(n))
const [k1, k2, k3, k4] = [id(21), id(22), id(23), id(24)]
const NOW = 1_700_000_000_000
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

describe("rotation chains", () => {
  const r12 = rotateKey(k1, k2, NOW)
  const r23 = rotateKey(k2, k3, NOW + 1)

  it("lead back from a node's current id to its first, oldest first", () => {
    expect(rotationChainTo([r23, r12], k3.nodeId)).toEqual([r12, r23])
    expect(rotationChainTo([r23, r12], k2.nodeId)).toEqual([r12])
    expect(rotationChainTo([r23, r12], k4.nodeId)).toEqual([])
  })

  it("stop where two old keys claim one new key", () => {
    expect(rotationChainTo([r23, rotateKey(k4, k3, NOW)], k3.nodeId)).toEqual([])
  })

  it("are followed from an old id through verified records only, whatever their order", () => {
    const f = followRotation(k1.nodeId, wire([r23, r12]), NOW)
    expect(f.to).toBe(k3.nodeId)
    expect(f.records.map(r => r.payload.newId)).toEqual([k2.nodeId, k3.nodeId])
    expect(f.refused).toEqual([])
  })

  it("refuse a forged record, which moves nothing, and report it with its code", () => {
    const forged = signEnvelope(k4, "fedhub/key-rotation/v2", { ...r12.payload, newId: k4.nodeId }, NOW)
    const f = followRotation(k1.nodeId, [forged, "junk"], NOW)
    expect(f.to).toBe(k1.nodeId)
    expect(f.refused.map(r => r.code)).toEqual(["WRONG_SIGNER", "INVALID_INPUT"])
    expect(followRotation(k1.nodeId, "not a list", NOW).to).toBe(k1.nodeId)
  })

  it("lead nowhere from an id that rotated to two keys", () => {
    expect(followRotation(k1.nodeId, [r12, rotateKey(k1, k4, NOW)], NOW).to).toBe(k1.nodeId)
  })
})

describe("rotated grants", () => {
  const policy = (lists: Partial<EffectivePolicy>): EffectivePolicy =>
    ({ documentId: "x", owner: k4.nodeId, admins: [], writers: [], readers: [], relays: [], version: 1, heads: [], vouched: [], ...lists }) as EffectivePolicy

  it("give the new id every list the old id is in, and nothing it already has", () => {
    expect(rotatedGrants(policy({ writers: [k1.nodeId], readers: [k1.nodeId, "public"] }), k1.nodeId, k2.nodeId)).toEqual({
      writers: [k2.nodeId],
      readers: [k2.nodeId],
    })
    expect(rotatedGrants(policy({ writers: [k1.nodeId, k2.nodeId] }), k1.nodeId, k2.nodeId)).toEqual({})
    expect(rotatedGrants(policy({ writers: [k3.nodeId] }), k1.nodeId, k2.nodeId)).toEqual({})
  })
})
