/**
 * The hub-to-hub handshake of src/replication/handshake.ts, without sockets:
 * challenge → answer → verify, and every way a proof must be refused (replayed
 * nonce, wrong signer, stale or future timestamp, tampered transcript, agreement
 * altered beside the proof). The same refusals over real HTTP/WebSocket are in
 * sync-auth.test.ts. Every case builds its own server and identities.
 */
import { describe, expect, it, vi } from "vitest"
import { Identity, randomNonce, signEnvelope } from "../../src/identity/index.ts"
import {
  answerChallenge,
  CLIENT_PROOF_PURPOSE,
  challengeUrl,
  HANDSHAKE_PROTOCOL,
  HandshakeServer,
  refusalError,
  SERVER_PROOF_PURPOSE,
  syncEndpoint,
  type Agreement,
  type ChallengeResponse,
  type HandshakeTranscript,
} from "../../src/replication/handshake.ts"
import { codeOf, errorOf } from "../helpers/errors.ts"

const ENDPOINT = "ws://127.0.0.1:7420/sync"
const HOST = "127.0.0.1:7420"
const T0 = 1_700_000_000_000 // a fixed clock: every time below is relative to it

const encode = (envelope: unknown): string => Buffer.from(JSON.stringify(envelope)).toString("base64url")
const decode = (proof: string): { payload: HandshakeTranscript; signer: string; time: number; sig: string } =>
  JSON.parse(Buffer.from(proof, "base64url").toString("utf8"))

/** A fresh server and client, and the client's challenge request. */
function setup(opts: ConstructorParameters<typeof HandshakeServer>[1] = {}) {
  const serverId = Identity.generate("server")
  const client = Identity.generate("client")
  const server = new HandshakeServer(serverId, opts)
  const clientNonce = randomNonce()
  const request = { protocol: HANDSHAKE_PROTOCOL, clientId: client.nodeId, clientNonce, endpoint: ENDPOINT }
  return { serverId, client, server, clientNonce, request }
}

/** A full exchange up to the client's proof (not yet verified). */
function exchange(opts: ConstructorParameters<typeof HandshakeServer>[1] = {}, now = T0) {
  const s = setup(opts)
  const response = s.server.challenge(s.request, HOST, now)
  const answer = answerChallenge(s.client, { clientNonce: s.clientNonce, endpoint: ENDPOINT }, response, now)
  return { ...s, response, answer }
}

/** The transcript the server signed for `response`, for forging client proofs over it. */
const transcriptOf = (response: ChallengeResponse): HandshakeTranscript => (response.proof as { payload: HandshakeTranscript }).payload

describe("a handshake that succeeds", () => {
  it("proves the client's node id to the server, and the server's to the client", () => {
    const { server, serverId, client, clientNonce, response, answer } = exchange()
    expect(response).toMatchObject({ protocol: "fedhub/1", serverId: serverId.nodeId, expiresAt: T0 + 30_000 })
    expect(transcriptOf(response)).toEqual({
      clientId: client.nodeId,
      serverId: serverId.nodeId,
      clientNonce,
      serverNonce: response.serverNonce,
      endpoint: ENDPOINT,
    })
    expect(answer.serverId).toBe(serverId.nodeId)
    expect(answer.agreement).toBeUndefined()
    const proof = decode(answer.proof)
    expect(proof.signer).toBe(client.nodeId)
    expect(proof.payload).toEqual(transcriptOf(response))
    expect(server.verifyProof(answer.proof, T0 + 1_000)).toBe(client.nodeId)
    expect(server.agreementFor(client.nodeId)).toBeUndefined()
  })

  it("signs the negotiated agreement into both proofs and remembers it per node", () => {
    const agreement: Agreement = {
      protocolVersion: "fedhub/1",
      capabilities: ["sync"],
      policies: {
        server: { dataRetentionDays: null, requireEncryption: false, acceptsRelay: false },
        client: { dataRetentionDays: 7, requireEncryption: false, acceptsRelay: false },
      },
    }
    const negotiate = vi.fn(() => agreement)
    const { server, client, clientNonce } = setup({ negotiate })
    const request = { protocol: HANDSHAKE_PROTOCOL, clientId: client.nodeId, clientNonce, endpoint: "http://127.0.0.1:7420" }
    const response = server.challenge(request, HOST, T0)
    expect(negotiate).toHaveBeenCalledExactlyOnceWith(client.nodeId, undefined, { endpoint: ENDPOINT, encrypted: false })
    expect(response.agreement).toEqual(agreement)
    expect(transcriptOf(response).agreement).toEqual(agreement)
    const checkAgreement = vi.fn()
    const answer = answerChallenge(client, { clientNonce, endpoint: ENDPOINT, checkAgreement }, response, T0)
    expect(checkAgreement).toHaveBeenCalledExactlyOnceWith(agreement, response.serverId, { endpoint: ENDPOINT, encrypted: false })
    expect(answer.agreement).toEqual(agreement)
    expect(decode(answer.proof).payload.agreement).toEqual(agreement)
    expect(server.agreementFor(client.nodeId)).toBeUndefined() // not before the proof is verified
    expect(server.verifyProof(answer.proof, T0)).toBe(client.nodeId)
    expect(server.agreementFor(client.nodeId)).toEqual(agreement)
  })

  it("normalizes every spelling of a hub's address to the one sync endpoint both sides sign", () => {
    expect(syncEndpoint("http://h.test:1")).toBe("ws://h.test:1/sync")
    expect(syncEndpoint("https://h.test/")).toBe("wss://h.test/sync")
    expect(syncEndpoint("wss://h.test/base/sync/")).toBe("wss://h.test/base/sync")
    expect(syncEndpoint("ws://h.test/base")).toBe("ws://h.test/base/sync")
    expect(challengeUrl("wss://h.test/sync")).toBe("https://h.test/sync/challenge")
    expect(codeOf(() => syncEndpoint("ftp://h.test"))).toBe("INVALID_INPUT")
    expect(codeOf(() => syncEndpoint("not a url"))).toBe("INVALID_INPUT")
  })
})

