/**
 * Every way into /sync that must be refused is refused, before any automerge
 * message flows, and the hub keeps serving everyone else.
 */
import "@automerge/automerge-repo"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { cbor, type AutomergeUrl } from "@automerge/automerge-repo"
import { Identity, randomNonce, signEnvelope } from "../../src/identity/index.ts"
import {
  answerChallenge,
  challengeUrl,
  CLIENT_PROOF_PURPOSE,
  HANDSHAKE_PROTOCOL,
  PROOF_HEADER,
  syncEndpoint,
  type ChallengeResponse,
} from "../../src/replication/handshake.ts"
import { createRepo } from "../../src/replication/createRepo.ts"
import { HubClientAdapter } from "../../src/replication/HubClientAdapter.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, startHubs, waitForDoc } from "../helpers/hubs.ts"

const MAX_FRAME = 64 * 1024

/** Asks the hub for a challenge as `identity`; returns what was sent and the answer. */
async function challenge(hub: RunningHub, identity: Identity) {
  const endpoint = syncEndpoint(hub.localUrl)
  const clientNonce = randomNonce()
  const res = await fetch(challengeUrl(endpoint), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ protocol: HANDSHAKE_PROTOCOL, clientId: identity.nodeId, clientNonce, endpoint }),
  })
  expect(res.status).toBe(200)
  return { endpoint, clientNonce, response: (await res.json()) as ChallengeResponse }
}

/** Opens /sync with the given headers; resolves with the socket or the refusal status and body. */
function open(url: string, headers: Record<string, string> = {}): Promise<{ ws?: WebSocket; status?: number; body?: { code: string; detail: string } }> {
  return new Promise(resolve => {
    const ws = new WebSocket(url, { headers })
    ws.on("error", () => {})
    ws.on("open", () => resolve({ ws }))
    ws.on("unexpected-response", (_req, res) => {
      let body = ""
      res.on("data", c => (body += c))
      res.on("end", () => {
        ws.terminate()
        resolve({ status: res.statusCode, body: JSON.parse(body) })
      })
    })
  })
}

const closed = (ws: WebSocket): Promise<number> => new Promise(resolve => ws.on("close", code => resolve(code)))

const join = (ws: WebSocket, senderId: string) =>
  ws.send(cbor.encode({ type: "join", senderId, peerMetadata: {}, supportedProtocolVersions: ["1"] }))

/** A full, valid handshake; returns the open socket (not yet joined). */
async function authenticated(hub: RunningHub, identity: Identity): Promise<WebSocket> {
  const { endpoint, clientNonce, response } = await challenge(hub, identity)
  const { proof } = answerChallenge(identity, { clientNonce, endpoint }, response)
  const opened = await open(endpoint, { [PROOF_HEADER]: proof })
  expect(opened.status, JSON.stringify(opened.body)).toBeUndefined()
  expect(opened.ws).toBeInstanceOf(WebSocket)
  return opened.ws!
}

