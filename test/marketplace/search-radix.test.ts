import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { compareFolded, sortByCodeUnits, sortByNumber, sortByString } from "../../src/marketplace/radixSort.ts"

const byCode = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
const ids = (n: number): Uint32Array => Uint32Array.from({ length: n }, (_, i) => i)

describe("the search index's radix sorts", () => {
  it("sort ids by string in code-unit order, equal keys in their given order, over shared prefixes, empty keys and code units above 255", () => {
    const key = fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.array(fc.constantFrom("item-", "a", "b", "1", "0", "é", "\u0100", "\uffff", "😀", ""), { maxLength: 5 }).map((p) => p.join("")),
    )
    fc.assert(
      fc.property(fc.array(key, { maxLength: 400 }), (keys) => {
        const got = ids(keys.length)
        sortByString(got, (i) => keys[i]!)
        const want = [...ids(keys.length)].sort((a, b) => byCode(keys[a]!, keys[b]!) || a - b)
        expect([...got]).toEqual(want)
      }),
      { numRuns: 300 },
    )
  })

  it("sort ids by string with ASCII case folded as a comparison of the lowercased keys does (keys beyond ASCII given lowercased), and compareFolded agrees", () => {
    const key = fc.oneof(
      fc.string({ maxLength: 6 }).map((s) => (/[^\x00-\x7f]/.test(s) ? s.toLowerCase() : s)),
      fc.array(fc.constantFrom("Item ", "item ", "A", "a", "Z", "[", "_", "`", "{", "1", ""), { maxLength: 5 }).map((p) => p.join("")),
    )
    fc.assert(
      fc.property(fc.array(key, { maxLength: 400 }), (keys) => {
        const got = ids(keys.length)
        sortByString(got, (i) => keys[i]!, true)
        const want = [...ids(keys.length)].sort((a, b) => byCode(keys[a]!.toLowerCase(), keys[b]!.toLowerCase()) || a - b)
        expect([...got]).toEqual(want)
        for (let i = 1; i < keys.length; i++) expect(Math.sign(compareFolded(keys[i - 1]!, keys[i]!))).toBe(byCode(keys[i - 1]!.toLowerCase(), keys[i]!.toLowerCase()))
      }),
      { numRuns: 300 },
    )
  })

  it("sort ids by keys held in a pool of code units as a comparison sort of the strings does", () => {
    const key = fc.oneof(fc.string({ maxLength: 6 }), fc.array(fc.constantFrom("item-", "a", "b", "1", "é", "\u0100", "\uffff", "😀", ""), { maxLength: 5 }).map((p) => p.join("")))
    fc.assert(
      fc.property(fc.array(key, { maxLength: 400 }), (keys) => {
        const start = new Uint32Array(keys.length)
        const len = new Uint32Array(keys.length)
        const units: number[] = []
        keys.forEach((k, i) => {
          start[i] = units.length
          len[i] = k.length
          for (let j = 0; j < k.length; j++) units.push(k.charCodeAt(j))
        })
        const got = ids(keys.length)
        sortByCodeUnits(got, Uint16Array.from(units), start, len)
        const want = [...ids(keys.length)].sort((a, b) => byCode(keys[a]!, keys[b]!) || a - b)
        expect([...got]).toEqual(want)
      }),
      { numRuns: 300 },
    )
  })

  it("sort ids by number, equal keys in their given order, negatives, zeros, fractions and large values", () => {
    const value = fc.oneof(fc.constantFrom(0, -0, 1, -1, 0.5, 5, 1e15, -1e15, Number.MAX_SAFE_INTEGER, 1760000000000), fc.double({ noNaN: true }), fc.integer({ min: 0, max: 100 }))
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), (values) => {
        const key = Float64Array.from(values)
        const got = ids(values.length)
        sortByNumber(got, key)
        const want = [...ids(values.length)].sort((a, b) => key[a]! - key[b]! || (Object.is(key[a], -0) && Object.is(key[b], 0) ? -1 : Object.is(key[a], 0) && Object.is(key[b], -0) ? 1 : a - b))
        expect([...got]).toEqual(want)
      }),
      { numRuns: 300 },
    )
  })
})