describe("replayed nonces", () => {
  it("refuses a proof presented twice (the server nonce is single-use)", () => {
    const { server, client, answer } = exchange()
    expect(server.verifyProof(answer.proof, T0)).toBe(client.nodeId)
    expect(codeOf(() => server.verifyProof(answer.proof, T0 + 1))).toBe("NONCE_REPLAYED")
  })

  it("refuses a challenge that reuses a client nonce", () => {
    const { server, request } = setup()
    server.challenge(request, HOST, T0)
    expect(codeOf(() => server.challenge(request, HOST, T0 + 1))).toBe("NONCE_REPLAYED")
  })

  it("consumes the server nonce on a proof that does not match, so the genuine one is refused after it", () => {
    const { server, client, response, answer } = exchange()
    const forged = signEnvelope(client, CLIENT_PROOF_PURPOSE, { ...transcriptOf(response), endpoint: "ws://127.0.0.1:9/sync" }, T0)
    expect(codeOf(() => server.verifyProof(encode(forged), T0))).toBe("UNAUTHORIZED")
    expect(codeOf(() => server.verifyProof(answer.proof, T0))).toBe("NONCE_REPLAYED")
  })

  it("does not accept a proof made for another server", () => {
    const { answer } = exchange()
    const other = new HandshakeServer(Identity.generate("other server"))
    const e = errorOf(() => other.verifyProof(answer.proof, T0))
    expect(e.code).toBe("UNAUTHORIZED")
    expect(e.detail).toBe("unknown or expired server nonce")
  })
})

describe("wrong signers", () => {
  it("refuses a client proof signed by another key than the client id it names", () => {
    const { server, response } = exchange()
    const mallory = Identity.generate("mallory")
    const env = signEnvelope(mallory, CLIENT_PROOF_PURPOSE, transcriptOf(response), T0)
    expect(codeOf(() => server.verifyProof(encode(env), T0))).toBe("WRONG_SIGNER")
  })

  it("refuses a client proof whose signer field was rewritten to the claimed id", () => {
    const { server, client, response } = exchange()
    const env = signEnvelope(Identity.generate("mallory"), CLIENT_PROOF_PURPOSE, transcriptOf(response), T0)
    expect(codeOf(() => server.verifyProof(encode({ ...env, signer: client.nodeId }), T0))).toBe("SIGNATURE_INVALID")
  })

  it("refuses the server's own proof echoed back as the client's (purpose differs)", () => {
    const { server, response } = exchange()
    expect(codeOf(() => server.verifyProof(encode(response.proof), T0))).toBe("WRONG_PURPOSE")
  })

  it("lets the client refuse a server that is not the node it meant to reach", () => {
    const { client, clientNonce, response } = exchange()
    const expected = Identity.generate("the hub we meant").nodeId
    const e = errorOf(() => answerChallenge(client, { clientNonce, endpoint: ENDPOINT, expectServerId: expected }, response, T0))
    expect(e.code).toBe("WRONG_SIGNER")
    expect(e.detail).toBe(`expected node ${expected}, the server is ${response.serverId}`)
  })

  it("lets the client refuse a challenge signed by another key than the server id it names", () => {
    const { client, clientNonce, response } = exchange()
    const impostor = Identity.generate("impostor")
    const proof = signEnvelope(impostor, SERVER_PROOF_PURPOSE, transcriptOf(response), T0)
    expect(codeOf(() => answerChallenge(client, { clientNonce, endpoint: ENDPOINT }, { ...response, proof }, T0))).toBe("WRONG_SIGNER")
  })
})

