/**
 * Outgoing requests to peers (issue 11, items 5 and 9): bounded in time and size,
 * and only to addresses in the allowed scopes, checked on every resolved address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { Identity } from "../../src/identity/index.ts"
import { boundedFetch } from "../../src/replication/boundedFetch.ts"
import { addressScope, checkDialTarget, type ResolveAll } from "../../src/replication/dialTarget.ts"
import { performHandshake } from "../../src/replication/handshake.ts"
import { verifyCandidate } from "../../src/federation/verifyCandidate.ts"
import type { FedhubError } from "../../src/errors.ts"

interface TestServer {
  url: string
  port: number
  connections: number
  /** Bytes the handler managed to write before the client went away. */
  written: number
  /** Resolves when a response's socket was closed by the client. */
  clientClosed: Promise<void>
}

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(s => {
      s.closeAllConnections()
      return new Promise<void>(resolve => s.close(() => resolve()))
    }),
  )
})

async function serve(handler: (req: IncomingMessage, res: ServerResponse, t: TestServer) => void): Promise<TestServer> {
  let closed!: () => void
  const t: TestServer = { url: "", port: 0, connections: 0, written: 0, clientClosed: new Promise(r => (closed = r)) }
  const server = createServer((req, res) => {
    res.on("close", () => closed())
    handler(req, res, t)
  })
  server.on("connection", () => t.connections++)
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve))
  t.port = (server.address() as AddressInfo).port
  t.url = `http://127.0.0.1:${t.port}`
  return t
}

/** Writes 64 KiB chunks for as long as the client reads, without end. */
function endless(res: ServerResponse, t: TestServer): void {
  res.writeHead(200, { "content-type": "application/json" })
  const chunk = Buffer.alloc(64 * 1024, 0x20)
  const pump = () => {
    while (!res.destroyed && res.write(chunk)) t.written += chunk.length
    if (!res.destroyed) res.once("drain", pump)
  }
  pump()
}

const rejection = (p: Promise<unknown>): Promise<FedhubError> =>
  p.then(
    () => {
      throw new Error("expected a rejection")
    },
    (e: FedhubError) => e,
  )

describe("boundedFetch limits", () => {
  it("refuses an endless body with BODY_TOO_LARGE and hangs up without reading it all", async () => {
    const t = await serve((_req, res, t) => endless(res, t))
    const err = await rejection(boundedFetch(`${t.url}/api/node`, {}, { maxBytes: 256 * 1024 }))
    expect(err.code).toBe("BODY_TOO_LARGE")
    await t.clientClosed
    expect(t.written).toBeLessThan(64 * 1024 * 1024)
  })

  it("refuses a declared oversized body before reading any of it", async () => {
    const t = await serve((_req, res) => {
      res.writeHead(200, { "content-length": String(10 * 1024 * 1024) })
      res.write("{")
    })
    const err = await rejection(boundedFetch(t.url, {}, { maxBytes: 1024 }))
    expect(err.code).toBe("BODY_TOO_LARGE")
    expect(err.detail).toContain("declares")
  })

  it("times out a server that never answers", async () => {
    const t = await serve(() => {}) // holds the request forever
    const t0 = performance.now()
    const err = await rejection(boundedFetch(t.url, {}, { timeoutMs: 200 }))
    expect(err.code).toBe("TIMEOUT")
    expect(performance.now() - t0).toBeLessThan(5_000)
  })

  it("times out a server that answers its body too slowly", async () => {
    const t = await serve((_req, res) => {
      res.writeHead(200)
      res.write("[") // and nothing more
    })
    expect((await rejection(boundedFetch(t.url, {}, { timeoutMs: 200 }))).code).toBe("TIMEOUT")
  })

  it("reads a body within the limits and does not follow redirects", async () => {
    const t = await serve((req, res) => {
      if (req.url === "/moved") {
        res.writeHead(302, { location: "http://169.254.169.254/" }).end()
        return
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true }))
    })
    const ok = await boundedFetch(t.url, {}, { maxBytes: 1024, timeoutMs: 2_000 })
    expect(ok.json()).toEqual({ ok: true })
    const moved = await boundedFetch(`${t.url}/moved`)
    expect(moved.status).toBe(302)
    expect(moved.ok).toBe(false)
  })
})

