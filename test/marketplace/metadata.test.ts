import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { canonicalJson, signEnvelope, type Identity } from "../../src/identity/index.ts"
import { metadataView, putMetadataEdit, resolveEdit, signMetadataEdit, MAX_EDIT_TEXT } from "../../src/marketplace/metadata.ts"
import { alice, bob, carol, MARKET, T0 } from "./fixtures.ts"

interface Doc {
  meta: Record<string, unknown>
}
const admins = [alice.nodeId, bob.nodeId]
const edit = (who: Identity, field: string, value: string | number | boolean, time: number) =>
  signMetadataEdit(who, { marketplaceId: MARKET, field, value, time })
const put = (doc: A.Doc<Doc>, e: unknown): A.Doc<Doc> => A.change(doc, (d) => void putMetadataEdit(d.meta, e))
const raw = (doc: A.Doc<Doc>, field: string, value: unknown): A.Doc<Doc> =>
  A.change(doc, (d) => {
    d.meta[field] = value
  })

/** A marketplace document with one description, forked into two replicas that have each made changes apart. */
function forks(): { base: A.Doc<Doc>; left: A.Doc<Doc>; right: A.Doc<Doc> } {
  let base = A.change(A.init<Doc>(), (d) => {
    d.meta = {}
  })
  base = put(base, edit(alice, "description", "first", T0))
  return { base, left: A.clone(base), right: A.clone(base) }
}

