import * as A from "@automerge/automerge"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { changeHeaders } from "../../../src/replication/access/index.ts"
import { errorOf } from "../../identity/helpers.ts"

const expected = (bytes: Uint8Array) => {
  const d = A.decodeChange(bytes)
  return { hash: d.hash, actor: d.actor, deps: d.deps, seq: d.seq }
}

describe("change headers", () => {
  it("read hash, actor, deps and seq exactly as A.decodeChange does (property, merges and messages included)", () => {
    const step = fc.record({
      who: fc.nat({ max: 2 }),
      key: fc.string({ maxLength: 8 }),
      value: fc.oneof(fc.integer(), fc.string({ maxLength: 400 }), fc.boolean()),
      message: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
      merge: fc.boolean(),
      text: fc.boolean(),
    })
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => {
        const actors = ["0a".repeat(16), "1b".repeat(16), "2c".repeat(8)]
        let docs = actors.map((actor) => A.init<Record<string, unknown>>({ actor }))
        for (const s of steps) {
          const i = s.who
          docs[i] = A.change(docs[i]!, s.message === undefined ? {} : { message: s.message, time: 1_700_000_000 }, (d) => {
            if (s.text) d[`t${s.key}`] = String(s.value) // collaborative text: one op per character
            else d[s.key] = typeof s.value === "string" ? new A.ImmutableString(s.value) : s.value
          })
          if (s.merge) docs = docs.map((d, j) => (j === i ? d : A.merge(d, docs[i]!)))
        }
        const all = docs.flatMap((d) => A.getAllChanges(d))
        expect(changeHeaders(all)).toEqual(all.map(expected))
      }),
      { numRuns: 60 },
    )
  })

  it("reads a large change and refuses bytes that are not a change", () => {
    const big = A.change(A.init<{ s?: A.ImmutableString }>({ actor: "ab".repeat(16) }), (d) => {
      d.s = new A.ImmutableString("x".repeat(10_000))
    })
    const [bytes] = A.getAllChanges(big)
    expect(changeHeaders([bytes!])).toEqual([expected(bytes!)])
    const flipped = Uint8Array.from(A.getAllChanges(A.change(A.init<{ a?: number }>(), (d) => void (d.a = 1)))[0]!)
    flipped[flipped.length - 1]! ^= 1 // checksum no longer matches: the fast path declines, decodeChange refuses
    expect(errorOf(() => changeHeaders([flipped])).code).toBe("MALFORMED_FRAME")
    expect(errorOf(() => changeHeaders([new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 5])])).code).toBe("MALFORMED_FRAME")
  })
})
