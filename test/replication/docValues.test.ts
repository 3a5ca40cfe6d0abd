import * as A from "@automerge/automerge"
import { generateAutomergeUrl, parseAutomergeUrl, encodeHeads, stringifyAutomergeUrl } from "@automerge/automerge-repo"
import { describe, expect, it } from "vitest"
import { parseDocRef } from "../../src/replication/docRef.ts"
import { deleteAt, fromPlain, parsePath, setAt, toPlain } from "../../src/replication/docValues.ts"
import { expectFedhubError } from "../helpers/errors.ts"


type AnyDoc = Record<string, any>

const sample = {
  title: "Widget",
  price: 12.5,
  active: true,
  none: null,
  tags: ["a", "b"],
  meta: { owner: "node-1", nested: [{ k: "v" }] },
}

describe("toPlain and fromPlain", () => {
  it("round-trip plain JSON through an automerge document", () => {
    const doc = A.from<AnyDoc>(fromPlain(sample) as AnyDoc)
    expect(toPlain(doc)).toEqual(sample)
    expect(JSON.parse(JSON.stringify(toPlain(doc)))).toEqual(sample)
  })

  it("store strings as ImmutableString by default (Rule 8), at every depth", () => {
    const doc = A.from<AnyDoc>(fromPlain(sample) as AnyDoc)
    expect(A.isImmutableString(doc.title)).toBe(true)
    expect(doc.title).toBeInstanceOf(A.ImmutableString)
    expect(A.isImmutableString(doc.tags[0])).toBe(true)
    expect(A.isImmutableString(doc.meta.nested[0].k)).toBe(true)
    // an ImmutableString is one op; text would be one op per character
    expect(A.stats(doc).numOps).toBeLessThan(20)
  })

  it("store strings as collaborative text when asked to", () => {
    const doc = A.from<AnyDoc>(fromPlain({ body: "co-edited prose" }, { text: true }) as AnyDoc)
    expect(typeof doc.body).toBe("string")
    expect(A.isImmutableString(doc.body)).toBe(false)
    expect(toPlain(doc)).toEqual({ body: "co-edited prose" })
  })

  it("convert counters, dates, bytes and text to plain JSON", () => {
    const doc = A.from<AnyDoc>({
      n: new A.Counter(3),
      when: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
      raw: new Uint8Array([104, 105]),
      text: "prose",
      imm: new A.ImmutableString("atom"),
    })
    expect(toPlain(doc)).toEqual({ n: 3, when: "2024-01-02T03:04:05.000Z", raw: "aGk=", text: "prose", imm: "atom" })
  })

  it("convert values seen through a change proxy the same way", () => {
    let doc = A.from<AnyDoc>(fromPlain(sample) as AnyDoc)
    doc = A.change(doc, d => {
      expect(toPlain(d)).toEqual(sample)
      expect(toPlain(d.tags)).toEqual(["a", "b"])
    })
  })

  it("refuse undefined, functions, symbols, non-finite numbers, class instances and cycles", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    class Thing {
      x = 1
    }
    for (const bad of [undefined, () => 1, Symbol("s"), 10n, Number.NaN, Infinity, new Thing(), new Map(), { a: undefined }, [1, undefined], cyclic])
      expectFedhubError(() => fromPlain(bad), "INVALID_INPUT")
  })

  it("refuse prototype-polluting keys inside values", () => {
    expectFedhubError(() => fromPlain(JSON.parse('{"__proto__": {"x": 1}}')), "INVALID_INPUT")
    expectFedhubError(() => fromPlain({ a: { constructor: 1 } }), "INVALID_INPUT")
  })

  it("keep floats, integers, booleans and null as they are", () => {
    expect(fromPlain({ f: 1.25, i: -3, t: true, n: null })).toEqual({ f: 1.25, i: -3, t: true, n: null })
  })
})

