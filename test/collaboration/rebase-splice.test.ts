/** A splice computed on an older version of a shared text, moved over the edits made since (pure, over real Automerge patches). */
import * as A from "@automerge/automerge"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { rebaseSplice } from "../../src/collaboration/rebaseSplice.ts"

type T = { text: string }

/** The text at `old` with the remote edits applied, and the client's splice (computed on `old`) applied to it rebased. */
function apply(old: string, remote: (d: T) => void, splice: { pos: number; del: number; insert: string }): string {
  const base = A.from<T>({ text: old })
  const heads = A.getHeads(base)
  const now = A.change(A.clone(base), remote)
  const at = rebaseSplice(splice, A.diff(now, heads, A.getHeads(now)))
  return A.change(now, d => void A.splice(d, ["text"], at.pos, at.del, splice.insert)).text
}

describe("rebaseSplice", () => {
  it("moves an insertion past text inserted before it, and not past text inserted after it", () => {
    expect(apply("hello world", d => void A.splice(d, ["text"], 0, 0, "oh "), { pos: 6, del: 0, insert: "big " })).toBe("oh hello big world")
    expect(apply("hello world", d => void A.splice(d, ["text"], 11, 0, "!"), { pos: 6, del: 0, insert: "big " })).toBe("hello big world!")
  })

  it("deletes what the client selected, also when another hub deleted part of it or typed inside it", () => {
    // the client deletes "world"; another hub deleted "wor" meanwhile
    expect(apply("hello world", d => void A.splice(d, ["text"], 6, 3, ""), { pos: 6, del: 5, insert: "there" })).toBe("hello there")
    // another hub deleted the text before the selection
    expect(apply("hello world", d => void A.splice(d, ["text"], 0, 6, ""), { pos: 6, del: 5, insert: "moon" })).toBe("moon")
    // another hub typed inside the selection: what it typed is deleted with it (it was inside what the client replaced)
    expect(apply("hello world", d => void A.splice(d, ["text"], 8, 0, "XX"), { pos: 6, del: 5, insert: "there" })).toBe("hello there")
  })

  it("lands the client's insertion once and whole, whatever was edited since (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 0, maxLength: 30 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.stringMatching(/^[A-Z]{0,3}$/)), { maxLength: 5 }),
        fc.nat(),
        fc.nat(5),
        fc.stringMatching(/^[a-z]{1,4}$/),
        (old, edits, p, l, insert) => {
          const pos = old.length === 0 ? 0 : p % (old.length + 1)
          const del = Math.min(l, old.length - pos)
          const marker = `<${insert}>`
          const out = apply(
            old,
            d => {
              for (const [at, n, ins] of edits) {
                const len = d.text.length
                const i = len === 0 ? 0 : at % (len + 1)
                A.splice(d, ["text"], i, Math.min(n, len - i), ins)
              }
            },
            { pos, del, insert: marker },
          )
          expect(out.split(marker)).toHaveLength(2) // inserted once, whole
          expect(out.length).toBeGreaterThanOrEqual(marker.length)
        },
      ),
      { numRuns: 300 },
    )
  })
})
