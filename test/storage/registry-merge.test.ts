/** The merge rule of registry records written by several processes of one identity (registryMerge.ts), pure. */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Identity, type NodeId } from "../../src/identity/index.ts"
import type { RegistryNode } from "../../src/federation/registry.ts"
import { decisionFieldsOf, mergeObservations, mergeRemote, mergeWrite, toRow } from "../../src/federation/registryMerge.ts"
import { isValid } from "../../src/schema/validate.ts"

const id = Identity.generate().nodeId as NodeId
const node = (over: Partial<RegistryNode> = {}): RegistryNode => ({
  nodeId: id,
  discoveredBy: [],
  firstSeen: 1_000,
  lastSeen: 2_000,
  observed: { up: [], down: [] },
  ...over,
})

describe("merging a process's record into the stored one", () => {
  it("takes the decisions this write set, and keeps the ones it did not set as stored", () => {
    const stored = node({ blocked: true, name: "stored name", adminLevel: "partner" })
    // a stale local record (it never saw the block) that only set the trust level
    const local = node({ name: "stale", adminLevel: "trusted" })
    const out = mergeWrite(stored, local, ["adminLevel"])
    expect(out.blocked).toBe(true)
    expect(out.name).toBe("stored name")
    expect(out.adminLevel).toBe("trusted")
  })

  it("clears a decision the write set to undefined (trust reset to none, unblock)", () => {
    const out = mergeWrite(node({ adminLevel: "trusted", blocked: true }), node({ blocked: false }), ["adminLevel", "blocked"])
    expect(out.adminLevel).toBeUndefined()
    expect("adminLevel" in out).toBe(false)
    expect(out.blocked).toBe(false)
  })

  it("merges observations: earliest firstSeen, latest lastSeen, provenAt and lastSequence, union of methods and periods", () => {
    const stored = node({ firstSeen: 500, lastSeen: 3_000, provenAt: 2_500, lastSequence: 9, discoveredBy: ["peer_exchange"], observed: { up: [[10, 12]], down: [[20, 20]] } })
    const local = node({ firstSeen: 800, lastSeen: 2_000, provenAt: 2_900, discoveredBy: ["manual_configuration"], observed: { up: [[13, 15], [30, 30]], down: [[21, 21]], upSince: 99 } })
    const out = mergeWrite(stored, local, [])
    expect(out).toMatchObject({ firstSeen: 500, lastSeen: 3_000, provenAt: 2_900, lastSequence: 9 })
    expect(out.discoveredBy).toEqual(["manual_configuration", "peer_exchange"])
    expect(out.observed).toEqual({ up: [[10, 15], [30, 30]], down: [[20, 21]] })
  })

  it("takes the local record whole when nothing is stored", () => {
    const local = node({ blocked: true, url: "https://a.example" })
    expect(mergeWrite(undefined, local, [])).toMatchObject({ blocked: true, url: "https://a.example" })
  })

  it("is order-independent for observations and never loses a period either process observed (property)", () => {
    const range = fc.tuple(fc.nat(1000), fc.nat(20)).map(([a, len]) => [a, a + len] as [number, number])
    const obs = fc.record({ up: fc.array(range, { maxLength: 8 }), down: fc.array(range, { maxLength: 8 }) })
    fc.assert(
      fc.property(obs, obs, (a, b) => {
        const ab = mergeObservations(a, b)
        expect(ab).toEqual(mergeObservations(b, a))
        const covered = (rs: [number, number][], p: number) => rs.some(([x, y]) => x <= p && p <= y)
        for (const [x, y] of [...a.up, ...b.up]) for (const p of [x, y]) expect(covered(ab.up, p)).toBe(true)
        for (const [x, y] of [...a.down, ...b.down]) for (const p of [x, y]) expect(covered(ab.down, p)).toBe(true)
      }),
    )
  })
})

describe("taking in another process's row", () => {
  it("takes the row's decisions except the ones this process changed and has not written, and keeps its own open link", () => {
    const local = node({ adminLevel: "trusted", observed: { up: [[5, 5]], down: [], upSince: 1_234 } })
    const row = node({ blocked: true, observed: { up: [[6, 6]], down: [] } })
    const out = mergeRemote(local, row, ["adminLevel"])
    expect(out.blocked).toBe(true)
    expect(out.adminLevel).toBe("trusted")
    expect(out.observed).toEqual({ up: [[5, 6]], down: [], upSince: 1_234 })
  })

  it("takes an unblock written elsewhere", () => {
    expect(mergeRemote(node({ blocked: true }), node({ blocked: false })).blocked).toBe(false)
  })
})

describe("the row of a record", () => {
  it("holds only the schema's fields, without the open link, and is a valid registry-node", () => {
    const rec = { ...node({ name: "n", observed: { up: [[1, 2]], down: [], upSince: 5 } }), legacy: 1 } as RegistryNode
    const row = toRow(rec)
    expect(row.observed).toEqual({ up: [[1, 2]], down: [] })
    expect("legacy" in row).toBe(false)
    expect(isValid("registry-node", row)).toBe(true)
  })

  it("names the decision fields a patch sets, also to undefined", () => {
    expect(decisionFieldsOf({ adminLevel: undefined, url: "x", lastSequence: 3 }).sort()).toEqual(["adminLevel", "url"])
  })
})