describe("parsePath", () => {
  it("reads dotted paths, JSON pointers and arrays, turning indices into numbers", () => {
    expect(parsePath("a.b.0.c")).toEqual(["a", "b", 0, "c"])
    expect(parsePath("/a/b/0/c")).toEqual(["a", "b", 0, "c"])
    expect(parsePath(["a", "0", 1])).toEqual(["a", 0, 1])
    expect(parsePath("/a~1b/c~0d")).toEqual(["a/b", "c~d"])
    expect(parsePath("a.01")).toEqual(["a", "01"])
    expect(parsePath("")).toEqual([])
    expect(parsePath("/")).toEqual([])
  })

  it("refuses empty segments", () => {
    for (const bad of ["a..b", ".a", "a.", "/a//b", "/a/", ["a", ""]]) expectFedhubError(() => parsePath(bad), "BAD_PATH")
  })

  it("refuses prototype pollution segments in every form", () => {
    for (const bad of ["__proto__.x", "a.constructor", "/a/prototype", ["__proto__"], "/__proto__/polluted"])
      expectFedhubError(() => parsePath(bad), "BAD_PATH")
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it("refuses negative or fractional indices and non-string segments in arrays", () => {
    expectFedhubError(() => parsePath(["a", -1]), "BAD_PATH")
    expectFedhubError(() => parsePath(["a", 1.5]), "BAD_PATH")
    expectFedhubError(() => parsePath(["a", {} as unknown as string]), "BAD_PATH")
  })
})

describe("setAt and deleteAt", () => {
  const base = () => A.from<AnyDoc>(fromPlain({ list: [{ name: "x" }], text: "t", n: 1 }) as AnyDoc)

  it("set a value deep in the document, creating the maps on the way", () => {
    const doc = A.change(base(), d => setAt(d, parsePath("a.b.c"), fromPlain("deep")))
    expect(toPlain(doc)).toMatchObject({ a: { b: { c: "deep" } } })
    expect(A.isImmutableString(doc.a.b.c)).toBe(true)
  })

  it("set inside a list element, replace an element, and append at the end", () => {
    let doc = A.change(base(), d => setAt(d, "/list/0/name", fromPlain("y")))
    expect(toPlain(doc.list)).toEqual([{ name: "y" }])
    doc = A.change(doc, d => setAt(d, "list.1", fromPlain({ name: "z" })))
    doc = A.change(doc, d => setAt(d, "list.0", fromPlain({ name: "w" })))
    expect(toPlain(doc.list)).toEqual([{ name: "w" }, { name: "z" }])
  })

  it("set each key at the root for the empty path, and refuse a non-object there", () => {
    const doc = A.change(base(), d => setAt(d, "", fromPlain({ k1: 1, k2: "two" })))
    expect(toPlain(doc)).toMatchObject({ k1: 1, k2: "two", n: 1 })
    expectFedhubError(() => A.change(base(), d => setAt(d, [], fromPlain("scalar"))), "BAD_PATH")
    expectFedhubError(() => A.change(base(), d => setAt(d, [], fromPlain([1]))), "BAD_PATH")
  })

  it("refuse a path through a scalar, through text, or past the end of a list", () => {
    expectFedhubError(() => A.change(base(), d => setAt(d, "n.x", 1)), "BAD_PATH")
    expectFedhubError(() => A.change(base(), d => setAt(d, "text.x", 1)), "BAD_PATH")
    expectFedhubError(() => A.change(base(), d => setAt(d, "list.5", 1)), "BAD_PATH")
    expectFedhubError(() => A.change(base(), d => setAt(d, "list.name", 1)), "BAD_PATH")
    expectFedhubError(() => A.change(base(), d => setAt(d, "list.3.name", 1)), "BAD_PATH")
  })

  it("change nothing when the path is refused", () => {
    const doc = base()
    const heads = A.getHeads(doc)
    const before = toPlain(doc)
    expectFedhubError(() => A.change(doc, d => setAt(d, "n.x.y", 1)), "BAD_PATH")
    // the refused change left nothing behind: same heads, same content, and the doc still takes changes
    expect(A.getHeads(doc)).toEqual(heads)
    expect(toPlain(doc)).toEqual(before)
    expect(A.getHeads(A.change(doc, d => setAt(d, "n", 2)))).not.toEqual(heads)
  })

  it("delete a map key and a list element, and refuse the root or a missing value", () => {
    let doc = A.change(base(), d => setAt(d, "list.1", fromPlain({ name: "z" })))
    doc = A.change(doc, d => deleteAt(d, "list.0"))
    doc = A.change(doc, d => deleteAt(d, "/n"))
    expect(toPlain(doc)).toEqual({ list: [{ name: "z" }], text: "t" })
    expectFedhubError(() => A.change(doc, d => deleteAt(d, "")), "BAD_PATH")
    expectFedhubError(() => A.change(doc, d => deleteAt(d, "missing")), "BAD_PATH")
    expectFedhubError(() => A.change(doc, d => deleteAt(d, "missing.deeper")), "BAD_PATH")
    expectFedhubError(() => A.change(doc, d => deleteAt(d, "list.4")), "BAD_PATH")
  })
})

describe("parseDocRef", () => {
  it("accepts a URL made by automerge-repo and returns its id and URL", () => {
    const url = generateAutomergeUrl()
    const ref = parseDocRef(url)
    expect(ref.url).toBe(url)
    expect(ref.documentId).toBe(parseAutomergeUrl(url).documentId)
    expect(ref.heads).toBeUndefined()
  })

  it("accepts a bare document id", () => {
    const url = generateAutomergeUrl()
    const { documentId } = parseAutomergeUrl(url)
    expect(parseDocRef(documentId)).toEqual({ documentId, url })
    expect(parseDocRef(`  ${documentId}\n`).documentId).toBe(documentId)
  })

  it("returns heads pinned in a URL as hex change hashes", () => {
    const doc = A.from({ x: 1 })
    const heads = A.getHeads(doc)
    const { documentId } = parseAutomergeUrl(generateAutomergeUrl())
    const pinned = stringifyAutomergeUrl({ documentId, heads: encodeHeads(heads) })
    expect(parseDocRef(pinned)).toEqual({ documentId, url: stringifyAutomergeUrl(documentId), heads })
  })

  it("refuses anything else with BAD_DOC_URL quoting the input", () => {
    for (const bad of ["automerge:nope", "", "http://x", "automerge:", "nope", `${generateAutomergeUrl()}#bad`]) {
      const err = expectFedhubError(() => parseDocRef(bad), "BAD_DOC_URL")
      expect(err.detail).toContain(JSON.stringify(bad))
    }
  })
})
