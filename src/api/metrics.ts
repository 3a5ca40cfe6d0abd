/**
 * `GET /metrics`: one prom-client Registry per hub (several hubs share a test process),
 * read from what the hub already counts (links, inbound connections, the gate, the
 * document index) when scraped, plus counters fed by events and the HTTP middleware.
 * Labels carry states, codes, methods and route templates only: never a node id, URL
 * or document id, so the series stay bounded and the endpoint needs no token.
 */
import type { Request, RequestHandler } from "express"
import type { IncomingMessage } from "node:http"
import type { Duplex } from "node:stream"
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client"
import type { Hub } from "../hub/Hub.ts"
import type { ServerConnection } from "../replication/SyncServerAdapter.ts"
import { matchRoute } from "./routeTable.ts"

type Traffic = { messagesIn: number; messagesOut: number; bytesIn: number; bytesOut: number }
type LinkCounts = Traffic & { connects: number; errors: number }

const LINK_STATES = ["idle", "standby", "establishing", "established", "degraded", "offline", "closed"] as const

let processRegistry: Registry | undefined
/** The process defaults (CPU, memory, event loop, GC), collected once per process and merged into every hub's scrape. */
function defaults(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** Adds `cur - prev` of every field to `into`; a counter that went down started again (a new socket): all of it counts. */
function addDelta<K extends string>(into: Record<K, number>, cur: Record<K, number>, prev: Record<K, number> | undefined): void {
  for (const k of Object.keys(cur) as K[]) {
    const now = cur[k]
    const before = prev?.[k] ?? 0
    into[k] += now >= before ? now - before : now
  }
}

const zeroTraffic = (): Traffic => ({ messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 })
const trafficOf = (c: ServerConnection): Traffic => ({ messagesIn: c.messagesIn, messagesOut: c.messagesOut, bytesIn: c.bytesIn, bytesOut: c.bytesOut })

/** The metrics of one hub: its registry, the HTTP middleware and the handshake observers. */
export class HubMetrics {
  readonly registry = new Registry()
  readonly #hub: Hub
  readonly #http: Counter<"method" | "route" | "status">
  readonly #httpSeconds: Histogram<"method" | "route">
  readonly #accepted: Counter<"direction">
  readonly #refused: Counter<"stage" | "reason">
  // outbound links: totals so far and the last values read per link
  readonly #outbound: LinkCounts = { ...zeroTraffic(), connects: 0, errors: 0 }
  #lastLinks = new Map<string, LinkCounts>()
  // inbound connections: totals of closed ones plus what was read from live ones
  readonly #inbound: Traffic = zeroTraffic()
  #lastInbound = new Map<ServerConnection, Traffic>()
  readonly #off: (() => void)[] = []

  constructor(hub: Hub) {
    this.#hub = hub
    const registers = [this.registry]
    const self = this
    this.#http = new Counter({ name: "fedhub_http_requests_total", help: "HTTP requests answered, by method, route template and status", labelNames: ["method", "route", "status"], registers })
    this.#httpSeconds = new Histogram({
      name: "fedhub_http_request_duration_seconds",
      help: "Time to answer an HTTP request, by method and route template",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    })
    this.#accepted = new Counter({ name: "fedhub_handshakes_accepted_total", help: "Hub-to-hub handshakes that ended in a joined link: inbound (peers that joined us) and outbound (our links established)", labelNames: ["direction"], registers, collect: () => self.#readTraffic() })
    this.#refused = new Counter({ name: "fedhub_handshakes_refused_total", help: "Handshakes refused by this hub, by stage (challenge, upgrade) and reason (error code)", labelNames: ["stage", "reason"], registers })
    this.#accepted.inc({ direction: "inbound" }, 0)
    this.#accepted.inc({ direction: "outbound" }, 0)
    this.#refused.inc({ stage: "upgrade", reason: "BLOCKED" }, 0)

    const joined = (c: ServerConnection) => {
      if (c.principal.kind === "node") this.#accepted.inc({ direction: "inbound" })
    }
    const left = (c: ServerConnection) => {
      addDelta(this.#inbound, trafficOf(c), this.#lastInbound.get(c))
      this.#lastInbound.delete(c)
    }
    hub.server.events.on("joined", joined)
    hub.server.events.on("left", left)
    this.#off.push(() => hub.server.events.off("joined", joined), () => hub.server.events.off("left", left))

    new Gauge({
      name: "fedhub_links",
      help: "Outgoing links to other hubs, by state",
      labelNames: ["state"],
      registers,
      collect() {
        this.reset()
        for (const s of LINK_STATES) this.set({ state: s }, 0)
        for (const l of hub.links()) this.inc({ state: l.state })
      },
    })
    new Gauge({
      name: "fedhub_inbound_connections",
      help: "Sockets joined on /sync, by kind (node: another hub, client: a local admin client)",
      labelNames: ["kind"],
      registers,
      collect() {
        this.reset()
        this.set({ kind: "node" }, 0)
        this.set({ kind: "client" }, 0)
        for (const c of hub.server.connections()) this.inc({ kind: c.principal.kind })
      },
    })
    new Counter({
      name: "fedhub_sync_messages_total",
      help: "Sync frames exchanged with other hubs and clients, by direction (in, out) and side (outbound: our links, inbound: sockets that joined us)",
      labelNames: ["direction", "side"],
      registers,
      collect() {
        self.#readTraffic()
        this.reset()
        this.inc({ direction: "in", side: "outbound" }, self.#outbound.messagesIn)
        this.inc({ direction: "out", side: "outbound" }, self.#outbound.messagesOut)
        this.inc({ direction: "in", side: "inbound" }, self.#inbound.messagesIn)
        this.inc({ direction: "out", side: "inbound" }, self.#inbound.messagesOut)
      },
    })
    new Counter({
      name: "fedhub_sync_bytes_total",
      help: "Bytes of sync frames, by direction (in, out) and side (outbound, inbound)",
      labelNames: ["direction", "side"],
      registers,
      collect() {
        self.#readTraffic()
        this.reset()
        this.inc({ direction: "in", side: "outbound" }, self.#outbound.bytesIn)
        this.inc({ direction: "out", side: "outbound" }, self.#outbound.bytesOut)
        this.inc({ direction: "in", side: "inbound" }, self.#inbound.bytesIn)
        this.inc({ direction: "out", side: "inbound" }, self.#inbound.bytesOut)
      },
    })
    new Counter({
      name: "fedhub_link_errors_total",
      help: "Errors on outgoing links: failed dials, refusals, lost links, bad frames, missed pongs",
      registers,
      collect() {
        self.#readTraffic()
        this.reset()
        this.inc(self.#outbound.errors)
      },
    })
    new Counter({
      name: "fedhub_peer_input_rejected_total",
      help: "Messages from peers refused before automerge-repo saw them (README \"Limits\"), by reason",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset()
        this.inc({ reason: "TOO_DEEP" }, 0)
        for (const [code, n] of Object.entries(hub.server.refusals)) this.inc({ reason: code }, n)
        this.inc({ reason: "POLICY_INVALID" }, hub.gate.policyRecordsRefused)
      },
    })
    new Counter({
      name: "fedhub_unheld_requests_answered_total",
      help: "Requests for documents this hub does not hold, answered doc-unavailable at once by the gate",
      registers,
      collect() {
        this.reset()
        this.inc(hub.gate.unheldRequestsAnswered)
      },
    })
    new Gauge({
      name: "fedhub_documents_held",
      help: "Documents this hub holds (its document index)",
      registers,
      collect() {
        this.set(hub.index.size)
      },
    })
    new Gauge({
      name: "fedhub_peers_known",
      help: "Nodes in this hub's registry (itself excluded), by blocked",
      labelNames: ["blocked"],
      registers,
      collect() {
        const nodes = hub.federation.registry.list().filter(n => n.nodeId !== hub.nodeId)
        this.set({ blocked: "false" }, nodes.filter(n => !n.blocked).length)
        this.set({ blocked: "true" }, nodes.filter(n => n.blocked).length)
      },
    })
    new Gauge({
      name: "fedhub_discovery_last_duration_seconds",
      help: "How long the latest discovery run took (0 before the first)",
      registers,
      collect() {
        this.set((hub.federation.lastDiscovery?.durationMs ?? 0) / 1000)
      },
    })
    new Gauge({
      name: "fedhub_discovery_last_verified_nodes",
      help: "Nodes the latest discovery run verified",
      registers,
      collect() {
        this.set(hub.federation.lastDiscovery?.verified.length ?? 0)
      },
    })
    new Gauge({
      name: "fedhub_uptime_seconds",
      help: "Seconds since this hub started",
      registers,
      collect() {
        this.set((Date.now() - hub.startedAt) / 1000)
      },
    })
  }

  /** Folds what outgoing links and live inbound connections counted since the last read into the totals. */
  #readTraffic(): void {
    const next = new Map<string, LinkCounts>()
    let connects = 0
    for (const l of this.#hub.links()) {
      const cur: LinkCounts = { messagesIn: l.metrics.messagesIn, messagesOut: l.metrics.messagesOut, bytesIn: l.metrics.bytesIn, bytesOut: l.metrics.bytesOut, connects: l.metrics.connects, errors: l.metrics.errors }
      const before = this.#outbound.connects
      addDelta(this.#outbound, cur, this.#lastLinks.get(l.url))
      connects += this.#outbound.connects - before
      next.set(l.url, cur)
    }
    this.#lastLinks = next
    if (connects > 0) this.#accepted.inc({ direction: "outbound" }, connects)
    for (const c of this.#hub.server.connections()) {
      const cur = trafficOf(c)
      addDelta(this.#inbound, cur, this.#lastInbound.get(c))
      this.#lastInbound.set(c, cur)
    }
  }

  /** Express middleware counting every request by method, route template (from the route table) and status. */
  http(): RequestHandler {
    return (req, res, next) => {
      const started = performance.now()
      res.once("finish", () => {
        const method = req.method
        const route = routeLabel(req)
        this.#http.inc({ method, route, status: String(res.statusCode) })
        this.#httpSeconds.observe({ method, route }, (performance.now() - started) / 1000)
      })
      next()
    }
  }

  /** Counts a refused handshake (the challenge step answered with this error code). */
  challengeRefused(code: string): void {
    this.#refused.inc({ stage: "challenge", reason: code })
  }

  /**
   * Watches the answer to every /sync upgrade on `server` and counts a refusal by the
   * code of its problem+json body (the endpoint answers and hangs up with `socket.end`).
   * Call before the hub attaches its endpoint.
   */
  watchUpgrades(server: { on: (e: "upgrade", fn: (req: IncomingMessage, socket: Duplex) => void) => unknown; off: (e: "upgrade", fn: (req: IncomingMessage, socket: Duplex) => void) => unknown }): void {
    const onUpgrade = (_req: IncomingMessage, socket: Duplex) => {
      const end = socket.end.bind(socket) as (...args: unknown[]) => Duplex
      ;(socket as unknown as { end: (...args: unknown[]) => Duplex }).end = (...args: unknown[]) => {
        const first = args[0]
        if (typeof first === "string" && first.startsWith("HTTP/1.1 ")) {
          const code = /"code":"([A-Z_]+)"/.exec(first)?.[1] ?? `HTTP_${first.slice(9, 12)}`
          this.#refused.inc({ stage: "upgrade", reason: code })
        }
        return end(...args)
      }
    }
    server.on("upgrade", onUpgrade)
    this.#off.push(() => server.off("upgrade", onUpgrade))
  }

  /** The Prometheus text of this hub's metrics and the process defaults. */
  async text(): Promise<{ contentType: string; body: string }> {
    const merged = Registry.merge([this.registry, defaults()])
    return { contentType: this.registry.contentType, body: await merged.metrics() }
  }

  /** Stops listening to the hub and the server. */
  close(): void {
    for (const off of this.#off.splice(0)) off()
    this.registry.clear()
  }
}

/** The route template of a request (`/api/peers/{nodeId}`), `/center/{asset}` for dashboard files, else `unmatched`. */
function routeLabel(req: Request): string {
  const path = req.originalUrl.split("?")[0] ?? "/"
  return matchRoute(req.method, path)?.path ?? "unmatched"
}
