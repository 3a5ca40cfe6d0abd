/**
 * The pure halves of TLS binding, without a network: which server certificates a dialer
 * accepts, and the channel both handshake proofs carry.
 */
import { X509Certificate } from "node:crypto"
import { describe, expect, it } from "vitest"
import { certificateFingerprint, certificateNodeId, Identity, makeNodeCertificate, nodeTls, randomNonce } from "../../src/identity/index.ts"
import { answerChallenge, HANDSHAKE_PROTOCOL, HandshakeServer, syncEndpoint } from "../../src/replication/handshake.ts"
import { acceptServerCertificate, type ServerTlsView } from "../../src/replication/tlsLink.ts"
import { privateCa } from "./wire.ts"

const endpoint = syncEndpoint("https://127.0.0.1:7420")
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f()
    return undefined
  } catch (e) {
    return (e as { code?: string }).code
  }
}

describe("the node certificate", () => {
  it("is over the node key itself, so its key is the node id", () => {
    const id = Identity.generate("n")
    const cert = new X509Certificate(makeNodeCertificate(id))
    expect(certificateNodeId(cert)).toBe(id.nodeId)
    expect(cert.verify(cert.publicKey)).toBe(true)
    expect(cert.subject).toBe(`CN=${id.nodeId}`)
    expect(cert.ca).toBe(false)
    expect(nodeTls(id).fingerprint).toBe(certificateFingerprint(new X509Certificate(nodeTls(id).cert)))
  })

  it("is well-formed DER every time (a serial number never starts with a zero byte)", () => {
    const id = Identity.generate("n")
    for (let i = 0; i < 500; i++) expect(certificateNodeId(new X509Certificate(makeNodeCertificate(id)))).toBe(id.nodeId)
  })

  it("a CA-issued certificate is not a node certificate of its subject", () => {
    const { cert } = privateCa()
    const leaf = new X509Certificate(cert)
    expect(certificateNodeId(leaf)).toBeUndefined() // an ECDSA key is no node's key
    expect(leaf.checkHost("localhost")).toBe("localhost")
  })
})

describe("which server certificates a dialer accepts", () => {
  const b = Identity.generate("b")
  const certB = new X509Certificate(nodeTls(b).cert)
  const certM = new X509Certificate(nodeTls(Identity.generate("mallory")).cert)
  it("the expected node's own key, with no CA", () => {
    expect(acceptServerCertificate(certB, false, { expectNodeId: b.nodeId })).toMatchObject({ nodeId: b.nodeId, caVerified: false })
  })
  it("not another node's key, nor none", () => {
    expect(codeOf(() => acceptServerCertificate(certM, false, { expectNodeId: b.nodeId }))).toBe("CERT_MISMATCH")
    expect(codeOf(() => acceptServerCertificate(undefined, false, {}))).toBe("CERT_MISMATCH")
  })
  it("a CA-verified certificate for the name, the node then bound by the transcript", () => {
    const ca = new X509Certificate(privateCa().cert)
    expect(acceptServerCertificate(ca, true, { expectNodeId: b.nodeId }).caVerified).toBe(true)
    expect(codeOf(() => acceptServerCertificate(ca, false, { expectNodeId: b.nodeId }))).toBe("CERT_MISMATCH")
  })
  it("only the certificate the challenge was answered on, for the upgrade", () => {
    expect(codeOf(() => acceptServerCertificate(certM, false, { fingerprint: certificateFingerprint(certB) }))).toBe("CERT_MISMATCH")
    expect(acceptServerCertificate(certB, false, { fingerprint: certificateFingerprint(certB) }).fingerprint).toBe(certificateFingerprint(certB))
  })
})

describe("the channel in the handshake transcript", () => {
  const server = Identity.generate("server")
  const client = Identity.generate("client")
  const channel = { server: nodeTls(server).fingerprint, client: nodeTls(client).fingerprint }
  const tlsView = { encrypted: true, channel, clientNodeId: client.nodeId }
  const ask = (hs: HandshakeServer, view: ServerTlsView = tlsView) => {
    const clientNonce = randomNonce()
    return { clientNonce, response: hs.challenge({ protocol: HANDSHAKE_PROTOCOL, clientId: client.nodeId, clientNonce, endpoint }, undefined, Date.now(), view) }
  }

  it("is signed by the server and checked by the client", () => {
    const hs = new HandshakeServer(server)
    const { clientNonce, response } = ask(hs)
    expect((response.proof.payload as { channel?: unknown }).channel).toEqual(channel)
    expect(() => answerChallenge(client, { clientNonce, endpoint, channel }, response)).not.toThrow()
    // the client sees another server certificate: someone terminates TLS in between
    const other = ask(hs)
    expect(() => answerChallenge(client, { clientNonce: other.clientNonce, endpoint, channel: { ...channel, server: channel.client } }, other.response)).toThrow(
      /someone in the middle/,
    )
  })

  it("a client whose certificate is not its own key, or that presents none, gets no challenge", () => {
    const hs = new HandshakeServer(server)
    expect(codeOf(() => ask(hs, { ...tlsView, clientNodeId: server.nodeId }))).toBe("CERT_MISMATCH")
    expect(codeOf(() => ask(hs, { encrypted: true, channel: { ...channel, client: "" } }))).toBe("UNAUTHORIZED")
    expect(codeOf(() => ask(hs, { encrypted: false }))).toBe("UNAUTHORIZED") // wss:// endpoint on a plain socket
  })

  it("a proof is refused on an upgrade with another channel, and accepted on its own", () => {
    const hs = new HandshakeServer(server)
    const first = ask(hs)
    const proof = answerChallenge(client, { clientNonce: first.clientNonce, endpoint, channel }, first.response).proof
    expect(codeOf(() => hs.verifyProof(proof, Date.now(), { encrypted: true, channel: { ...channel, client: channel.server } }))).toBe("UNAUTHORIZED")
    const second = ask(hs)
    const good = answerChallenge(client, { clientNonce: second.clientNonce, endpoint, channel }, second.response).proof
    expect(hs.verifyProof(good, Date.now(), tlsView)).toBe(client.nodeId)
  })
})
