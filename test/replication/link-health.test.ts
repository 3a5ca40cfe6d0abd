/**
 * Link health and negotiation over real sockets: a link measures its latency by
 * ping, turns degraded then offline when the peer stops answering, redials and
 * recovers; a hub that refuses an offer says why, and the dialing side keeps
 * retrying with backoff while everyone else is served.
 */
import "@automerge/automerge-repo"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import express from "express"
import type { Repo } from "@automerge/automerge-repo"
import type { FedhubError } from "../../src/errors.ts"
import { Identity } from "../../src/identity/index.ts"
import { LEGACY_OFFER, negotiate, verifyAgreement, type Offer } from "../../src/federation/negotiation.ts"
import { problemHandler } from "../../src/api/problem.ts"
import { createRepo } from "../../src/replication/createRepo.ts"
import {
  answerChallenge,
  CHALLENGE_SUFFIX,
  HandshakeServer,
  HANDSHAKE_PROTOCOL,
  type NegotiateFn,
} from "../../src/replication/handshake.ts"
import {
  backoffDelay,
  DEFAULT_BACKOFF,
  HubClientAdapter,
  type HubClientOptions,
  type LinkState,
} from "../../src/replication/HubClientAdapter.ts"
import { SyncServerAdapter, type ServerConnection } from "../../src/replication/SyncServerAdapter.ts"
import { attachSyncEndpoint, SYNC_PATH } from "../../src/replication/syncEndpoint.ts"
import { randomNonce } from "../../src/identity/index.ts"
import { linkReaches, nextEvent, startTestHub } from "../helpers/hubs.ts"

/** Cleanups of the running test, run in reverse order after it. */
let cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanups.reverse()) await fn()
  cleanups = []
})

/**
 * A bare sync server: the challenge route, /sync and a Repo, on 127.0.0.1 port 0,
 * with an optional negotiation. `joined` yields the server side of each socket.
 */