describe("address rule", () => {
  it("classifies addresses into loopback, private and public", () => {
    const table: Record<string, string> = {
      "127.0.0.1": "loopback",
      "127.8.9.10": "loopback",
      "0.0.0.0": "loopback",
      "::1": "loopback",
      "::": "loopback",
      "::ffff:127.0.0.1": "loopback",
      "::ffff:7f00:1": "loopback",
      "10.1.2.3": "private",
      "172.16.0.1": "private",
      "172.31.255.255": "private",
      "192.168.1.1": "private",
      "169.254.169.254": "private",
      "100.64.0.1": "private",
      "fd00::1": "private",
      "fe80::1": "private",
      "::ffff:10.0.0.1": "private",
      "224.0.0.251": "private",
      "172.32.0.1": "public",
      "8.8.8.8": "public",
      "93.184.216.34": "public",
      "2001:4860:4860::8888": "public",
      "::ffff:8.8.8.8": "public",
    }
    for (const [ip, scope] of Object.entries(table)) expect([ip, addressScope(ip)]).toEqual([ip, scope])
  })

  it("refuses a loopback server when only public addresses are allowed, before connecting", async () => {
    const t = await serve((_req, res) => res.end("{}"))
    for (const url of [t.url, `http://localhost:${t.port}`, `http://[::ffff:127.0.0.1]:${t.port}`]) {
      const err = await rejection(boundedFetch(url, {}, { allow: ["public"] }))
      expect([url, err.code, err.status]).toEqual([url, "ADDRESS_NOT_ALLOWED", 403])
    }
    expect(t.connections).toBe(0)
    // the same server is fetched when loopback is allowed
    expect((await boundedFetch(`http://localhost:${t.port}`, {}, { allow: ["loopback"] })).status).toBe(200)
  })

  it("checks every address a name resolves to, and connects only to checked ones", async () => {
    const t = await serve((_req, res) => res.end("{}"))
    const mixed: ResolveAll = async () => [
      { address: "127.0.0.1", family: 4 },
      { address: "93.184.216.34", family: 4 },
    ]
    const url = `http://peer.example:${t.port}/`
    const onlyPublic = await rejection(checkDialTarget(url, { allow: ["public"], resolve: mixed }))
    expect(onlyPublic.code).toBe("ADDRESS_NOT_ALLOWED")
    expect(onlyPublic.detail).toContain("127.0.0.1")
    const onlyLoopback = await rejection(checkDialTarget(url, { allow: ["loopback"], resolve: mixed }))
    expect(onlyLoopback.detail).toContain("93.184.216.34")
    // the same check runs inside the connection's own lookup: no request reaches the server
    expect((await rejection(boundedFetch(url, {}, { allow: ["public"], resolve: mixed }))).code).toBe("ADDRESS_NOT_ALLOWED")
    expect(t.connections).toBe(0)
    // allowed: the socket dials the resolved (checked) address
    const toLoopback: ResolveAll = async () => [{ address: "127.0.0.1", family: 4 }]
    expect(await checkDialTarget(url, { allow: ["loopback"], resolve: toLoopback })).toEqual(["127.0.0.1"])
    expect((await boundedFetch(url, {}, { allow: ["loopback"], resolve: toLoopback })).status).toBe(200)
    expect(t.connections).toBe(1)
  })

  it("checkDialTarget takes ws and wss URLs too", async () => {
    expect((await rejection(checkDialTarget("ws://127.0.0.1:1/sync", { allow: ["private", "public"] }))).code).toBe("ADDRESS_NOT_ALLOWED")
    expect((await rejection(checkDialTarget("wss://10.0.0.1/sync", { allow: ["public"] }))).code).toBe("ADDRESS_NOT_ALLOWED")
    expect(await checkDialTarget("wss://8.8.8.8/sync", { allow: ["public"] })).toEqual(["8.8.8.8"])
  })
})

describe("the handshake and candidate verification use the limits", () => {
  const me = Identity.generate("me")

  it("performHandshake refuses an oversized challenge answer and a disallowed address", async () => {
    const t = await serve((_req, res, t) => endless(res, t))
    expect((await rejection(performHandshake(me, t.url, { peerFetch: { maxBytes: 4096 } }))).code).toBe("BODY_TOO_LARGE")
    expect((await rejection(performHandshake(me, t.url, { peerFetch: { allow: ["public"] } }))).code).toBe("ADDRESS_NOT_ALLOWED")
  })

  it("verifyCandidate refuses an oversized descriptor, a slow server and a disallowed address", async () => {
    const huge = await serve((_req, res, t) => endless(res, t))
    expect((await rejection(verifyCandidate(me, { url: huge.url }, { peerFetch: { maxBytes: 64 * 1024 } }))).code).toBe("BODY_TOO_LARGE")
    const slow = await serve(() => {})
    expect((await rejection(verifyCandidate(me, { url: slow.url }, { timeoutMs: 200 }))).code).toBe("TIMEOUT")
    expect((await rejection(verifyCandidate(me, { url: huge.url }, { peerFetch: { allow: ["public"] } }))).code).toBe("ADDRESS_NOT_ALLOWED")
  })
})
