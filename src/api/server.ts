/**
 * The HTTP face of a hub: one Express app and the /sync WebSocket endpoint on one port.
 */
import { createServer, type Server } from "node:http"
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net"
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls"
import { addressScope } from "../replication/dialTarget.ts"
import { ensureNodeCertificate, loadCertificatePair, type NodeId, type TlsCredentials } from "../identity/index.ts"
import express from "express"
import type { Hub } from "../hub/Hub.ts"
import { FedhubError, toFedhubError } from "../errors.ts"
import { problemHandler, sendProblem } from "./problem.ts"
import { nodeRoutes } from "./routes/node.ts"
import { docRoutes } from "./routes/docs.ts"
import { marketRoutes } from "./routes/market.ts"
import { sessionRoutes } from "./routes/session.ts"
import { requireAdmin } from "./auth.ts"
import { federationRoutes } from "./routes/federation.ts"
import { jsonBody } from "./jsonBody.ts"
import { CHALLENGE_SUFFIX } from "../replication/handshake.ts"
import { SYNC_PATH } from "../replication/syncEndpoint.ts"
import { HubMetrics } from "./metrics.ts"
import { buildOpenApi } from "./openapi.ts"
import { CenterEvents, eventRoutes } from "./routes/events.ts"
import { centerRoutes, settingsRoutes } from "./routes/center.ts"
import { rotateRoutes, rotationRecordRoutes } from "./routes/rotate.ts"
import { rotateHubIdentity, type RotationReport } from "../hub/rotateIdentity.ts"
import { claimHome, readRunInfo } from "../hub/home.ts"

export interface Listening {
  /** The hub's URL: https:// when it serves TLS (what other hubs dial), else http://. */
  url: string
  /** The hub served now: a key rotation replaces it (`rotate`). */
  current: () => Hub
  /** Rotates the served hub's key (POST /api/rotate): it reopens under the new key on the same port. */
  rotate: () => Promise<RotationReport>
  /** Where loopback clients (CLI, dashboard, tests) may talk plain HTTP, when plain is open to them. */
  localUrl?: string
  server: Server
  close: () => Promise<void>
}

/** What the HTTP face keeps per hub beside the app: its metrics and the dashboard's event feed. */
export interface AppParts {
  metrics: HubMetrics
  events: CenterEvents
  /** Rotates the hub's key, when the app is served by `serveHub` (POST /api/rotate). */
  rotate?: () => Promise<RotationReport>
}

/** Makes the per-hub parts of the app; `closeParts` releases them. */
export const createParts = (hub: Hub): AppParts => ({ metrics: new HubMetrics(hub), events: new CenterEvents(hub) })

/** Stops the parts' listeners and timers. */
export function closeParts(parts: AppParts): void {
  parts.events.close()
  parts.metrics.close()
}

const VERSION = "0.1.0"

/** Builds the Express app over a hub (no listening). */
export function buildApp(hub: Hub, parts: AppParts = createParts(hub)): express.Express {
  const { metrics, events } = parts
  const app = express()
  app.disable("x-powered-by")
  app.use(metrics.http())
  // an administrator's change (any admin write) is pushed to the dashboard at once
  app.use("/api", (req, res, next) => {
    const what = `${req.method} ${req.originalUrl.split("?")[0]}`
    if (req.method !== "GET" && req.method !== "HEAD") res.once("finish", () => events.notify(what))
    next()
  })
  const { bodyBytes, bodyDepth } = hub.config.limits
  // the unauthenticated challenge takes a small body (a ChallengeRequest is a few hundred
  // bytes); admin bodies are read only once the token checked out
  app.use(SYNC_PATH + CHALLENGE_SUFFIX, jsonBody({ maxBytes: 16 * 1024, maxDepth: 8 }))
  const body = jsonBody({ maxBytes: bodyBytes, maxDepth: bodyDepth })
  app.use(nodeRoutes(hub))
  app.use(rotationRecordRoutes(hub))
  // public: aggregate counters only, no node ids, URLs or document ids (README "Federation Center")
  app.get("/metrics", async (_req, res) => {
    const { contentType, body: text } = await metrics.text()
    res.type(contentType).send(text)
  })
  app.get("/api/openapi.json", (req, res) => {
    res.json(buildOpenApi({ version: VERSION, serverUrl: `${req.protocol}://${req.headers.host ?? "127.0.0.1"}` }))
  })
  app.use(centerRoutes())
  app.use("/api/docs", requireAdmin(hub), body, docRoutes(hub))
  app.use("/api/markets", requireAdmin(hub), body, marketRoutes(hub))
  app.use("/api/sessions", requireAdmin(hub), body, sessionRoutes(hub))
  app.use("/api", requireAdmin(hub), eventRoutes(events, hub), settingsRoutes(hub))
  app.use("/api", requireAdmin(hub), body, federationRoutes(hub))
  app.use("/api", requireAdmin(hub), body, rotateRoutes(parts.rotate))
  app.use((req, res) => sendProblem(res, new FedhubError("NOT_FOUND", `no route ${req.method} ${req.path}`)))
  // a refused handshake challenge is counted by its code, then answered as every error is
  app.use(SYNC_PATH + CHALLENGE_SUFFIX, ((e, _req, _res, next) => {
    metrics.challengeRefused(toFedhubError(e).code)
    next(e)
  }) as express.ErrorRequestHandler)
  app.use(problemHandler(e => hub.log.error({ err: e }, "unhandled error in a route")))
  return app
}

