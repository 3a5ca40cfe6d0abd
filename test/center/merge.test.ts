/**
 * The shared-document editor's merge (src/center/dom.js): one contiguous change per side,
 * laid over each other. Pure functions, checked without a browser.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
// @ts-expect-error -- a plain browser module of the dashboard (no types, no build step)
import { diff, mapPos, rebase } from "../../src/center/dom.js"

interface Change {
  pos: number
  del: number
  ins: string
}
const apply = (text: string, c: Change): string => text.slice(0, c.pos) + c.ins + text.slice(c.pos + c.del)
const d = diff as (a: string, b: string) => Change
const m = mapPos as (i: number, c: Change) => number
const r = rebase as (base: string, mine: string, theirs: string) => string

/** A text and one change of it. */
const edited = fc.string({ maxLength: 30 }).chain(base =>
  fc.record({
    base: fc.constant(base),
    pos: fc.integer({ min: 0, max: base.length }),
    del: fc.nat(8),
    ins: fc.string({ maxLength: 8 }),
  }).map(x => ({ ...x, del: Math.min(x.del, base.length - x.pos) })),
)

describe("the editor's merge", () => {
  it("finds the one change between two texts", () => {
    expect(d("our plan", "our draft plan")).toEqual({ pos: 4, del: 0, ins: "draft " })
    expect(d("abc", "abc")).toEqual({ pos: 3, del: 0, ins: "" })
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => {
      expect(apply(a, d(a, b))).toBe(b)
    }))
  })

  it("keeps the caret after text inserted before it, and in place for text after it", () => {
    const c = d("draft plan", "our draft plan")
    expect(m("draft plan".length, c)).toBe("our draft plan".length)
    expect(m(0, d("draft", "draft plan"))).toBe(0)
  })

  it("keeps both edits when they touch different places, whichever side made which", () => {
    expect(r("draft", "our draft", "draft plan")).toBe("our draft plan")
    expect(r("draft", "draft plan", "our draft")).toBe("our draft plan")
    fc.assert(
      fc.property(edited, fc.nat(), fc.nat(8), fc.string({ maxLength: 8 }), ({ base, pos, del, ins }, at, del2, ins2) => {
        // a second change strictly after the first one's end
        const start = pos + del + 1
        fc.pre(start <= base.length)
        const p2 = start + (at % (base.length - start + 1))
        const second = { pos: p2, del: Math.min(del2, base.length - p2), ins: ins2 }
        const mine = apply(base, { pos, del, ins })
        const theirs = apply(base, second)
        const both = apply(apply(base, second), { pos, del, ins })
        expect(r(base, mine, theirs)).toBe(both)
        expect(r(base, theirs, mine)).toBe(both)
      }),
    )
  })

  it("returns the other side when one side did nothing", () => {
    fc.assert(fc.property(edited, ({ base, pos, del, ins }) => {
      const changed = apply(base, { pos, del, ins })
      expect(r(base, base, changed)).toBe(changed)
      expect(r(base, changed, base)).toBe(changed)
    }))
  })
})