async function startSyncServer(opts: { negotiate?: NegotiateFn } = {}) {
  const identity = Identity.generate("server")
  const handshake = new HandshakeServer(identity, { negotiate: opts.negotiate })
  const adapter = new SyncServerAdapter()
  const app = express()
  app.use(express.json())
  app.post(SYNC_PATH + CHALLENGE_SUFFIX, (req, res) => {
    res.json(handshake.challenge(req.body, req.headers.host))
  })
  app.use(problemHandler(() => {}))
  const server = createServer(app)
  const endpoint = attachSyncEndpoint(server, { adapter, handshake, adminToken: "t".repeat(43), maxFrameBytes: 1 << 20 })
  const repo = createRepo({ peerId: identity.nodeId, network: [adapter] })
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  cleanups.push(async () => {
    endpoint.close()
    await repo.shutdown()
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  return { identity, handshake, adapter, url }
}

/** Dials `url` as a fresh node, through a Repo, with fast backoff. */
function dial(url: string, opts: Partial<HubClientOptions> = {}): { link: HubClientAdapter; identity: Identity; repo: Repo } {
  const identity = Identity.generate("client")
  const link = new HubClientAdapter({ url, auth: { kind: "node", identity }, backoff: { initialMs: 20, maxMs: 200 }, ...opts })
  const repo = createRepo({ peerId: identity.nodeId, network: [link] })
  cleanups.push(() => repo.shutdown())
  return { link, identity, repo }
}

/** Records every state a link goes through. */
function record(link: HubClientAdapter): { state: LinkState; error?: FedhubError }[] {
  const seen: { state: LinkState; error?: FedhubError }[] = []
  link.events.on("state", (state, error) => seen.push({ state, error }))
  return seen
}

/** Resolves once `test` holds for the recorded states, checking on every state change. */
async function until(link: HubClientAdapter, test: () => boolean, timeoutMs = 15_000): Promise<void> {
  while (!test()) await nextEvent(link.events, "state", timeoutMs)
}

describe("link health", () => {
  it("a link to a hub reports its latency after a heartbeat", async () => {
    const hub = await startTestHub()
    cleanups.push(() => hub.stop())
    const { link } = dial(hub.url, { heartbeat: { intervalMs: 50 } })
    await linkReaches(link, "established")
    const [rtt] = await nextEvent<[number]>(link.events, "pong")
    expect(rtt).toBeGreaterThan(0)
    expect(link.metrics.pongsReceived).toBe(1) // the first pong: nothing can arrive before it is seen
    expect(link.metrics.latencyMs).toBe(rtt)
    expect(link.metrics.latencyEwmaMs).toBe(rtt) // the average of one sample
    const health = link.health()
    expect(health).toMatchObject({ state: "established", connects: 1, consecutiveFailures: 0, lastError: null })
    expect(health.latencyMs).toBe(link.metrics.latencyMs)
    expect(health.uptimePct).toBeGreaterThan(0)
    expect(health.uptimePct).toBeLessThanOrEqual(100)
    expect(health.errorRate).toBe(0)
  })

  it("a peer that stops answering pings makes the link degraded, and it recovers when the peer answers again", async () => {
    const server = await startSyncServer()
    const joined = nextEvent<[ServerConnection]>(server.adapter.events, "joined")
    const { link } = dial(server.url, { heartbeat: { intervalMs: 50, degradedAfter: 1, offlineAfter: 1_000 } })
    const [conn] = await joined
    await linkReaches(link, "established")
    conn.socket.pause() // the server reads nothing more, so it answers no ping
    await linkReaches(link, "degraded")
    expect(link.lastError?.code).toBe("TIMEOUT")
    expect(link.health().consecutiveFailures).toBeGreaterThanOrEqual(1)
    expect(link.metrics.missedPongs).toBeGreaterThanOrEqual(1)
    conn.socket.resume()
    await linkReaches(link, "established")
    expect(link.health().consecutiveFailures).toBe(0)
    expect(link.metrics.connects).toBe(1) // the same socket all along
  })

  it("a peer that stays silent takes the link offline, and the link redials and is established again", async () => {
    const server = await startSyncServer()
    const joined = nextEvent<[ServerConnection]>(server.adapter.events, "joined")
    const { link, identity } = dial(server.url, { heartbeat: { intervalMs: 50, degradedAfter: 1, offlineAfter: 3 } })
    const [conn] = await joined
    await linkReaches(link, "established")
    const seen = record(link)
    conn.socket.pause()
    await until(link, () => seen.some(s => s.state === "offline"))
    await linkReaches(link, "established")
    const states = seen.map(s => s.state)
    expect(states.slice(0, 4)).toEqual(["degraded", "offline", "establishing", "established"])
    const offline = seen.find(s => s.state === "offline")!
    expect(offline.error?.code).toBe("TIMEOUT")
    expect(offline.error?.detail).toMatch(/no pong for 3 heartbeats in a row/)
    expect(link.metrics.connects).toBe(2)
    expect(link.metrics.missedPongs).toBeGreaterThanOrEqual(3)
    const health = link.health()
    expect(health.state).toBe("established")
    expect(health.lastError?.code).toBe("TIMEOUT")
    expect(health.errorRate).toBeGreaterThan(0)
    expect(health.uptimePct).toBeGreaterThan(0)
    // the server holds the new socket for this node
    expect(server.adapter.connections().map(c => c.peerId)).toContain(identity.nodeId)
  })

  it("an explicit disconnect closes the link and stops its heartbeat", async () => {
    const server = await startSyncServer()
    const { link } = dial(server.url, { heartbeat: { intervalMs: 20 } })
    await linkReaches(link, "established")
    await nextEvent(link.events, "pong")
    link.disconnect()
    expect(link.state).toBe("closed")
    const sent = link.metrics.pingsSent
    // two heartbeats of another link later, no ping of ours has gone out
    const other = dial(server.url, { heartbeat: { intervalMs: 20 } }).link
    await linkReaches(other, "established")
    await nextEvent(other.events, "pong")
    await nextEvent(other.events, "pong")
    expect(link.metrics.pingsSent).toBe(sent)
    expect(link.state).toBe("closed")
  })
})

describe("redial backoff", () => {
  const b = { initialMs: 100, maxMs: 1_000, jitter: 0.5 }

  it("doubles from the initial delay up to the cap", () => {
    const top = (n: number) => backoffDelay(n, b, () => 0)
    expect([0, 1, 2, 3, 4, 5, 50].map(top)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000])
    expect(backoffDelay(1_000, DEFAULT_BACKOFF, () => 0)).toBe(DEFAULT_BACKOFF.maxMs)
  })

  it("draws each delay from [d·(1-jitter), d]", () => {
    expect(backoffDelay(2, b, () => 1)).toBe(200)
    for (let attempt = 0; attempt < 8; attempt++) {
      const d = Math.min(b.maxMs, b.initialMs * 2 ** attempt)
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(attempt, b)
        expect(delay).toBeGreaterThanOrEqual(d / 2)
        expect(delay).toBeLessThanOrEqual(d)
      }
    }
    expect(backoffDelay(3, { ...b, jitter: 0 }, () => 0.7)).toBe(800)
  })
})

