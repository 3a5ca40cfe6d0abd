import { describe, expect, it } from "vitest"
import {
  generateKeyPair,
  isNodeId,
  NODE_ID_LENGTH,
  nodeIdFromPublicKey,
  parseNodeId,
  publicKeyFromNodeId,
} from "../../src/identity/index.ts"
import { codeOf } from "./helpers.ts"

describe("node ids", () => {
  it("round-trips a public key through its node id", () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey } = generateKeyPair()
      const id = nodeIdFromPublicKey(publicKey)
      expect(id).toHaveLength(55)
      expect(NODE_ID_LENGTH).toBe(55)
      expect(id).toMatch(/^fh1[a-z2-7]{52}$/)
      expect(publicKeyFromNodeId(id)).toEqual(publicKey)
      expect(isNodeId(id)).toBe(true)
      expect(parseNodeId(id)).toBe(id)
    }
  })

  it("derives the id of the all-zero key predictably", () => {
    expect(nodeIdFromPublicKey(new Uint8Array(32))).toBe(`fh1${"a".repeat(52)}`)
  })

  it("refuses a key that is not 32 bytes", () => {
    expect(codeOf(() => nodeIdFromPublicKey(new Uint8Array(31)))).toBe("INVALID_INPUT")
  })

  const good = nodeIdFromPublicKey(generateKeyPair().publicKey)
  const bad: [string, unknown][] = [
    ["a wrong prefix", `fh2${good.slice(3)}`],
    ["an uppercase prefix", `FH1${good.slice(3)}`],
    ["no prefix", good.slice(3)],
    ["one character short", good.slice(0, -1)],
    ["one character long", `${good}a`],
    ["uppercase key characters", `fh1${good.slice(3).toUpperCase()}`],
    ["a digit outside base32", `fh1${"1".repeat(52)}`],
    ["a digit outside base32 (8)", `${good.slice(0, 10)}8${good.slice(11)}`],
    ["padding", `${good.slice(0, -1)}=`],
    ["the empty string", ""],
    ["a number", 42],
    ["null", null],
    ["an object", { id: good }],
  ]

  it.each(bad)("refuses %s with BAD_NODE_ID", (_label, value) => {
    expect(isNodeId(value)).toBe(false)
    expect(codeOf(() => parseNodeId(value))).toBe("BAD_NODE_ID")
    expect(codeOf(() => publicKeyFromNodeId(value as string))).toBe("BAD_NODE_ID")
  })

  it("refuses a second spelling of the same key (non-zero padding bits in the last character)", () => {
    const id = nodeIdFromPublicKey(new Uint8Array(32))
    const alias = `${id.slice(0, -1)}b`
    expect(isNodeId(alias)).toBe(false)
    expect(codeOf(() => parseNodeId(alias))).toBe("BAD_NODE_ID")
  })
})