describe("stale timestamps", () => {
  it("refuses a client proof signed too far in the past or the future", () => {
    const s = setup({ skewMs: 5_000, challengeTtlMs: 60_000 })
    const response = s.server.challenge(s.request, HOST, T0)
    const late = signEnvelope(s.client, CLIENT_PROOF_PURPOSE, transcriptOf(response), T0 - 5_001)
    expect(codeOf(() => s.server.verifyProof(encode(late), T0))).toBe("STALE_TIMESTAMP")
    const early = signEnvelope(s.client, CLIENT_PROOF_PURPOSE, transcriptOf(response), T0 + 5_001)
    expect(codeOf(() => s.server.verifyProof(encode(early), T0))).toBe("STALE_TIMESTAMP")
    // neither consumed the nonce (they were refused before it was looked up): a timely proof still works
    const timely = signEnvelope(s.client, CLIENT_PROOF_PURPOSE, transcriptOf(response), T0 + 4_000)
    expect(s.server.verifyProof(encode(timely), T0)).toBe(s.client.nodeId)
  })

  it("refuses a fresh proof that answers an expired challenge", () => {
    const s = setup({ skewMs: 5_000, challengeTtlMs: 10_000 })
    const response = s.server.challenge(s.request, HOST, T0)
    const at = T0 + 10_001 // past expiresAt, still within the skew allowed after it
    const proof = signEnvelope(s.client, CLIENT_PROOF_PURPOSE, transcriptOf(response), at)
    const e = errorOf(() => s.server.verifyProof(encode(proof), at))
    expect(e.code).toBe("STALE_TIMESTAMP")
    expect(e.detail).toBe("challenge expired")
  })

  it("lets the client refuse a server proof outside its skew", () => {
    const { client, clientNonce, response } = exchange()
    expect(codeOf(() => answerChallenge(client, { clientNonce, endpoint: ENDPOINT }, response, T0 + 30_001))).toBe("STALE_TIMESTAMP")
    expect(codeOf(() => answerChallenge(client, { clientNonce, endpoint: ENDPOINT }, response, T0 + 10_001, 10_000))).toBe(
      "STALE_TIMESTAMP",
    )
  })
})

