import { createHash } from "node:crypto"
import { describe, expect, it } from "vitest"
import { assertIntegersOnly, canonicalBytes, canonicalJson, contentId, utf8 } from "../../src/identity/index.ts"
import { codeOf, errorOf } from "./helpers.ts"

describe("canonical JSON (RFC 8785)", () => {
  it("matches the RFC's section 3.2.2 example byte for byte", () => {
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50,
                  2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`
    expect(canonicalJson(JSON.parse(input))).toBe(expected)
    expect(canonicalBytes(JSON.parse(input))).toEqual(utf8(expected))
  })

  it("sorts keys by UTF-16 code units as in the RFC's section 3.2.3 example", () => {
    const input = String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`
    const expected =
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    expect(canonicalJson(JSON.parse(input))).toBe(expected)
  })

  // RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
  const appendixB: [string, string][] = [
    ["0000000000000000", "0"],
    ["8000000000000000", "0"],
    ["0000000000000001", "5e-324"],
    ["8000000000000001", "-5e-324"],
    ["7fefffffffffffff", "1.7976931348623157e+308"],
    ["ffefffffffffffff", "-1.7976931348623157e+308"],
    ["4340000000000000", "9007199254740992"],
    ["c340000000000000", "-9007199254740992"],
    ["4430000000000000", "295147905179352830000"],
    ["44b52d02c7e14af5", "9.999999999999997e+22"],
    ["44b52d02c7e14af6", "1e+23"],
    ["44b52d02c7e14af7", "1.0000000000000001e+23"],
    ["444b1ae4d6e2ef4e", "999999999999999700000"],
    ["444b1ae4d6e2ef4f", "999999999999999900000"],
    ["444b1ae4d6e2ef50", "1e+21"],
    ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
    ["3eb0c6f7a0b5ed8d", "0.000001"],
    ["41b3de4355555553", "333333333.3333332"],
    ["41b3de4355555554", "333333333.33333325"],
    ["41b3de4355555555", "333333333.3333333"],
    ["41b3de4355555556", "333333333.3333334"],
    ["41b3de4355555557", "333333333.33333343"],
    ["becbf647612f3696", "-0.0000033333333333333333"],
    ["43143ff3c1cb0959", "1424953923781206.2"],
  ]
  const fromBits = (bits: string): number => {
    const view = new DataView(new ArrayBuffer(8))
    view.setBigUint64(0, BigInt(`0x${bits}`))
    return view.getFloat64(0)
  }

  it.each(appendixB)("serializes the number with bits %s as %s (Appendix B)", (bits, expected) => {
    expect(canonicalJson(fromBits(bits))).toBe(expected)
    expect(canonicalJson([fromBits(bits)])).toBe(`[${expected}]`)
  })

  it("refuses NaN and Infinity from Appendix B with NOT_CANONICAL", () => {
    expect(codeOf(() => canonicalJson(fromBits("7fffffffffffffff")))).toBe("NOT_CANONICAL")
    expect(codeOf(() => canonicalJson(fromBits("7ff0000000000000")))).toBe("NOT_CANONICAL")
    expect(codeOf(() => canonicalJson({ a: [1, -Infinity] }))).toBe("NOT_CANONICAL")
  })

  it("refuses values JSON cannot represent with NOT_CANONICAL", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const cases: [string, unknown][] = [
      ["undefined at the top level", undefined],
      ["a function", () => 1],
      ["a function inside an object", { f: () => 1 }],
      ["a symbol", Symbol("s")],
      ["a BigInt", 10n],
      ["a BigInt inside an array", [1n]],
      ["undefined inside an array", [1, undefined]],
      ["a lone surrogate", "\ud800"],
      ["a lone surrogate in a key", { "\udc00": 1 }],
      ["a cycle", cyclic],
      ["a Map", new Map([["a", 1]])],
      ["a Uint8Array", new Uint8Array(2)],
    ]
    for (const [label, value] of cases) expect(codeOf(() => canonicalJson(value)), label).toBe("NOT_CANONICAL")
  })

  it("names the path of the offending value", () => {
    expect(errorOf(() => canonicalJson({ a: [0, { b: NaN }] })).detail).toContain("$.a[1].b")
  })

  it("omits object properties that are undefined, as JSON does", () => {
    expect(canonicalJson({ b: 1, a: undefined })).toBe('{"b":1}')
  })

  it("uses toJSON like JSON.stringify (a Date becomes its ISO string)", () => {
    expect(canonicalJson({ d: new Date(0) })).toBe('{"d":"1970-01-01T00:00:00.000Z"}')
  })

  it("allows the same object twice when it is not a cycle", () => {
    const shared = { x: 1 }
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}')
  })

  it("refuses nesting deeper than the limit instead of overflowing the stack", () => {
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(codeOf(() => canonicalJson(deep))).toBe("NOT_CANONICAL")
    expect(codeOf(() => assertIntegersOnly(deep))).toBe("INVALID_INPUT")
  })
})

