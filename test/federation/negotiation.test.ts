/**
 * Negotiation is a pure function of two offers: both hubs compute the same
 * agreement, or the same refusal with every reason named.
 */
import { describe, expect, it } from "vitest"
import { FedhubError } from "../../src/errors.ts"
import {
  compareVersions,
  highestCommonVersion,
  LEGACY_OFFER,
  negotiate,
  offerFromNode,
  verifyAgreement,
  type Offer,
} from "../../src/federation/negotiation.ts"
import { buildDescriptor } from "../../src/federation/descriptor.ts"
import { Identity } from "../../src/identity/index.ts"
import { isValid } from "../../src/schema/index.ts"

const offer = (over: Partial<Offer> = {}, policies: Partial<Offer["policies"]> = {}): Offer => ({
  protocolVersions: ["fedhub/1"],
  capabilities: ["sync", "directory"],
  ...over,
  policies: { dataRetentionDays: 30, requireEncryption: false, acceptsRelay: false, ...policies },
})

const plain = { encrypted: false }
const tls = { encrypted: true }

/** The NEGOTIATION_FAILED error `fn` throws. */
function refusal(fn: () => unknown): FedhubError {
  try {
    fn()
  } catch (e) {
    if (e instanceof FedhubError && e.code === "NEGOTIATION_FAILED") return e
    throw e
  }
  throw new Error("expected NEGOTIATION_FAILED, nothing was thrown")
}