describe("tampered transcripts", () => {
  it.each([
    ["endpoint", { endpoint: "ws://127.0.0.1:7421/sync" }],
    ["client nonce", { clientNonce: randomNonce() }],
    ["server id", { serverId: Identity.generate("elsewhere").nodeId }],
  ] as const)("refuses a client proof over a transcript with another %s", (_what, change) => {
    const { server, client, response } = exchange()
    const env = signEnvelope(client, CLIENT_PROOF_PURPOSE, { ...transcriptOf(response), ...change }, T0)
    const e = errorOf(() => server.verifyProof(encode(env), T0))
    expect(e.code).toBe("UNAUTHORIZED")
    expect(e.detail).toBe("proof does not match the challenge it answers")
  })

  it("refuses a client proof that adds an agreement the server never signed", () => {
    const { server, client, response } = exchange()
    const agreement: Agreement = {
      protocolVersion: "fedhub/1",
      capabilities: ["sync", "relay"],
      policies: {
        server: { dataRetentionDays: null, requireEncryption: false, acceptsRelay: true },
        client: { dataRetentionDays: null, requireEncryption: false, acceptsRelay: true },
      },
    }
    const env = signEnvelope(client, CLIENT_PROOF_PURPOSE, { ...transcriptOf(response), agreement }, T0)
    expect(errorOf(() => server.verifyProof(encode(env), T0)).detail).toBe("proof does not match the challenge it answers")
    expect(server.agreementFor(client.nodeId)).toBeUndefined()
  })

  it("refuses a client proof whose payload was altered after signing", () => {
    const { server, answer } = exchange()
    const env = decode(answer.proof)
    const altered = { ...env, payload: { ...env.payload, endpoint: "ws://127.0.0.1:7421/sync" } }
    expect(codeOf(() => server.verifyProof(encode(altered), T0))).toBe("SIGNATURE_INVALID")
  })

  it("refuses a missing or undecodable proof", () => {
    const { server } = setup()
    expect(errorOf(() => server.verifyProof(undefined, T0)).detail).toBe("no token and no handshake proof")
    expect(errorOf(() => server.verifyProof("%%%not base64url json", T0)).detail).toBe("handshake proof is not base64url JSON")
    expect(codeOf(() => server.verifyProof(encode({ payload: null }), T0))).toBe("INVALID_INPUT")
    expect(codeOf(() => server.verifyProof(encode(null), T0))).toBe("INVALID_INPUT")
  })

  it("lets the client refuse a challenge that answers another nonce or endpoint than it sent", () => {
    const { client, clientNonce, response } = exchange()
    const e = errorOf(() => answerChallenge(client, { clientNonce: randomNonce(), endpoint: ENDPOINT }, response, T0))
    expect(e.code).toBe("UNAUTHORIZED")
    expect(e.detail).toBe("the server's proof does not answer our challenge")
    expect(errorOf(() => answerChallenge(client, { clientNonce, endpoint: "ws://127.0.0.1:1/sync" }, response, T0)).detail).toBe(
      "the server's proof does not answer our challenge",
    )
    // a serverNonce beside the proof that differs from the signed one
    const swapped = { ...response, serverNonce: randomNonce() }
    expect(errorOf(() => answerChallenge(client, { clientNonce, endpoint: ENDPOINT }, swapped, T0)).detail).toBe(
      "the server's proof does not answer our challenge",
    )
  })

  it("lets the client refuse a readable agreement that differs from the signed one", () => {
    const { client, clientNonce, response } = exchange()
    const readable: Agreement = {
      protocolVersion: "fedhub/1",
      capabilities: ["sync"],
      policies: {
        server: { dataRetentionDays: null, requireEncryption: false, acceptsRelay: false },
        client: { dataRetentionDays: null, requireEncryption: false, acceptsRelay: false },
      },
    }
    const e = errorOf(() => answerChallenge(client, { clientNonce, endpoint: ENDPOINT }, { ...response, agreement: readable }, T0))
    expect(e.code).toBe("UNAUTHORIZED")
    expect(e.detail).toBe("the agreement beside the server's proof differs from the one it signed")
  })

  it("lets the client refuse a malformed challenge", () => {
    const { client, clientNonce, response } = exchange()
    for (const bad of [null, "x", { ...response, protocol: "fedhub/2" }, { ...response, serverId: "fh1nope" }])
      expect(errorOf(() => answerChallenge(client, { clientNonce, endpoint: ENDPOINT }, bad, T0)).detail).toBe(
        "the server's challenge is malformed",
      )
  })
})

describe("challenge requests the server refuses", () => {
  it("refuses an endpoint naming another host than the one asked", () => {
    const { server, request } = setup()
    const e = errorOf(() => server.challenge(request, "hub.example.test:7420", T0))
    expect(e.code).toBe("UNAUTHORIZED")
    expect(e.detail).toBe(`endpoint ${ENDPOINT} names another host than hub.example.test:7420`)
  })

  it("refuses another protocol, a bad node id and a malformed body with their codes", () => {
    const { server, request } = setup()
    expect(codeOf(() => server.challenge({ ...request, protocol: "fedhub/2" }, HOST, T0))).toBe("INVALID_INPUT")
    expect(codeOf(() => server.challenge({ ...request, clientId: "fh1nope" }, HOST, T0))).toBe("BAD_NODE_ID")
    expect(codeOf(() => server.challenge({ ...request, clientNonce: undefined }, HOST, T0))).toBe("SCHEMA_INVALID")
  })

  it("turns a refusal answered as problem+json into the typed error it names", () => {
    expect(refusalError(401, { code: "NONCE_REPLAYED", detail: "again" }).code).toBe("NONCE_REPLAYED")
    expect(refusalError(401, { code: "NONCE_REPLAYED", detail: "again" }, "challenge refused").detail).toBe(
      "challenge refused (401): again",
    )
    expect(refusalError(403, { code: "NOT_A_CODE" }).code).toBe("FORBIDDEN")
    expect(refusalError(500, null).code).toBe("UNAUTHORIZED")
    expect(refusalError(500, null).detail).toBe("refused (500): HTTP 500")
  })
})
