/**
 * The handshake server's nonce cache (issue 11, item 5): capped, swept from its
 * oldest end only, and never forgetting a nonce still inside its replay window.
 */
import { describe, expect, it } from "vitest"
import { Identity, randomNonce } from "../../src/identity/index.ts"
import { answerChallenge, HANDSHAKE_PROTOCOL, HandshakeServer, syncEndpoint } from "../../src/replication/handshake.ts"
import { expectFedhubError } from "../helpers/errors.ts"

const endpoint = syncEndpoint("http://127.0.0.1:4000")
const server = Identity.generate("server")
const client = Identity.generate("client")
const request = (clientNonce = randomNonce()) => ({ protocol: HANDSHAKE_PROTOCOL, clientId: client.nodeId, clientNonce, endpoint })
// challengeTtlMs + skewMs: how long a nonce is remembered
const limits = { skewMs: 1_000, challengeTtlMs: 1_000 }
const WINDOW = 2_000

describe("nonce cache", () => {
  it("refuses new challenges with HANDSHAKE_BUSY when full, and accepts again once old nonces expire", () => {
    const hs = new HandshakeServer(server, { ...limits, maxUsedNonces: 10 })
    const t0 = 1_000_000
    // each challenge holds two places: the client nonce now, the server nonce once answered
    for (let i = 0; i < 5; i++) hs.challenge(request(), undefined, t0 + i)
    expect(hs.nonceCount).toBe(10)
    const busy = expectFedhubError(() => hs.challenge(request(), undefined, t0 + 10), "HANDSHAKE_BUSY")
    expect(busy.status).toBe(503)
    // still full just inside the window of the oldest
    expectFedhubError(() => hs.challenge(request(), undefined, t0 + WINDOW - 1), "HANDSHAKE_BUSY")
    // past every window, the cache empties from its oldest end and serves again
    hs.challenge(request(), undefined, t0 + 4 + WINDOW + 1)
    expect(hs.nonceCount).toBe(2)
  })

  it("a full cache forgets nothing: a replayed client nonce is still refused as a replay", () => {
    const hs = new HandshakeServer(server, { ...limits, maxUsedNonces: 4 })
    const t0 = 2_000_000
    const nonce = randomNonce()
    hs.challenge(request(nonce), undefined, t0)
    hs.challenge(request(), undefined, t0 + 1)
    expectFedhubError(() => hs.challenge(request(), undefined, t0 + 2), "HANDSHAKE_BUSY")
    expectFedhubError(() => hs.challenge(request(nonce), undefined, t0 + WINDOW - 1), "NONCE_REPLAYED")
  })

  it("a proof answered once is refused the second time, after other handshakes filled and drained the cache", () => {
    const hs = new HandshakeServer(server, { ...limits, maxUsedNonces: 6 })
    const now = Date.now()
    const sent = { clientNonce: randomNonce(), endpoint }
    const answer = hs.challenge(request(sent.clientNonce), undefined, now)
    const { proof } = answerChallenge(client, sent, answer, now)
    expect(hs.verifyProof(proof, now)).toBe(client.nodeId)
    for (let i = 0; i < 2; i++) hs.challenge(request(), undefined, now + 1 + i) // the cache is full again
    expectFedhubError(() => hs.challenge(request(), undefined, now + 3), "HANDSHAKE_BUSY")
    expectFedhubError(() => hs.verifyProof(proof, now + 10), "NONCE_REPLAYED")
  })

  it("sweeps expired nonces from the oldest end while keeping live ones", () => {
    const hs = new HandshakeServer(server, { ...limits, maxUsedNonces: 1_000 })
    const t0 = 3_000_000
    for (let i = 0; i < 100; i++) hs.challenge(request(), undefined, t0 + i * 10) // 0 … 990 ms
    expect(hs.nonceCount).toBe(200)
    // just past the window of the challenge at 490 ms: the first 50 challenges (both halves) are gone, the rest stay
    hs.challenge(request(), undefined, t0 + 490 + WINDOW + 1)
    expect(hs.nonceCount).toBe(200 - 100 + 2)
  })
})
