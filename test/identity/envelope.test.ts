import nacl from "tweetnacl"
import { describe, expect, it } from "vitest"
import {
  canonicalBytes,
  envelopeId,
  envelopeSigningBytes,
  fromBase64,
  Identity,
  nodeIdFromPublicKey,
  signEnvelope,
  toBase64,
  verifyEnvelope,
  type SignedEnvelope,
} from "../../src/identity/index.ts"
import { addLToS, codeOf } from "./helpers.ts"

const alice = Identity.fromSeed(new Uint8Array(32).fill(1), "alice")
const bob = Identity.fromSeed(new Uint8Array(32).fill(2), "bob")
const T0 = 1_700_000_000_000
const PURPOSE = "fedhub/test.item:v1"
const payload = { title: "Weather model", price: 1200, tags: ["nlp", "small"], owner: { name: "alice", seats: 3 } }

const signed = (): SignedEnvelope<typeof payload> => signEnvelope(alice, PURPOSE, structuredClone(payload), T0)
/** A JSON round trip, as the envelope would arrive from a peer. */
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T
const verify = (env: unknown, extra: Partial<Parameters<typeof verifyEnvelope>[1]> = {}) =>
  verifyEnvelope(env, { purpose: PURPOSE, ...extra })

describe("signed envelopes", () => {
  it("round-trips through JSON and verifies", () => {
    const env = signed()
    expect(env).toMatchObject({ v: 1, purpose: PURPOSE, signer: alice.nodeId, time: T0, payload })
    expect(fromBase64(env.sig)).toHaveLength(64)
    const got = verify(wire(env), { signer: alice.nodeId })
    expect(got).toEqual(env)
  })

  it("signs exactly the canonical bytes of v, purpose, signer, time and payload", () => {
    const env = signed()
    const bytes = canonicalBytes({ v: 1, purpose: PURPOSE, signer: alice.nodeId, time: T0, payload })
    expect(envelopeSigningBytes(env)).toEqual(bytes)
    expect(nacl.sign.detached.verify(bytes, fromBase64(env.sig), alice.publicKey)).toBe(true)
  })

  it("signs deterministically: same content, same signature", () => {
    expect(signed().sig).toBe(signed().sig)
  })

  it("uses Date.now() when no time is given", () => {
    const before = Date.now()
    const env = signEnvelope(alice, PURPOSE, { a: 1 })
    expect(env.time).toBeGreaterThanOrEqual(before)
    expect(env.time).toBeLessThanOrEqual(Date.now())
  })

  it("refuses a signature made for another purpose", () => {
    const env = signEnvelope(alice, "fedhub/vote", { approve: 1 }, T0)
    expect(codeOf(() => verifyEnvelope(env, { purpose: "fedhub/rating" }))).toBe("WRONG_PURPOSE")
  })

  it("refuses an envelope whose purpose was rewritten to the expected one", () => {
    const env = { ...signEnvelope(alice, "fedhub/vote", { approve: 1 }, T0), purpose: "fedhub/rating" }
    expect(codeOf(() => verifyEnvelope(env, { purpose: "fedhub/rating" }))).toBe("SIGNATURE_INVALID")
  })

  it("refuses an envelope signed by another node than the expected one", () => {
    expect(codeOf(() => verify(signed(), { signer: bob.nodeId }))).toBe("WRONG_SIGNER")
  })

  it("refuses an envelope whose signer was swapped for another node", () => {
    expect(codeOf(() => verify({ ...signed(), signer: bob.nodeId }))).toBe("SIGNATURE_INVALID")
    expect(codeOf(() => verify({ ...signed(), signer: bob.nodeId }, { signer: bob.nodeId }))).toBe("SIGNATURE_INVALID")
  })

  it("refuses a signer that is not a node id", () => {
    expect(codeOf(() => verify({ ...signed(), signer: "alice" }))).toBe("BAD_NODE_ID")
    expect(codeOf(() => verify({ ...signed(), signer: alice.nodeId.toUpperCase() }))).toBe("BAD_NODE_ID")
  })

  it("refuses every single character of every payload string altered", () => {
    const env = wire(signed())
    let checked = 0
    const strings: [string, (e: SignedEnvelope<typeof payload>, s: string) => void][] = [
      [env.payload.title, (e, s) => (e.payload.title = s)],
      [env.payload.tags[0]!, (e, s) => (e.payload.tags[0] = s)],
      [env.payload.tags[1]!, (e, s) => (e.payload.tags[1] = s)],
      [env.payload.owner.name, (e, s) => (e.payload.owner.name = s)],
    ]
    for (const [original, set] of strings) {
      for (let i = 0; i < original.length; i++) {
        const altered = wire(env)
        const flipped = String.fromCharCode(original.charCodeAt(i) ^ 1)
        set(altered, original.slice(0, i) + flipped + original.slice(i + 1))
        expect(codeOf(() => verify(altered)), `${original}[${i}]`).toBe("SIGNATURE_INVALID")
        checked++
      }
    }
    expect(checked).toBeGreaterThan(20)
  })

  it("refuses every integer changed, a key added or removed, and elements reordered", () => {
    const tamper: [string, (e: SignedEnvelope<typeof payload>) => void][] = [
      ["price + 1", (e) => (e.payload.price += 1)],
      ["price - 1", (e) => (e.payload.price -= 1)],
      ["price negated", (e) => (e.payload.price = -e.payload.price)],
      ["seats changed", (e) => (e.payload.owner.seats = 4)],
      ["key added", (e) => Object.assign(e.payload, { extra: 0 })],
      ["nested key added", (e) => Object.assign(e.payload.owner, { admin: true })],
      ["key removed", (e) => delete (e.payload as Partial<typeof payload>).tags],
      ["array reordered", (e) => e.payload.tags.reverse()],
      ["array element added", (e) => e.payload.tags.push("x")],
      ["string became number", (e) => ((e.payload as Record<string, unknown>).title = 1)],
      ["payload replaced", (e) => ((e as { payload: unknown }).payload = {})],
      ["payload null", (e) => ((e as { payload: unknown }).payload = null)],
      ["time + 1", (e) => (e.time += 1)],
      ["time - 1", (e) => (e.time -= 1)],
    ]
    for (const [label, change] of tamper) {
      const env = wire(signed())
      change(env)
      expect(codeOf(() => verify(env)), label).toBe("SIGNATURE_INVALID")
    }
  })

  it("refuses any single bit of the signature flipped", () => {
    const env = signed()
    const sig = fromBase64(env.sig)
    for (let bit = 0; bit < 512; bit += 7) {
      const bad = Uint8Array.from(sig)
      bad[bit >> 3]! ^= 1 << (bit & 7)
      expect(["SIGNATURE_INVALID", "SIGNATURE_MALLEABLE"]).toContain(codeOf(() => verify({ ...env, sig: toBase64(bad) })))
    }
  })

  it("refuses a malleable signature (S + L) with SIGNATURE_MALLEABLE although tweetnacl accepts it", () => {
    const env = signed()
    const forged = addLToS(fromBase64(env.sig))
    expect(nacl.sign.detached.verify(envelopeSigningBytes(env), forged, alice.publicKey)).toBe(true)
    expect(codeOf(() => verify({ ...env, sig: toBase64(forged) }))).toBe("SIGNATURE_MALLEABLE")
  })

  it("gives the forged and the genuine envelope the same id, since ids never cover signatures", () => {
    const env = signed()
    const forged = { ...env, sig: toBase64(addLToS(fromBase64(env.sig))) }
    expect(envelopeId(forged)).toBe(envelopeId(env))
    expect(envelopeId(env)).toMatch(/^[0-9a-f]{64}$/)
    expect(envelopeId(env)).not.toBe(envelopeId({ ...env, time: T0 + 1 }))
  })

  it("refuses a signature that is not base64 or not 64 bytes", () => {
    expect(codeOf(() => verify({ ...signed(), sig: "not base64!" }))).toBe("SIGNATURE_INVALID")
    expect(codeOf(() => verify({ ...signed(), sig: toBase64(new Uint8Array(63)) }))).toBe("SIGNATURE_INVALID")
    expect(codeOf(() => verify({ ...signed(), sig: "" }))).toBe("SIGNATURE_INVALID")
  })

  it("refuses floats at signing time, naming the path", () => {
    expect(codeOf(() => signEnvelope(alice, PURPOSE, { price: 9.99 }, T0))).toBe("FLOAT_IN_PAYLOAD")
    expect(codeOf(() => signEnvelope(alice, PURPOSE, [1, [2, 0.5]], T0))).toBe("FLOAT_IN_PAYLOAD")
  })

  it("refuses floats at verification time even under a valid signature", () => {
    const body = { v: 1 as const, purpose: PURPOSE, signer: alice.nodeId, time: T0, payload: { price: 9.99 } }
    const env = { ...body, sig: toBase64(alice.sign(envelopeSigningBytes(body))) }
    expect(codeOf(() => verify(env))).toBe("FLOAT_IN_PAYLOAD")
  })

  it("refuses payloads that are not plain integer JSON at signing time", () => {
    expect(codeOf(() => signEnvelope(alice, PURPOSE, { when: new Date() }, T0))).toBe("INVALID_INPUT")
    expect(codeOf(() => signEnvelope(alice, PURPOSE, { a: undefined }, T0))).toBe("INVALID_INPUT")
    expect(codeOf(() => signEnvelope(alice, PURPOSE, undefined, T0))).toBe("INVALID_INPUT")
    expect(codeOf(() => signEnvelope(alice, PURPOSE, { n: 2 ** 60 }, T0))).toBe("INVALID_INPUT")
  })

  it("refuses malformed purposes and times at signing time", () => {
    for (const p of ["", "Fedhub/x", "-x", "has space", "x".repeat(129), "ümlaut"])
      expect(codeOf(() => signEnvelope(alice, p, {}, T0)), p).toBe("INVALID_INPUT")
    for (const t of [1.5, -1, NaN, 2 ** 60]) expect(codeOf(() => signEnvelope(alice, PURPOSE, {}, t)), String(t)).toBe("INVALID_INPUT")
  })

  describe("timestamps", () => {
    const env = signEnvelope(alice, PURPOSE, { a: 1 }, T0)

    it("accepts an envelope inside the window", () => {
      expect(verify(env, { now: T0 + 60_000, maxAgeMs: 60_000, maxFutureMs: 5_000 }).time).toBe(T0)
      expect(verify(env, { now: T0 - 5_000, maxAgeMs: 60_000, maxFutureMs: 5_000 }).time).toBe(T0)
    })

    it("refuses a stale envelope", () => {
      expect(codeOf(() => verify(env, { now: T0 + 60_001, maxAgeMs: 60_000 }))).toBe("STALE_TIMESTAMP")
    })

    it("refuses an envelope from the future", () => {
      expect(codeOf(() => verify(env, { now: T0 - 5_001, maxFutureMs: 5_000 }))).toBe("STALE_TIMESTAMP")
    })

    it("checks no window when none is given", () => {
      expect(verify(env, { now: T0 + 10 ** 12 }).time).toBe(T0)
    })

    it("reports a re-dated envelope as a bad signature, not as stale", () => {
      expect(codeOf(() => verify({ ...env, time: 0 }, { now: T0, maxAgeMs: 1000 }))).toBe("SIGNATURE_INVALID")
    })
  })

  describe("garbage input", () => {
    const good = wire(signEnvelope(alice, PURPOSE, { a: 1 }, T0))
    const without = (key: string) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== key))
    const cases: [string, unknown][] = [
      ["null", null],
      ["undefined", undefined],
      ["a number", 42],
      ["a string", JSON.stringify(good)],
      ["an array", [good]],
      ["an empty object", {}],
      ["a Map", new Map(Object.entries(good))],
      ["no v", without("v")],
      ["no purpose", without("purpose")],
      ["no signer", without("signer")],
      ["no time", without("time")],
      ["no payload", without("payload")],
      ["no sig", without("sig")],
      ["an extra field", { ...good, note: "unsigned" }],
      ["version 2", { ...good, v: 2 }],
      ["version as string", { ...good, v: "1" }],
      ["a numeric purpose", { ...good, purpose: 1 }],
      ["a numeric signer", { ...good, signer: 1 }],
      ["a string time", { ...good, time: String(T0) }],
      ["a fractional time", { ...good, time: T0 + 0.5 }],
      ["a negative time", { ...good, time: -1 }],
      ["a numeric sig", { ...good, sig: 12 }],
      ["an undefined payload", { ...good, payload: undefined }],
    ]
    it.each(cases)("refuses %s with INVALID_INPUT", (_label, value) => {
      expect(codeOf(() => verify(value))).toBe("INVALID_INPUT")
    })

    it("refuses a malformed expected purpose", () => {
      expect(codeOf(() => verifyEnvelope(good, { purpose: "" }))).toBe("INVALID_INPUT")
      expect(codeOf(() => verifyEnvelope(good, null as unknown as { purpose: string }))).toBe("INVALID_INPUT")
      expect(codeOf(() => verify(good, { maxAgeMs: NaN }))).toBe("INVALID_INPUT")
      expect(codeOf(() => verify(good, { now: Infinity, maxAgeMs: 1 }))).toBe("INVALID_INPUT")
      expect(codeOf(() => verify(good, { maxFutureMs: -1 }))).toBe("INVALID_INPUT")
    })

    it("accepts an envelope whose payload is a JSON primitive", () => {
      expect(verify(signEnvelope(alice, PURPOSE, "hi", T0)).payload).toBe("hi")
      expect(verify(signEnvelope(alice, PURPOSE, null, T0)).payload).toBe(null)
    })
  })

  it("binds the envelope's public key to the signer's node id", () => {
    expect(nodeIdFromPublicKey(alice.publicKey)).toBe(signed().signer)
  })
})
