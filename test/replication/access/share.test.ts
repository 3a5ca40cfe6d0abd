/** The share and routing decisions, as pure functions of what a hub knows. */
import { describe, expect, it } from "vitest"
import { Identity } from "../../../src/identity/index.ts"
import { evaluatePolicies, genesisPolicy, newDocumentId } from "../../../src/replication/access/policy.ts"
import { mayRouteThrough, mayShareWith } from "../../../src/replication/access/share.ts"

const owner = Identity.generate()
const reader = Identity.generate().nodeId
const relay = Identity.generate().nodeId
const stranger = Identity.generate().nodeId

describe("mayShareWith", () => {
  const { documentId, nonce } = newDocumentId(owner.nodeId)
  const policy = evaluatePolicies([genesisPolicy(owner, documentId, { nonce, readers: [reader], relays: [relay] })], { documentId }).effective

  it("follows the policy when one is known: owner, readers and relays, nobody else", () => {
    const decide = (nodeId: string) => mayShareWith({ nodeId, policyKnown: true, policy })
    expect([owner.nodeId, reader, relay, stranger].map(decide)).toEqual([true, true, true, false])
  })

  it("fails closed when records are known but none is valid, and ignores a legacy ACL then", () => {
    expect(mayShareWith({ nodeId: reader, policyKnown: true, policy: undefined, legacyAcl: [reader] })).toBe(false)
  })

  it("keeps the legacy rule for documents without policy records", () => {
    expect(mayShareWith({ nodeId: stranger, policyKnown: false, policy: undefined })).toBe(true)
    expect(mayShareWith({ nodeId: stranger, policyKnown: false, policy: undefined, legacyAcl: [reader] })).toBe(false)
    expect(mayShareWith({ nodeId: reader, policyKnown: false, policy: undefined, legacyAcl: [reader] })).toBe(true)
  })
})

describe("mayRouteThrough", () => {
  it("lets a relay look for a document it does not hold only through peers that accept relaying", () => {
    const cases = [
      [{ relay: false, held: false, peerAcceptsRelay: false }, true],
      [{ relay: true, held: true, peerAcceptsRelay: false }, true],
      [{ relay: true, held: false, peerAcceptsRelay: true }, true],
      [{ relay: true, held: false, peerAcceptsRelay: false }, false],
    ] as const
    expect(cases.map(([input]) => mayRouteThrough(input))).toEqual(cases.map(([, want]) => want))
  })
})
