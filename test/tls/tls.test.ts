/**
 * Hub links are TLS by default, pinned to node identity (issue 16): what is on the wire,
 * which certificates are refused and when, channel binding of the handshake proof,
 * requireEncryption judged by the socket, CA-issued certificates, pinned bootstrap URLs.
 */
import { request as httpsRequest } from "node:https"
import { request as httpRequest } from "node:http"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { Identity, nodeTls, type NodeId } from "../../src/identity/index.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { performHandshake, PROOF_HEADER, HANDSHAKE_PROTOCOL } from "../../src/replication/handshake.ts"
import { pinnedTlsConnect } from "../../src/replication/tlsLink.ts"
import { randomNonce } from "../../src/identity/index.ts"
import type { HubConfig } from "../../src/schema/index.ts"
import { linkReaches, startTestHub, waitForDoc } from "../helpers/hubs.ts"
import { privateCa, recordingProxy, tlsMitm, type Listener } from "./wire.ts"

const str = (v: unknown) => (v === undefined ? undefined : String(v))
const authorityOf = (h: RunningHub) => new URL(h.url).host

/** An upgrade's answer: the status, or 101 when it opened (then closed again). */
function upgrade(url: string, opts: WebSocket.ClientOptions): Promise<{ status: number; body: string }> {
  return new Promise(resolve => {
    const ws = new WebSocket(url, opts)
    ws.on("error", () => {})
    ws.once("open", () => {
      ws.close()
      resolve({ status: 101, body: "" })
    })
    ws.once("unexpected-response", (_req, res) => {
      let body = ""
      res.on("data", (c: Buffer) => (body += c.toString()))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
    })
  })
}

/** One plain or TLS request; resolves with the status, or the error's code when the connection failed. */
function get(url: string, opts: { ca?: string; method?: string; body?: string } = {}): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise(resolve => {
    const send = url.startsWith("https:") ? httpsRequest : httpRequest
    const req = send(url, { method: opts.method ?? "GET", headers: opts.body ? { "content-type": "application/json" } : {}, ...(opts.ca ? { ca: opts.ca } : {}) }, res => {
      let body = ""
      res.on("data", (c: Buffer) => (body += c.toString()))
      res.on("end", () => resolve({ status: res.statusCode, body }))
    })
    req.on("error", e => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }))
    req.end(opts.body)
  })
}