describe("metadata conflicts", () => {
  it("two admins apart both keep their edit of one field, shown as a conflict", () => {
    const { left, right } = forks()
    const a = put(left, edit(alice, "description", "from alice", T0 + 10))
    const b = put(right, edit(bob, "description", "from bob", T0 + 20))
    const merged = A.merge(A.clone(a), A.clone(b))
    const view = metadataView(merged.meta, admins, { marketplaceId: MARKET })
    expect(view.values.description).toBe("from bob")
    expect(view.setBy.description).toEqual({ by: bob.nodeId, time: T0 + 20 })
    expect(view.conflicts).toHaveLength(1)
    expect(view.conflicts[0]!.field).toBe("description")
    expect(view.conflicts[0]!.values.map((v) => [v.value, v.by, v.time, v.verified])).toEqual([
      ["from bob", bob.nodeId, T0 + 20, true],
      ["from alice", alice.nodeId, T0 + 10, true],
    ])
    expect(view.refused).toEqual([])
    // merged the other way round, every replica shows the same
    expect(metadataView(A.merge(A.clone(b), A.clone(a)).meta, admins, { marketplaceId: MARKET })).toEqual(view)
  })

  it("edits of different fields merge without a conflict", () => {
    const { left, right } = forks()
    const merged = A.merge(put(left, edit(alice, "name", "Plugins", T0 + 1)), put(right, edit(bob, "status", "active", T0 + 2)))
    const view = metadataView(merged.meta, admins)
    expect(view.values).toEqual({ description: "first", name: "Plugins", status: "active" })
    expect(view.conflicts).toEqual([])
  })

  it("a resolving edit written on top of both supersedes them on every replica", () => {
    const { left, right } = forks()
    const a = put(left, edit(alice, "description", "from alice", T0 + 10))
    const b = put(right, edit(bob, "description", "from bob", T0 + 20))
    const merged = A.merge(A.clone(a), A.clone(b))
    const conflict = metadataView(merged.meta, admins).conflicts[0]!
    const resolution = resolveEdit(alice, MARKET, conflict, "from alice", T0)
    expect(resolution.payload.time).toBe(T0 + 21)
    const resolved = put(merged, resolution)
    const view = metadataView(resolved.meta, admins)
    expect(view.conflicts).toEqual([])
    expect(view.values.description).toBe("from alice")
    // bob's replica, which never saw alice's edit alone, takes the resolution and agrees
    const bobs = A.merge(A.clone(b), A.clone(resolved))
    expect(metadataView(bobs.meta, admins)).toEqual(view)
    expect(() => resolveEdit(alice, MARKET, conflict, "something else")).toThrow(/METADATA_EDIT_INVALID/)
  })

  it("a non-admin's concurrent edit is refused and listed, and never becomes effective", () => {
    const { left, right } = forks()
    const merged = A.merge(put(left, edit(alice, "description", "from alice", T0 + 10)), put(right, edit(carol, "description", "from carol", T0 + 99)))
    const view = metadataView(merged.meta, admins)
    expect(view.values.description).toBe("from alice")
    expect(view.conflicts[0]!.values.find((v) => v.by === carol.nodeId)).toMatchObject({ verified: false, reason: expect.stringMatching(/neither the owner nor an admin/) })
    expect(view.refused).toEqual([expect.objectContaining({ field: "description", by: carol.nodeId })])
    expect(() => resolveEdit(alice, MARKET, view.conflicts[0]!, "from carol")).toThrow(/not one of the verified values/)
  })

  it("refuses forged, tampered, misplaced, foreign, oversized and non-edit values with reasons", () => {
    const { left, right } = forks()
    const good = edit(bob, "description", "honest", T0 + 5)
    const tampered = { ...good, payload: { ...good.payload, value: "dishonest" } }
    let l = raw(left, "description", new A.ImmutableString(canonicalJson(tampered)))
    l = raw(l, "name", new A.ImmutableString(canonicalJson(edit(bob, "status", "closed", T0 + 5))))
    l = raw(l, "status", new A.ImmutableString(canonicalJson(signEnvelope(bob, "fedhub/market-rating/v1", good.payload, T0))))
    l = raw(l, "version", 7)
    l = raw(l, "license", new A.ImmutableString("{not json"))
    l = raw(l, "huge", new A.ImmutableString("x".repeat(MAX_EDIT_TEXT + 1)))
    l = raw(l, "other", new A.ImmutableString(canonicalJson(signMetadataEdit(bob, { marketplaceId: "3vQB7B6MrGQZaxCuFg4oh", field: "other", value: 1, time: T0 }))))
    const merged = A.merge(l, put(right, edit(bob, "description", "second", T0 + 1)))
    const view = metadataView(merged.meta, admins, { marketplaceId: MARKET })
    expect(view.values).toEqual({ description: "second" })
    const reasons = Object.fromEntries(view.refused.map((r) => [r.field, r.reason]))
    expect(reasons).toMatchObject({
      description: expect.stringMatching(/SIGNATURE_INVALID/),
      name: expect.stringMatching(/an edit of status stored under name/),
      status: expect.stringMatching(/WRONG_PURPOSE/),
      version: expect.stringMatching(/not a string/),
      license: expect.stringMatching(/not JSON/),
      huge: expect.stringMatching(/longer than/),
      other: expect.stringMatching(/another marketplace/),
    })
  })

  it("putMetadataEdit writes nothing unverified or invalid into the document", () => {
    const { base } = forks()
    const good = edit(alice, "description", "ok", T0 + 1)
    for (const bad of [{ ...good, payload: { ...good.payload, value: "changed" } }, { ...good, payload: { ...good.payload, time: T0 + 0.5 } }, "junk"])
      expect(() => A.change(base, (d) => void putMetadataEdit(d.meta, bad))).toThrow(/METADATA_EDIT_INVALID/)
    expect(metadataView(base.meta, admins).values.description).toBe("first")
    expect(() => edit(alice, "Bad Field", "v", T0)).toThrow(/METADATA_EDIT_INVALID/)
    expect(() => edit(alice, "description", "v".repeat(5_001), T0)).toThrow(/METADATA_EDIT_INVALID/)
    expect(() => edit(alice, "fee", 1.5, T0)).toThrow()
  })

  it("reads a plain (non-Automerge) map the same way", () => {
    const view = metadataView({ description: canonicalJson(edit(alice, "description", "plain", T0)) }, admins)
    expect(view.values).toEqual({ description: "plain" })
    expect(metadataView(undefined, admins).values).toEqual({})
  })
})
