import { describe, expect, it } from "vitest"
import { fromBase32, fromBase64, fromBase64Url, toBase32, toBase64, toBase64Url, utf8 } from "../../src/identity/index.ts"
import { codeOf } from "./helpers.ts"

const ascii = (s: string) => utf8(s)

describe("base64", () => {
  it("encodes the RFC 4648 test vectors with padding", () => {
    expect(toBase64(ascii(""))).toBe("")
    expect(toBase64(ascii("f"))).toBe("Zg==")
    expect(toBase64(ascii("fo"))).toBe("Zm8=")
    expect(toBase64(ascii("foo"))).toBe("Zm9v")
    expect(toBase64(ascii("foobar"))).toBe("Zm9vYmFy")
  })

  it("decodes padded and unpadded forms alike", () => {
    expect(fromBase64("Zg==")).toEqual(ascii("f"))
    expect(fromBase64("Zg")).toEqual(ascii("f"))
    expect(fromBase64("Zm8=")).toEqual(ascii("fo"))
    expect(fromBase64("Zm8")).toEqual(ascii("fo"))
    expect(fromBase64("")).toEqual(new Uint8Array(0))
  })

  it("round-trips every byte value", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect(fromBase64(toBase64(all))).toEqual(all)
    expect(fromBase64Url(toBase64Url(all))).toEqual(all)
  })

  it("encodes a view of a larger buffer without leaking the rest", () => {
    const big = Uint8Array.from([1, 2, 3, 4, 5])
    expect(toBase64(big.subarray(1, 3))).toBe(toBase64(Uint8Array.from([2, 3])))
  })

  it("refuses characters outside the alphabet with INVALID_INPUT", () => {
    for (const bad of ["Zm9v!", "Zm 9v", "Zm9v\n", "Zm-_", "Zg=a", "Z===", "Zg===", "Zm9vY", "=Zg="])
      expect(codeOf(() => fromBase64(bad)), bad).toBe("INVALID_INPUT")
  })

  it("refuses a non-string with INVALID_INPUT", () => {
    expect(codeOf(() => fromBase64(42 as unknown as string))).toBe("INVALID_INPUT")
  })
})

describe("base64url", () => {
  it("encodes without padding using - and _", () => {
    expect(toBase64Url(Uint8Array.from([0xfb, 0xff]))).toBe("-_8")
    expect(fromBase64Url("-_8")).toEqual(Uint8Array.from([0xfb, 0xff]))
    expect(fromBase64Url("-_8=")).toEqual(Uint8Array.from([0xfb, 0xff]))
  })

  it("refuses the standard alphabet's + and /", () => {
    expect(codeOf(() => fromBase64Url("+/8"))).toBe("INVALID_INPUT")
  })
})

describe("base32", () => {
  it("encodes the RFC 4648 test vectors in lowercase without padding", () => {
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "my"],
      ["fo", "mzxq"],
      ["foo", "mzxw6"],
      ["foob", "mzxw6yq"],
      ["fooba", "mzxw6ytb"],
      ["foobar", "mzxw6ytboi"],
    ]
    for (const [plain, encoded] of vectors) {
      expect(toBase32(ascii(plain))).toBe(encoded)
      expect(fromBase32(encoded)).toEqual(ascii(plain))
    }
  })

  it("round-trips random lengths", () => {
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff)
      expect(fromBase32(toBase32(bytes))).toEqual(bytes)
    }
  })

  it("refuses uppercase, padding, foreign characters and impossible lengths", () => {
    for (const bad of ["MY", "my======", "m1", "m8", "m", "mzx", "mzxw6y"])
      expect(codeOf(() => fromBase32(bad)), bad).toBe("INVALID_INPUT")
  })

  it("refuses a second spelling with non-zero trailing bits", () => {
    expect(fromBase32("my")).toEqual(ascii("f"))
    expect(codeOf(() => fromBase32("mz"))).toBe("INVALID_INPUT")
  })
})

describe("utf8", () => {
  it("encodes non-ASCII characters as UTF-8", () => {
    expect(utf8("€")).toEqual(Uint8Array.from([0xe2, 0x82, 0xac]))
    expect(utf8("😀")).toEqual(Uint8Array.from([0xf0, 0x9f, 0x98, 0x80]))
  })
})