/** The certificate the hub presents: a CA-issued one when configured, else its node certificate. */
async function serverCredentials(hub: Hub): Promise<TlsCredentials> {
  const { cert, key } = hub.config.tls
  if (cert !== undefined || key !== undefined) {
    if (cert === undefined || key === undefined) throw new FedhubError("CONFIG_INVALID", "tls.cert and tls.key go together")
    return loadCertificatePair(cert, key)
  }
  return ensureNodeCertificate(hub.paths.home, hub.identity)
}

/** Whether a plain (not TLS) connection from `address` is let in, per `tls.plain`. */
const plainAllowed = (plain: "loopback" | "any" | "none", address: string | undefined): boolean => {
  if (plain === "any") return true
  if (plain === "none" || address === undefined) return false
  try {
    return addressScope(address) === "loopback"
  } catch {
    return false
  }
}

/** The first byte of a TLS ClientHello record (handshake, content type 22). */
const TLS_HANDSHAKE = 0x16

/**
 * Listens on host:port (0 = any free port), mounts /sync, and returns the URL. With TLS
 * (the default) one port serves both: each connection's first byte tells a TLS
 * ClientHello from plain HTTP; TLS goes through the TLS server (our certificate, the
 * client's requested), plain only from where `tls.plain` allows; both reach one HTTP server.
 */
export async function serveHub(first: Hub, opts: { host: string; port: number }): Promise<Listening> {
  let hub = first
  let rotating: Promise<RotationReport> | undefined
  const rotate = (): Promise<RotationReport> => {
    if (rotating) return Promise.reject(new FedhubError("ROTATION_UNAVAILABLE", "a key rotation is already under way"))
    rotating = rotateServed().finally(() => (rotating = undefined))
    return rotating
  }
  let parts = createParts(hub)
  parts.rotate = rotate
  let app = buildApp(hub, parts)
  const server = createServer((req, res) => app(req, res))
  server.on("clientError", (_err, socket) => socket.destroy())
  parts.metrics.watchUpgrades(server) // before the hub mounts /sync, so its answers are seen
  const tlsConfig = hub.config.tls
  let tlsServer: TlsServer | undefined
  if (tlsConfig.enabled) {
    const creds = await serverCredentials(hub)
    tlsServer = createTlsServer({
      cert: creds.cert,
      key: creds.key,
      requestCert: true, // a hub presents its node certificate; browsers and CLIs may present none
      rejectUnauthorized: false, // node certificates are self-signed: the handshake checks them by key
      minVersion: "TLSv1.2",
      ALPNProtocols: ["http/1.1"],
    })
    tlsServer.on("secureConnection", socket => server.emit("connection", socket))
    tlsServer.on("tlsClientError", (_err, socket) => socket.destroy())
  }
  const raw = new Set<Socket>()
  const front = createNetServer({ noDelay: true }, socket => {
    raw.add(socket)
    socket.once("close", () => raw.delete(socket))
    socket.on("error", () => socket.destroy())
    if (!tlsServer) return void server.emit("connection", socket)
    socket.once("data", chunk => {
      socket.pause()
      socket.unshift(chunk)
      if (chunk[0] === TLS_HANDSHAKE) tlsServer.emit("connection", socket)
      else if (plainAllowed(tlsConfig.plain, socket.remoteAddress)) server.emit("connection", socket)
      else return void socket.destroy()
      process.nextTick(() => socket.resume())
    })
  })
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject)
    front.listen(opts.port, opts.host, () => {
      front.off("error", reject)
      resolve()
    })
  })
  const { port } = front.address() as AddressInfo
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host
  const authority = `${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}`
  const url = `${tlsServer ? "https" : "http"}://${authority}`
  const localUrl = !tlsServer || tlsConfig.plain !== "none" ? `http://127.0.0.1:${port}` : undefined
  await hub.attach(server, url)
  /**
   * The served hub rotates its key and reopens (rotateHubIdentity); the new one takes over the
   * app, /sync and the TLS certificate on the same sockets, and redials the old one's links.
   * Inbound links were closed with the old hub: their dialers redial and meet the new key.
   */
  async function rotateServed(): Promise<RotationReport> {
    const old = hub
    const outgoing = old.links().map(l => ({ url: l.url, nodeId: l.remoteNodeId }))
    const { next, report } = await rotateHubIdentity(old)
    closeParts(parts)
    hub = next
    parts = createParts(next)
    parts.rotate = rotate
    app = buildApp(next, parts)
    parts.metrics.watchUpgrades(server)
    if (tlsServer) {
      const creds = await serverCredentials(next)
      tlsServer.setSecureContext({ cert: creds.cert, key: creds.key, minVersion: "TLSv1.2" })
    }
    await next.attach(server, url)
    for (const l of outgoing) {
      try {
        next.dial(l.url, l.nodeId as NodeId | undefined)
      } catch (e) {
        next.log.warn({ peer: l.url, err: (e as Error).message }, "could not redial a link after the key rotation")
      }
    }
    const run = await readRunInfo(next.paths)
    if (run?.pid === process.pid) await claimHome(next.paths, { ...run, nodeId: next.nodeId })
    return report
  }
  return {
    url,
    ...(localUrl ? { localUrl } : {}),
    server,
    current: () => hub,
    rotate,
    close: async () => {
      await rotating?.catch(() => undefined)
      closeParts(parts)
      await hub.close()
      await new Promise<void>(resolve => {
        front.close(() => resolve())
        server.closeAllConnections()
        for (const socket of raw) socket.destroy()
      })
    },
  }
}
