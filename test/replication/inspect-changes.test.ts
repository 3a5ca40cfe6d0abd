/** What a sync message would do, measured before Automerge applies it (pure: no network). */
import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { inspectSyncMessage, splitChunks } from "../../src/replication/inspectChanges.ts"
import { codeOf } from "../helpers/errors.ts"

type Backend = ReturnType<typeof A.getBackend>
const LIMITS = { changeDepth: 8, changeOps: 1_000, messageOps: 2_000 }
const none = () => undefined

/** Raw changes of a document built by `build` on a fresh backend. */
function changesOf(build: (b: Backend) => void): Uint8Array[] {
  const backend = A.getBackend(A.init())
  build(backend)
  backend.commit("test")
  return backend.getChanges([])
}

const message = (changes: Uint8Array[]) => A.encodeSyncMessage({ heads: [], need: [], have: [], changes })
const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts))

const nest = (depth: number) => (b: Backend) => {
  let obj = "_root"
  for (let i = 0; i < depth; i++) obj = b.putObject(obj as A.ObjID, "a", {})
}

describe("inspectSyncMessage", () => {
  it("measures depth and ops of the objects a message creates", () => {
    const m = inspectSyncMessage(message(changesOf(nest(8))), LIMITS, none)
    expect([m.changes, m.ops, m.maxDepth, m.created.size]).toEqual([1, 8, 8, 8])
  })

  it("refuses one level past the limit, and counts depth from the replica's objects", () => {
    expect(codeOf(() => inspectSyncMessage(message(changesOf(nest(9))), LIMITS, none))).toBe("TOO_DEEP")
    // a change creating a map inside an object the replica holds at depth 8
    const backend = A.getBackend(A.init())
    const parent = backend.putObject("_root", "p", {})
    backend.commit("parent")
    const [first] = backend.getChanges([])
    backend.putObject(parent, "child", {})
    backend.commit("child")
    const second = backend.getChanges([]).filter(c => A.decodeChange(c).hash !== A.decodeChange(first!).hash)
    expect(codeOf(() => inspectSyncMessage(message(second), LIMITS, obj => (obj === parent ? 8 : undefined)))).toBe("TOO_DEEP")
    expect(inspectSyncMessage(message(second), LIMITS, obj => (obj === parent ? 7 : undefined)).maxDepth).toBe(8)
    // ... and refuses one inside an object nobody knows
    expect(codeOf(() => inspectSyncMessage(message(second), LIMITS, none))).toBe("MALFORMED_FRAME")
  })

  it("sees every change of an entry holding several back to back (a deep one hidden second)", () => {
    const shallow = changesOf(b => b.put("_root", "x", 1))[0]!
    const deep = changesOf(nest(20))[0]!
    expect(splitChunks(concat([shallow, deep])).map(c => c.type)).toEqual([1, 1])
    expect(codeOf(() => inspectSyncMessage(message([concat([shallow, deep])]), LIMITS, none))).toBe("TOO_DEEP")
    expect(inspectSyncMessage(message([concat([shallow, shallow])]), LIMITS, none).changes).toBe(2)
  })

  it("measures a whole document sent in one entry (sync v2)", () => {
    const backend = A.getBackend(A.init())
    nest(20)(backend)
    backend.commit("deep document")
    expect(codeOf(() => inspectSyncMessage(message([backend.save()]), LIMITS, none))).toBe("TOO_DEEP")
  })

  it("refuses a whole document thousands of maps deep without stalling on it", () => {
    // loaded through loadIncremental into an empty document, 3,000 deep took 20 s and 770 MB here (5,000: past the test's timeout)
    const backend = A.getBackend(A.init())
    nest(5_000)(backend)
    backend.commit("very deep document")
    const wide = { ...LIMITS, changeOps: 1_000_000, messageOps: 1_000_000 }
    expect(codeOf(() => inspectSyncMessage(message([backend.save()]), wide, none, { keepDocument: true }))).toBe("TOO_DEEP")
  })

  it("counts operations per change and per message", () => {
    const wide = (n: number) => changesOf(b => {
      for (let i = 0; i < n; i++) b.put("_root", `k${i}`, i)
    })
    expect(codeOf(() => inspectSyncMessage(message(wide(1_001)), LIMITS, none))).toBe("TOO_MANY_OPS")
    const three = [...wide(900), ...changesOf(b => { for (let i = 0; i < 900; i++) b.put("_root", `j${i}`, i) }), ...changesOf(b => { for (let i = 0; i < 900; i++) b.put("_root", `m${i}`, i) })]
    expect(codeOf(() => inspectSyncMessage(message(three), LIMITS, none))).toBe("TOO_MANY_OPS")
  })

  it("refuses garbage: not a sync message, truncated chunks, unknown chunk types", () => {
    expect(codeOf(() => inspectSyncMessage(new Uint8Array([1, 2, 3]), LIMITS, none))).toBe("MALFORMED_FRAME")
    const change = changesOf(b => b.put("_root", "x", 1))[0]!
    expect(codeOf(() => inspectSyncMessage(message([change.subarray(0, change.byteLength - 3)]), LIMITS, none))).toBe("MALFORMED_FRAME")
    const odd = Uint8Array.from(change)
    odd[8] = 7
    expect(codeOf(() => inspectSyncMessage(message([odd]), LIMITS, none))).toBe("MALFORMED_FRAME")
  })
})
