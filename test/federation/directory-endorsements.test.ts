import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import { emptyDirectory, putEndorsement, readDirectory, type DirectoryDoc } from "../../src/federation/directory.ts"
import { endorse } from "../../src/federation/endorsement.ts"
import { canonicalJson, envelopeId, Identity, toBase64, type SignedEnvelope } from "../../src/identity/index.ts"
import type { Endorsement } from "../../src/schema/index.ts"
import { codeOf } from "../identity/helpers.ts"

const id = (n: number, name: string): Identity => Identity.fromSeed(new Uint8Array(32).fill(n), name)
const issuer = id(21, "issuer")
const subject = id(22, "subject")
const other = id(23, "other")
const NOW = 1_700_000_000_000
const DAY = 86_400_000
const wire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T
const key = `${issuer.nodeId}:${subject.nodeId}`
const valid = wire(endorse(issuer, subject.nodeId, { ttlMs: DAY, now: NOW - 1000 }))
/** The valid endorsement with its validity stretched after signing. */
const forged = (): SignedEnvelope<Endorsement> => {
  const f = wire(valid)
  f.payload.expiresAt += 365 * DAY
  return f
}
const put = (doc: A.Doc<DirectoryDoc>, env: unknown, now = NOW) => A.change(doc, d => void putEndorsement(d, env, { now }))
const raw = (doc: A.Doc<DirectoryDoc>, k: string, v: unknown) =>
  A.change(doc, d => {
    d.endorsements[k] = new A.ImmutableString(typeof v === "string" ? v : canonicalJson(v))
  })

describe("endorsements in the directory", () => {
  it("leave a forged record out of the view and list it under refused with its reason", () => {
    const view = readDirectory(raw(A.from<DirectoryDoc>(emptyDirectory()), key, forged()), { now: NOW })
    expect(view.endorsements).toEqual([])
    expect(view.refused).toEqual([
      expect.objectContaining({ key: `endorsement:${key}`, code: "SIGNATURE_INVALID", issuer: issuer.nodeId, subject: subject.nodeId }),
    ])
  })

  it("keep the valid record when a forged one with the same issuer:subject is written concurrently", () => {
    const base = A.from<DirectoryDoc>(emptyDirectory())
    const left = put(A.clone(base), valid)
    const right = raw(A.clone(base), key, forged())
    for (const merged of [A.merge(A.clone(left), right), A.merge(A.clone(right), left)]) {
      const view = readDirectory(merged, { now: NOW })
      expect(view.endorsements.map(e => envelopeId(e))).toEqual([envelopeId(valid)])
      expect(view.refused.map(r => r.code)).toEqual(["SIGNATURE_INVALID"])
    }
  })

  it("refuse to store a forged record, so it never overwrites a valid stored one", () => {
    const doc = put(A.from<DirectoryDoc>(emptyDirectory()), valid)
    expect(codeOf(() => put(doc, forged()))).toBe("SIGNATURE_INVALID")
    expect(codeOf(() => put(doc, { ...wire(valid), sig: toBase64(new Uint8Array(64).fill(9)) }))).toBe("SIGNATURE_INVALID")
    expect(readDirectory(doc, { now: NOW }).endorsements.map(e => envelopeId(e))).toEqual([envelopeId(valid)])
  })

  it("replace a stored endorsement only with a newer valid one of the same pair", () => {
    let doc = put(A.from<DirectoryDoc>(emptyDirectory()), valid)
    doc = put(doc, valid) // the same one: a no-op
    const older = wire(endorse(issuer, subject.nodeId, { ttlMs: 2 * DAY, now: NOW - 5000 }))
    expect(codeOf(() => put(doc, older))).toBe("INVALID_INPUT")
    const newer = wire(endorse(issuer, subject.nodeId, { ttlMs: DAY, now: NOW }))
    doc = put(doc, newer)
    expect(readDirectory(doc, { now: NOW }).endorsements.map(e => envelopeId(e))).toEqual([envelopeId(newer)])
  })

  it("refuse an expired record, one stored under another issuer:subject, garbage and a bad key", () => {
    let doc = A.from<DirectoryDoc>(emptyDirectory())
    const expired = wire(endorse(issuer, subject.nodeId, { ttlMs: 1000, now: NOW - DAY }))
    expect(codeOf(() => put(doc, expired))).toBe("ENDORSEMENT_EXPIRED")
    doc = raw(doc, key, expired)
    doc = raw(doc, `${other.nodeId}:${subject.nodeId}`, valid)
    doc = raw(doc, `${issuer.nodeId}:${other.nodeId}`, "{not json")
    doc = raw(doc, "nonsense", valid)
    const view = readDirectory(doc, { now: NOW })
    expect(view.endorsements).toEqual([])
    expect(view.refused.map(r => [r.key, r.code]).sort()).toEqual(
      [
        [`endorsement:${key}`, "ENDORSEMENT_EXPIRED"],
        [`endorsement:${other.nodeId}:${subject.nodeId}`, "WRONG_SIGNER"],
        [`endorsement:${issuer.nodeId}:${other.nodeId}`, "INVALID_INPUT"],
        ["endorsement:nonsense", "INVALID_INPUT"],
      ].sort(),
    )
  })
})
