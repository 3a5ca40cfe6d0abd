import nacl from "tweetnacl"
import { describe, expect, it } from "vitest"
import {
  canonicalBytes,
  fromBase64,
  fromBase64Url,
  generateKeyPair,
  isMalleableSignature,
  keyPairFromSeed,
  randomNonce,
  signDetached,
  toBase64,
  utf8,
  verifyDetached,
} from "../../src/identity/index.ts"
import { addLToS, codeOf } from "./helpers.ts"

const unpadded = (s: string) => s.replace(/=+$/, "")

describe("Matrix signing test vector", () => {
  // Matrix / ruma-signatures "sign empty JSON" vector. The seed's unpadded base64 has
  // non-zero trailing bits ("…XA1"; ruma spells the same bytes "…XA0").
  const seed = fromBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
  const expectedSig = "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"

  it("derives the vector's public key from its seed", () => {
    expect(seed).toHaveLength(32)
    expect(fromBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0")).toEqual(seed)
    const { publicKey } = keyPairFromSeed(seed)
    expect(unpadded(toBase64(publicKey))).toBe("XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI")
  })

  it("signs the canonical JSON {} bit-exactly", () => {
    const { secretKey } = keyPairFromSeed(seed)
    const sig = signDetached(secretKey, canonicalBytes({}))
    expect(unpadded(toBase64(sig))).toBe(expectedSig)
  })

  it("accepts the vector's signature", () => {
    const { publicKey } = keyPairFromSeed(seed)
    expect(verifyDetached(publicKey, canonicalBytes({}), fromBase64(expectedSig))).toBe(true)
  })

  it("does not accept it under matrix.org's server key l8Hft5qX…, which is not this vector's key", () => {
    const matrixOrgKey = fromBase64("l8Hft5qXKn1vfHrg3p4+W8gELQVo8N13JkluMfmn2sQ")
    expect(verifyDetached(matrixOrgKey, canonicalBytes({}), fromBase64(expectedSig))).toBe(false)
  })
})

describe("key pairs and detached signatures", () => {
  it("derives the same key pair from the same seed", () => {
    const seed = new Uint8Array(32).fill(7)
    expect(keyPairFromSeed(seed)).toEqual(keyPairFromSeed(seed))
    expect(keyPairFromSeed(seed).secretKey).toHaveLength(64)
  })

  it("refuses a seed that is not 32 bytes", () => {
    expect(codeOf(() => keyPairFromSeed(new Uint8Array(31)))).toBe("INVALID_INPUT")
    expect(codeOf(() => keyPairFromSeed("seed" as unknown as Uint8Array))).toBe("INVALID_INPUT")
  })

  it("refuses to sign with a secret key that is not 64 bytes", () => {
    expect(codeOf(() => signDetached(new Uint8Array(32), utf8("x")))).toBe("INVALID_INPUT")
  })

  it("verifies its own signatures and refuses an altered message", () => {
    const kp = generateKeyPair()
    const msg = utf8("hello")
    const sig = signDetached(kp.secretKey, msg)
    expect(verifyDetached(kp.publicKey, msg, sig)).toBe(true)
    expect(verifyDetached(kp.publicKey, utf8("hellp"), sig)).toBe(false)
    expect(verifyDetached(generateKeyPair().publicKey, msg, sig)).toBe(false)
  })

  it("returns false, never throws, on wrong lengths and types", () => {
    const kp = generateKeyPair()
    const msg = utf8("m")
    const sig = signDetached(kp.secretKey, msg)
    expect(verifyDetached(kp.publicKey.subarray(1), msg, sig)).toBe(false)
    expect(verifyDetached(kp.publicKey, msg, sig.subarray(1))).toBe(false)
    expect(verifyDetached(kp.publicKey, msg, new Uint8Array(65))).toBe(false)
    expect(verifyDetached(null as unknown as Uint8Array, msg, sig)).toBe(false)
    expect(verifyDetached(kp.publicKey, "m" as unknown as Uint8Array, sig)).toBe(false)
    expect(verifyDetached(kp.publicKey, msg, toBase64(sig) as unknown as Uint8Array)).toBe(false)
  })

  it("refuses a malleable signature (S + L) that tweetnacl itself accepts", () => {
    const kp = generateKeyPair()
    const msg = utf8("pay 10 to alice")
    const sig = signDetached(kp.secretKey, msg)
    const forged = addLToS(sig)
    expect(forged).not.toEqual(sig)
    expect(nacl.sign.detached.verify(msg, forged, kp.publicKey)).toBe(true)
    expect(isMalleableSignature(forged)).toBe(true)
    expect(isMalleableSignature(sig)).toBe(false)
    expect(verifyDetached(kp.publicKey, msg, forged)).toBe(false)
  })
})

describe("nonces", () => {
  it("are 32 random bytes as base64url, different every time", () => {
    const seen = new Set<string>()
    for (let i = 0; i < 100; i++) {
      const n = randomNonce()
      expect(n).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(fromBase64Url(n)).toHaveLength(32)
      seen.add(n)
    }
    expect(seen.size).toBe(100)
  })
})

describe("node:crypto ed25519 behind signDetached/verifyDetached", () => {
  it("signs exactly what tweetnacl signs and gives tweetnacl's verdicts", () => {
    for (let i = 0; i < 20; i++) {
      const kp = generateKeyPair()
      const message = nacl.randomBytes(i * 7)
      const sig = signDetached(kp.secretKey, message)
      expect(Buffer.from(sig)).toEqual(Buffer.from(nacl.sign.detached(message, kp.secretKey)))
      expect(verifyDetached(kp.publicKey, message, sig)).toBe(true)
      const bad = new Uint8Array(sig)
      bad[i % 64] = bad[i % 64]! ^ 0x10
      expect(verifyDetached(kp.publicKey, message, bad)).toBe(nacl.sign.detached.verify(message, bad, kp.publicKey) && !isMalleableSignature(bad))
    }
  })
})