describe("TLS between hubs", () => {
  let cleanup: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {})
    cleanup = []
  })
  const hub = async (flags: HubConfig = {}): Promise<RunningHub> => {
    const h = await startTestHub({ flags })
    cleanup.push(async () => {
      await h.stop()
      await rm(h.paths.home, { recursive: true, force: true })
    })
    return h
  }
  const wire = <T extends Listener>(l: T): T => {
    cleanup.push(l.close)
    return l
  }
  const tempFiles = async (files: Record<string, string>): Promise<Record<string, string>> => {
    const dir = await mkdtemp(join(tmpdir(), "fedhub-tls-"))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))
    const out: Record<string, string> = {}
    for (const [name, text] of Object.entries(files)) {
      out[name] = join(dir, name)
      await writeFile(out[name], text)
    }
    return out
  }

  it("three hubs with no certificate configured link over TLS, and the wire between two of them shows no document content", async () => {
    const [a, b, c, d] = await Promise.all([hub(), hub(), hub(), hub()])
    expect(a.url).toMatch(/^https:\/\//)
    const proxy = wire(await recordingProxy(authorityOf(a)))
    // control: the same content over an explicitly plain loopback link IS readable on the wire
    const plainProxy = wire(await recordingProxy(authorityOf(a)))
    const viaProxy = b.hub.dial(proxy.url, a.hub.nodeId)
    const direct = c.hub.dial(a.url, a.hub.nodeId)
    const plain = d.hub.dial(`http://${plainProxy.authority}`, a.hub.nodeId)
    await Promise.all([linkReaches(viaProxy, "established"), linkReaches(direct, "established"), linkReaches(plain, "established")])
    expect(viaProxy.endpoint).toBe(`wss://${proxy.authority}/sync`)
    expect(direct.endpoint).toMatch(/^wss:/)

    const secret = "the launch code is 7f3a-SEKRIT-c0ffee-plaintext-marker"
    const made = await a.hub.docs.create({ title: "tls", body: secret }, { readers: [b.hub.nodeId, c.hub.nodeId, d.hub.nodeId] })
    for (const h of [b, c, d]) await waitForDoc(await h.hub.docs.find(made.url), doc => str((doc as { body?: unknown }).body) === secret)

    const tlsBytes = proxy.bytes()
    expect(tlsBytes.length).toBeGreaterThan(1000)
    expect(tlsBytes[0]).toBe(0x16) // a TLS handshake record opens the connection
    for (const needle of [secret, "SEKRIT", "automerge:", made.url.slice("automerge:".length), "/sync", a.hub.nodeId, b.hub.nodeId])
      expect(tlsBytes.includes(Buffer.from(needle)), needle).toBe(false)
    expect(plainProxy.bytes().includes(Buffer.from("SEKRIT"))).toBe(true)
  })

  it("refuses, before the handshake, a hub whose certificate is another node's key", async () => {
    const impostor = Identity.generate("impostor")
    const creds = nodeTls(impostor)
    const files = await tempFiles({ "cert.pem": creds.cert, "key.pem": creds.key })
    const [a, b] = await Promise.all([hub(), hub({ tls: { cert: files["cert.pem"], key: files["key.pem"] } })])
    const link = a.hub.dial(b.url, b.hub.nodeId)
    await linkReaches(link, "offline")
    expect(link.lastError?.code).toBe("CERT_MISMATCH")
    expect(link.lastError?.detail).toContain(impostor.nodeId)
    expect(b.hub.handshake.nonceCount).toBe(0) // no challenge was ever asked
    expect(b.hub.inbound()).toEqual([])
    // dialed without an expected id, the proof of B over the impostor's certificate is refused too
    await expect(performHandshake(Identity.generate(), b.url)).rejects.toMatchObject({ code: "CERT_MISMATCH" })
  })

  it("refuses a man in the middle that terminates TLS with its own certificate", async () => {
    const [a, b] = await Promise.all([hub(), hub()])
    const mallory = Identity.generate("mallory")
    const mitm = wire(await tlsMitm(mallory, authorityOf(b)))
    // expecting B: the certificate is Mallory's key, refused before any request
    const pinned = a.hub.dial(mitm.url, b.hub.nodeId)
    await linkReaches(pinned, "offline")
    expect(pinned.lastError?.code).toBe("CERT_MISMATCH")
    expect(b.hub.handshake.nonceCount).toBe(0)
    a.hub.hangUp(mitm.url)
    // a bootstrap URL without an id: the relayed challenge reaches B over Mallory's certificate, not A's
    const unpinned = await performHandshake(a.hub.identity, mitm.url).catch((e: unknown) => e)
    expect(unpinned).toMatchObject({ code: "CERT_MISMATCH" })
    expect(mitm.relayed()).toBeGreaterThanOrEqual(1)
    expect(b.hub.inbound()).toEqual([])
  })

  it("refuses a handshake proof relayed through another TLS connection, or onto a plain one", async () => {
    const b = await hub()
    const alice = Identity.generate("alice")
    const mallory = Identity.generate("mallory")
    const hs = await performHandshake(alice, b.url)
    expect(hs.channel?.client).toBe(nodeTls(alice).fingerprint)
    // Mallory holds Alice's proof and presents it on her own TLS connection
    const relayed = await upgrade(hs.endpoint, { headers: { [PROOF_HEADER]: hs.proof }, createConnection: pinnedTlsConnect(nodeTls(mallory), {}) as never })
    expect(relayed.status).toBe(401)
    expect(relayed.body).toContain("another TLS channel")
    // a proof made over TLS, presented on a plain loopback upgrade
    const again = await performHandshake(alice, b.url)
    const onPlain = await upgrade(`ws://${authorityOf(b)}/sync`, { headers: { [PROOF_HEADER]: again.proof } })
    expect(onPlain.status).toBe(401)
    // the same kind of proof on Alice's own channel opens
    const own = await performHandshake(alice, b.url)
    expect((await upgrade(own.endpoint, { headers: { [PROOF_HEADER]: own.proof }, createConnection: own.createConnection as never })).status).toBe(101)
  })

  it("requireEncryption refuses every plaintext hub link, judged by the socket and not by what the client says", async () => {
    const [a, s] = await Promise.all([hub(), hub({ requireEncryption: true })])
    const challenge = (endpoint: string) =>
      get(`${s.localUrl}/sync/challenge`, {
        method: "POST",
        body: JSON.stringify({ protocol: HANDSHAKE_PROTOCOL, clientId: a.hub.nodeId, clientNonce: randomNonce(), endpoint }),
      })
    // a client that claims wss:// over a plain socket
    const lying = await challenge(`wss://${authorityOf(s)}/sync`)
    expect(lying.status).toBe(403)
    expect(JSON.parse(lying.body!)).toMatchObject({ code: "PLAINTEXT_REFUSED" })
    expect((await challenge(`ws://${authorityOf(s)}/sync`)).status).toBe(403)
    const upgraded = await upgrade(`ws://${authorityOf(s)}/sync`, { headers: { [PROOF_HEADER]: "x" } })
    expect(upgraded.status).toBe(403)
    expect(upgraded.body).toContain("PLAINTEXT_REFUSED")
    // a plain dial is refused; a TLS one is what it accepts
    const plainLink = a.hub.dial(s.localUrl, s.hub.nodeId)
    await linkReaches(plainLink, "offline")
    expect(plainLink.lastError?.code).toBe("PLAINTEXT_REFUSED")
    a.hub.hangUp(s.localUrl)
    await linkReaches(a.hub.dial(s.url, s.hub.nodeId), "established")
    // the admin API stays reachable in plain from loopback
    expect((await get(`${s.localUrl}/healthz`)).status).toBe(200)
  })

  it("tls.plain none closes plain connections; TLS still answers", async () => {
    const s = await hub({ tls: { plain: "none" } })
    expect(s.localUrl).toBe(s.url)
    const plain = await get(`http://${authorityOf(s)}/healthz`)
    expect(plain.error).toBeDefined()
    const viaTls = await new Promise<number | undefined>(resolve =>
      httpsRequest(`${s.url}/healthz`, { rejectUnauthorized: false }, res => resolve(res.statusCode)).end(),
    )
    expect(viaTls).toBe(200)
  })

  it("a hub with a CA-issued certificate is reached by hubs that trust the CA and by an HTTPS client that checks it", async () => {
    const ca = privateCa()
    const files = await tempFiles({ "ca.pem": ca.caCert, "cert.pem": ca.cert, "key.pem": ca.key })
    const pub = await hub({ tls: { cert: files["cert.pem"], key: files["key.pem"] } })
    const [trusting, other] = await Promise.all([hub({ tls: { ca: files["ca.pem"] } }), hub()])
    // a browser-like client: verifies the chain and the name, no fedhub knowledge
    const browser = await get(`https://localhost:${new URL(pub.url).port}/healthz`, { ca: ca.caCert })
    expect(browser.status).toBe(200)
    expect(JSON.parse(browser.body!)).toMatchObject({ nodeId: pub.hub.nodeId })
    // a hub that trusts the CA links, the node bound to the certificate by the signed transcript
    const link = trusting.hub.dial(pub.url, pub.hub.nodeId)
    await linkReaches(link, "established")
    expect(link.remotePeerId).toBe(pub.hub.nodeId)
    // one that does not: the certificate is neither the node's key nor verified
    const refused = other.hub.dial(pub.url, pub.hub.nodeId)
    await linkReaches(refused, "offline")
    expect(refused.lastError?.code).toBe("CERT_MISMATCH")
  })

  it("a bootstrap URL that names its node id is pinned to it", async () => {
    const [a, wrong] = await Promise.all([hub(), hub()])
    const b = await hub({ peers: [`${a.url}#${a.hub.nodeId}`] })
    const link = b.hub.links()[0]!
    expect(b.hub.links()).toHaveLength(1)
    const held = await (async () => {
      const l = b.hub.dial(`${a.url}#${a.hub.nodeId}`)
      await linkReaches(l, "established")
      return l
    })()
    expect(held.expectNodeId).toBe(a.hub.nodeId)
    expect(link.url).toBe(`wss://${authorityOf(a)}/sync`)
    const c = await hub({ peers: [`${a.url}#${wrong.hub.nodeId as NodeId}`] })
    const pinnedWrong = c.hub.dial(`${a.url}#${wrong.hub.nodeId}`)
    await linkReaches(pinnedWrong, "offline")
    expect(pinnedWrong.lastError?.code).toBe("CERT_MISMATCH")
  })
})