describe("negotiation in the handshake", () => {
  const serverOffer: Offer = {
    protocolVersions: ["fedhub/1"],
    capabilities: ["sync", "directory", "relay"],
    policies: { dataRetentionDays: 7, requireEncryption: false, acceptsRelay: true },
    requirements: { maxPeerRetentionDays: 30 },
  }
  const negotiating: NegotiateFn = (_clientId, offer, link) =>
    negotiate(serverOffer, offer ?? LEGACY_OFFER, { encrypted: link.encrypted })
  const clientOffer = (dataRetentionDays: number | null): Offer => ({
    protocolVersions: ["fedhub/1"],
    capabilities: ["sync", "directory", "marketplace"],
    policies: { dataRetentionDays, requireEncryption: false, acceptsRelay: false },
  })

  it("a refused offer reaches the dialing hub with the reason, which keeps redialing while others are served", async () => {
    const server = await startSyncServer({ negotiate: negotiating })
    const refused = dial(server.url, { offer: clientOffer(365) }).link
    const seen = record(refused)
    await until(refused, () => seen.filter(s => s.state === "offline").length >= 2)
    const offline = seen.filter(s => s.state === "offline")
    for (const { error } of offline) expect(error?.code).toBe("NEGOTIATION_FAILED")
    expect(refused.lastError?.code).toBe("NEGOTIATION_FAILED")
    expect(refused.lastError?.detail).toMatch(
      /retention policy incompatible: the client keeps peers' data for 365 days, the server accepts at most 30 days/,
    )
    expect(refused.agreement).toBeUndefined()
    expect(refused.metrics.connects).toBe(0)

    // meanwhile a hub whose offer fits is served, and both sides hold the same agreement
    const offer = clientOffer(14)
    const accepted = dial(server.url, {
      offer,
      checkAgreement: (agreement, _serverId, link) => void verifyAgreement(offer, agreement, link),
    })
    await linkReaches(accepted.link, "established")
    expect(accepted.link.agreement).toEqual({
      protocolVersion: "fedhub/1",
      capabilities: ["directory", "sync"],
      policies: { client: offer.policies, server: serverOffer.policies },
    })
    expect(server.handshake.agreementFor(accepted.identity.nodeId)).toEqual(accepted.link.agreement)
    expect(refused.metrics.connects).toBe(0)
    expect(refused.health().consecutiveFailures).toBeGreaterThanOrEqual(2)
    expect(refused.state).not.toBe("established")
  })

  it("a client refuses a server that does not negotiate when it checks agreements", async () => {
    const server = await startSyncServer() // no negotiate callback: it signs no agreement
    const offer = clientOffer(1)
    const { link } = dial(server.url, { offer, checkAgreement: (a, _id, l) => void verifyAgreement(offer, a, l) })
    const seen = record(link)
    await until(link, () => seen.some(s => s.state === "offline"))
    expect(link.lastError?.code).toBe("NEGOTIATION_FAILED")
    expect(link.lastError?.detail).toMatch(/did not negotiate/)
  })

  it("the agreement is signed in the server's proof: altering it breaks the proof", () => {
    const serverId = Identity.generate("server")
    const client = Identity.generate("client")
    const handshake = new HandshakeServer(serverId, { negotiate: negotiating })
    const endpoint = "ws://127.0.0.1:9/sync"
    const ask = () => {
      const clientNonce = randomNonce()
      const body = { protocol: HANDSHAKE_PROTOCOL, clientId: client.nodeId, clientNonce, endpoint, offer: clientOffer(1) }
      return { clientNonce, response: handshake.challenge(body, "127.0.0.1:9") }
    }
    // untouched: the client signs the agreement back and the server accepts the proof
    const ok = ask()
    const answer = answerChallenge(client, { clientNonce: ok.clientNonce, endpoint }, ok.response)
    expect(answer.agreement?.capabilities).toEqual(["directory", "sync"])
    expect(handshake.verifyProof(answer.proof)).toBe(client.nodeId)
    // a man in the middle widens the signed agreement
    const signed = ask()
    const tampered = structuredClone(signed.response)
    ;(tampered.proof.payload as { agreement: { capabilities: string[] } }).agreement.capabilities.push("relay")
    expect(() => answerChallenge(client, { clientNonce: signed.clientNonce, endpoint }, tampered)).toThrow(/SIGNATURE_INVALID/)
    // ... or only the readable copy beside the proof
    const copy = ask()
    const altered = { ...copy.response, agreement: { ...copy.response.agreement!, capabilities: ["sync"] } }
    expect(() => answerChallenge(client, { clientNonce: copy.clientNonce, endpoint }, altered)).toThrow(/differs from the one it signed/)
  })

  it("a refused challenge is problem+json with the NEGOTIATION_FAILED code", async () => {
    const server = await startSyncServer({ negotiate: negotiating })
    const client = Identity.generate("client")
    const endpoint = `${server.url.replace(/^http/, "ws")}/sync`
    const res = await fetch(`${server.url}/sync/challenge`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ protocol: HANDSHAKE_PROTOCOL, clientId: client.nodeId, clientNonce: randomNonce(), endpoint }),
    })
    expect(res.status).toBe(403)
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/)
    const problem = (await res.json()) as { code: string; detail: string }
    expect(problem.code).toBe("NEGOTIATION_FAILED")
    expect(problem.detail).toMatch(/the client keeps peers' data forever/) // no offer: assumed to keep data forever
  })
})