describe("integers-only payloads", () => {
  it("accepts nested plain data with safe integers", () => {
    expect(() =>
      assertIntegersOnly({ a: [1, -2, 0, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER], b: { c: "x", d: null, e: true } }),
    ).not.toThrow()
    expect(() => assertIntegersOnly(Object.assign(Object.create(null), { a: 1 }))).not.toThrow()
  })

  it("refuses a float with FLOAT_IN_PAYLOAD naming its JSON path", () => {
    const e = errorOf(() => assertIntegersOnly({ items: [{ price: 3 }, { price: 4.5 }] }))
    expect(e.code).toBe("FLOAT_IN_PAYLOAD")
    expect(e.detail).toContain("$.items[1].price")
    expect(e.extra).toEqual({ path: "$.items[1].price" })
  })

  it("quotes keys that are not identifiers in the path", () => {
    expect(errorOf(() => assertIntegersOnly({ "a b": 0.5 })).extra).toEqual({ path: '$["a b"]' })
  })

  it("refuses NaN and Infinity as non-integers", () => {
    expect(codeOf(() => assertIntegersOnly(NaN))).toBe("FLOAT_IN_PAYLOAD")
    expect(codeOf(() => assertIntegersOnly([Infinity]))).toBe("FLOAT_IN_PAYLOAD")
  })

  it("refuses integers beyond Number.MAX_SAFE_INTEGER", () => {
    expect(codeOf(() => assertIntegersOnly({ n: Number.MAX_SAFE_INTEGER + 1 }))).toBe("INVALID_INPUT")
    expect(codeOf(() => assertIntegersOnly(1e21))).toBe("INVALID_INPUT")
  })

  it("refuses undefined, holes, BigInt, functions and non-plain objects with INVALID_INPUT", () => {
    const cases: [string, unknown][] = [
      ["undefined at the top", undefined],
      ["undefined inside an object", { a: undefined }],
      ["a hole in an array", [1, , 3]],
      ["a BigInt", { n: 1n }],
      ["a function", { f: () => 1 }],
      ["a Date", { d: new Date() }],
      ["a Uint8Array", { b: new Uint8Array(1) }],
      ["a Map", new Map()],
      ["a class instance", new (class Foo {})()],
    ]
    for (const [label, value] of cases) expect(codeOf(() => assertIntegersOnly(value)), label).toBe("INVALID_INPUT")
  })
})

describe("content ids", () => {
  it("are the hex SHA-256 of the canonical bytes", () => {
    expect(contentId({})).toBe(createHash("sha256").update("{}").digest("hex"))
    expect(contentId({})).toBe("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
  })

  it("do not depend on key order or whitespace", () => {
    expect(contentId(JSON.parse('{ "b": [1, 2], "a": "x" }'))).toBe(contentId({ a: "x", b: [1, 2] }))
    expect(contentId({ a: 1 })).not.toBe(contentId({ a: 2 }))
  })
})