describe("negotiation", () => {
  it("agrees the highest protocol version both speak", () => {
    const server = offer({ protocolVersions: ["fedhub/1", "fedhub/2", "fedhub/10"] })
    const client = offer({ protocolVersions: ["fedhub/10", "fedhub/2", "fedhub/3"] })
    expect(negotiate(server, client, plain).protocolVersion).toBe("fedhub/10")
    expect(negotiate(client, server, { ...plain, localRole: "client" }).protocolVersion).toBe("fedhub/10")
    expect(highestCommonVersion(["fedhub/1"], ["fedhub/2"])).toBeUndefined()
    expect(["fedhub/10", "fedhub/9", "fedhub/2"].sort(compareVersions)).toEqual(["fedhub/2", "fedhub/9", "fedhub/10"])
  })

  it("agrees the intersection of capabilities and records both sides' policies by role", () => {
    const server = offer({ capabilities: ["sync", "directory", "relay"] }, { acceptsRelay: true, dataRetentionDays: 7 })
    const client = offer({ capabilities: ["marketplace", "sync", "directory"] }, { dataRetentionDays: null })
    const agreement = negotiate(server, client, plain)
    expect(agreement).toEqual({
      protocolVersion: "fedhub/1",
      capabilities: ["directory", "sync"],
      policies: { server: server.policies, client: client.policies },
    })
    expect(isValid("handshake#Agreement", agreement)).toBe(true)
    // the same answer whichever side computes it
    expect(negotiate(client, server, { ...plain, localRole: "client" })).toEqual(agreement)
  })

  it("refuses when no protocol version is common, listing both sides'", () => {
    const e = refusal(() => negotiate(offer({ protocolVersions: ["fedhub/2"] }), offer({ protocolVersions: ["fedhub/1"] }), plain))
    expect(e.detail).toBe("no common protocol version: the client speaks fedhub/1; the server speaks fedhub/2")
    expect(e.status).toBe(403)
    expect(e.exitCode).toBe(3)
  })

  it("refuses a peer that keeps data longer than the server accepts", () => {
    const server = offer({ requirements: { maxPeerRetentionDays: 30 } })
    const e = refusal(() => negotiate(server, offer({}, { dataRetentionDays: 365 }), plain))
    expect(e.detail).toBe("retention policy incompatible: the client keeps peers' data for 365 days, the server accepts at most 30 days")
    expect(negotiate(server, offer({}, { dataRetentionDays: 30 }), plain).policies.client.dataRetentionDays).toBe(30)
  })

  it("refuses, the other way round, a server that keeps data forever when the client limits retention", () => {
    const server = offer({}, { dataRetentionDays: null })
    const client = offer({ requirements: { maxPeerRetentionDays: 1 } })
    expect(refusal(() => negotiate(server, client, plain)).detail).toBe(
      "retention policy incompatible: the server keeps peers' data forever, the client accepts at most 1 day",
    )
    // no limit (null) accepts forever
    expect(() => negotiate(server, offer({ requirements: { maxPeerRetentionDays: null } }), plain)).not.toThrow()
  })

  it("treats a peer that sent no offer as keeping data forever", () => {
    const server = offer({ requirements: { maxPeerRetentionDays: 90 } })
    expect(refusal(() => negotiate(server, LEGACY_OFFER, plain)).detail).toMatch(/client keeps peers' data forever/)
  })

  it("refuses when a required capability is not offered by the peer", () => {
    const server = offer({ capabilities: ["sync", "relay"], requirements: { requiredCapabilities: ["relay"] } })
    const e = refusal(() => negotiate(server, offer({ capabilities: ["sync"] }), plain))
    expect(e.detail).toBe("the server requires capability relay, which the client does not offer")
    const client = offer({ capabilities: ["sync", "marketplace"], requirements: { requiredCapabilities: ["marketplace"] } })
    expect(refusal(() => negotiate(offer(), client, plain)).detail).toBe(
      "the client requires capability marketplace, which the server does not offer",
    )
  })

  it("refuses a link on plain ws when either side requires encryption, and accepts it over wss", () => {
    const server = offer({}, { requireEncryption: true })
    expect(refusal(() => negotiate(server, offer(), plain)).detail).toBe(
      "the server requires encryption, but the link is plain ws (dial wss://)",
    )
    expect(refusal(() => negotiate(offer(), offer({}, { requireEncryption: true }), plain)).detail).toMatch(/the client requires encryption/)
    expect(negotiate(server, offer({}, { requireEncryption: true }), tls).policies.server.requireEncryption).toBe(true)
  })

  it("names every reason at once", () => {
    const server = offer({ protocolVersions: ["fedhub/2"], requirements: { maxPeerRetentionDays: 1 } }, { requireEncryption: true })
    const e = refusal(() => negotiate(server, offer(), plain))
    expect(e.extra?.reasons).toHaveLength(3)
    expect(e.detail.split("; ")).toHaveLength(4) // the version reason itself holds one "; "
  })

  it("builds a hub's offer from its descriptor", () => {
    const node = buildDescriptor(
      Identity.generate("a"),
      { name: "a", type: "relay", federationMode: "open", dataRetentionDays: 14 },
      { endpoints: ["ws://127.0.0.1:1/sync"], startedAt: 0 },
    )
    const built = offerFromNode(node, { maxPeerRetentionDays: 30 })
    expect(built).toEqual({
      protocolVersions: ["fedhub/1"],
      capabilities: node.services.capabilities,
      policies: { dataRetentionDays: 14, requireEncryption: false, acceptsRelay: true },
      requirements: { maxPeerRetentionDays: 30 },
    })
    expect(isValid("handshake#Offer", built)).toBe(true)
  })
})

describe("the client's check of a signed agreement", () => {
  const client = offer({ capabilities: ["sync", "directory"], requirements: { maxPeerRetentionDays: 30 } })

  it("accepts the agreement the server negotiated", () => {
    const agreement = negotiate(offer({}, { dataRetentionDays: 7 }), client, plain)
    expect(verifyAgreement(client, agreement, plain)).toBe(agreement)
  })

  it("refuses a server that did not negotiate", () => {
    expect(refusal(() => verifyAgreement(client, undefined, plain)).detail).toMatch(/did not negotiate/)
  })

  it("refuses an agreement that breaks the client's own requirements or misstates its offer", () => {
    const agreement = negotiate(offer({}, { dataRetentionDays: 7 }), client, plain)
    const forever = { ...agreement, policies: { ...agreement.policies, server: { ...agreement.policies.server, dataRetentionDays: null } } }
    expect(refusal(() => verifyAgreement(client, forever, plain)).detail).toMatch(/server keeps peers' data forever, the client accepts at most 30/)
    const misstated = { ...agreement, policies: { ...agreement.policies, client: { ...agreement.policies.client, dataRetentionDays: 0 } } }
    expect(refusal(() => verifyAgreement(client, misstated, plain)).detail).toMatch(/misstates the client's policies/)
    expect(refusal(() => verifyAgreement(client, { ...agreement, capabilities: ["relay", "sync"] }, plain)).detail).toMatch(
      /capabilities the client does not offer: relay/,
    )
    expect(refusal(() => verifyAgreement(client, { ...agreement, protocolVersion: "fedhub/9" }, plain)).detail).toMatch(
      /no common protocol version/,
    )
  })
})