describe("the /sync endpoint", () => {
  let hubs: RunningHub[]
  let stopAll: () => Promise<void>
  let hub: RunningHub

  beforeAll(async () => {
    ;({ hubs, stopAll } = await startHubs(2, { limits: { frameBytes: MAX_FRAME } }))
    hub = hubs[0]!
  })
  afterAll(() => stopAll())

  it("lets two hubs prove their keys to each other and sync", async () => {
    const [a, b] = hubs as [RunningHub, RunningHub]
    const link = b.hub.dial(a.url, a.hub.nodeId)
    await linkReaches(link, "established")
    expect(link.remotePeerId).toBe(a.hub.nodeId)
    expect(a.hub.inbound().map(p => p.peerId)).toContain(b.hub.nodeId)
    const made = await a.hub.docs.create({ title: "from a" }, { readers: [b.hub.nodeId] })
    const onB = await b.hub.docs.find(made.url)
    await waitForDoc(onB, d => String(d.title) === "from a")
  })

  it("refuses an upgrade with no credentials with 401", async () => {
    const r = await open(syncEndpoint(hub.localUrl))
    expect(r.status).toBe(401)
    expect(r.body?.code).toBe("UNAUTHORIZED")
  })

  it("refuses a wrong admin token with 401", async () => {
    const r = await open(`${syncEndpoint(hub.localUrl)}?token=nope`)
    expect(r.status).toBe(401)
    expect(r.body?.code).toBe("UNAUTHORIZED")
  })

  it("refuses a proof whose signature was altered", async () => {
    const me = Identity.generate("mallory")
    const { endpoint, clientNonce, response } = await challenge(hub, me)
    const { proof } = answerChallenge(me, { clientNonce, endpoint }, response)
    const env = JSON.parse(Buffer.from(proof, "base64url").toString())
    const sig = Buffer.from(env.sig, "base64")
    sig[5] = sig[5]! ^ 1
    env.sig = sig.toString("base64")
    const r = await open(endpoint, { [PROOF_HEADER]: Buffer.from(JSON.stringify(env)).toString("base64url") })
    expect(r.status).toBe(401)
    expect(r.body?.code).toBe("SIGNATURE_INVALID")
  })

  it("refuses a proof signed by another key than the one claimed", async () => {
    const claimed = Identity.generate("claimed")
    const signer = Identity.generate("signer")
    const { endpoint, clientNonce, response } = await challenge(hub, claimed)
    const transcript = { clientId: claimed.nodeId, serverId: response.serverId, clientNonce, serverNonce: response.serverNonce, endpoint }
    const env = signEnvelope(signer, CLIENT_PROOF_PURPOSE, transcript)
    const r = await open(endpoint, { [PROOF_HEADER]: Buffer.from(JSON.stringify(env)).toString("base64url") })
    expect(r.status).toBe(401)
    expect(["WRONG_SIGNER", "SIGNATURE_INVALID"]).toContain(r.body?.code)
  })

  it("refuses a replayed proof (the server nonce is single-use)", async () => {
    const me = Identity.generate("replayer")
    const { endpoint, clientNonce, response } = await challenge(hub, me)
    const { proof } = answerChallenge(me, { clientNonce, endpoint }, response)
    const first = await open(endpoint, { [PROOF_HEADER]: proof })
    expect(first.status, JSON.stringify(first.body)).toBeUndefined()
    expect(first.ws).toBeInstanceOf(WebSocket)
    first.ws!.close()
    const second = await open(endpoint, { [PROOF_HEADER]: proof })
    expect(second.status).toBe(401)
    expect(second.body?.code).toBe("NONCE_REPLAYED")
  })

  it("refuses a reused client nonce at the challenge", async () => {
    const me = Identity.generate("again")
    const endpoint = syncEndpoint(hub.localUrl)
    const body = JSON.stringify({ protocol: HANDSHAKE_PROTOCOL, clientId: me.nodeId, clientNonce: randomNonce(), endpoint })
    const post = () => fetch(challengeUrl(endpoint), { method: "POST", headers: { "content-type": "application/json" }, body })
    expect((await post()).status).toBe(200)
    const again = await post()
    expect(again.status).toBe(401)
    expect((await again.json()).code).toBe("NONCE_REPLAYED")
  })

  it("refuses a proof with a stale timestamp", async () => {
    const me = Identity.generate("late")
    const { endpoint, clientNonce, response } = await challenge(hub, me)
    const transcript = { clientId: me.nodeId, serverId: response.serverId, clientNonce, serverNonce: response.serverNonce, endpoint }
    const env = signEnvelope(me, CLIENT_PROOF_PURPOSE, transcript, Date.now() - 5 * 60_000)
    const r = await open(endpoint, { [PROOF_HEADER]: Buffer.from(JSON.stringify(env)).toString("base64url") })
    expect(r.status).toBe(401)
    expect(r.body?.code).toBe("STALE_TIMESTAMP")
  })

  it("refuses a malformed challenge request with problem+json", async () => {
    const res = await fetch(challengeUrl(syncEndpoint(hub.localUrl)), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    })
    expect(res.status).toBe(400)
    expect(res.headers.get("content-type")).toContain("application/problem+json")
    const bad = await fetch(challengeUrl(syncEndpoint(hub.localUrl)), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ protocol: HANDSHAKE_PROTOCOL, clientId: "fh1nope", clientNonce: "x", endpoint: "ws://x" }),
    })
    expect(bad.status).toBe(400)
    expect((await bad.json()).code).toBe("BAD_NODE_ID")
  })

  it("closes a hub's socket that joins under another peerId", async () => {
    const me = Identity.generate("impostor")
    const ws = await authenticated(hub, me)
    const code = closed(ws)
    join(ws, hubs[1]!.hub.nodeId) // claims to be the other hub
    expect(await code).toBe(4403)
    expect(hub.hub.inbound().map(p => p.peerId)).not.toContain(me.nodeId)
  })

  it("closes a token client's socket that joins as a node id", async () => {
    const { ws } = await open(`${syncEndpoint(hub.localUrl)}?token=${hub.hub.adminToken}`)
    const code = closed(ws!)
    join(ws!, hubs[1]!.hub.nodeId)
    expect(await code).toBe(4403)
  })

  it("closes a socket that sends garbage", async () => {
    const ws = await authenticated(hub, Identity.generate("noisy"))
    const code = closed(ws)
    ws.send(Buffer.from([0xff, 0x00, 0x13, 0x37, 0xde, 0xad]))
    expect(await code).toBe(4400)
    const text = await authenticated(hub, Identity.generate("texty"))
    const textCode = closed(text)
    text.send("hello")
    expect(await textCode).toBe(4400)
  })

  it("closes a socket that sends a message before joining or with a forged sender", async () => {
    const me = Identity.generate("eager")
    const ws = await authenticated(hub, me)
    const code = closed(ws)
    ws.send(cbor.encode({ type: "sync", senderId: me.nodeId, targetId: hub.hub.nodeId, documentId: "x", data: new Uint8Array([1]) }))
    expect(await code).toBe(4400)

    const other = Identity.generate("forger")
    const ws2 = await authenticated(hub, other)
    const peer = new Promise(resolve => ws2.once("message", resolve))
    join(ws2, other.nodeId)
    await peer
    const code2 = closed(ws2)
    ws2.send(cbor.encode({ type: "sync", senderId: hubs[1]!.hub.nodeId, targetId: hub.hub.nodeId, documentId: "x", data: new Uint8Array([1]) }))
    expect(await code2).toBe(4403)
  })

  it("closes a socket that sends a frame over the size limit", async () => {
    const ws = await authenticated(hub, Identity.generate("big"))
    const code = closed(ws)
    ws.send(Buffer.alloc(MAX_FRAME + 1))
    expect(await code).toBe(1009)
  })

  it("keeps serving the others after refusing a peer", async () => {
    // this case makes its own refusal, so it does not depend on the cases before it
    const before = { ...hub.hub.server.refusals }
    const ws = await authenticated(hub, Identity.generate("rude"))
    const code = closed(ws)
    ws.send(Buffer.from([0xff, 0x00]))
    expect(await code).toBe(4400)
    const counted = Object.entries(hub.hub.server.refusals).filter(([k, n]) => n !== (before[k] ?? 0))
    expect(counted).toEqual([["MALFORMED_FRAME", (before.MALFORMED_FRAME ?? 0) + 1]])
    const res = await fetch(`${hub.localUrl}/healthz`)
    expect(res.status).toBe(200)
    // a plain automerge-repo client with the token still syncs
    const made = await hub.hub.docs.create({ still: "here" })
    const client = new HubClientAdapter({ url: hub.url, auth: { kind: "token", token: hub.hub.adminToken } })
    const repo = createRepo({ peerId: "test-client", network: [client], isEphemeral: true })
    const handle = await repo.find<{ still: unknown }>(made.url as AutomergeUrl)
    expect(String(handle.doc().still)).toBe("here")
    await repo.shutdown()
  })
})
