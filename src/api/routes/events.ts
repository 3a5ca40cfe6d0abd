/**
 * `GET /api/events` (admin): server-sent events for the Federation Center. Each frame is
 * `event: state` with the whole dashboard state (node, peers, blocked nodes, links,
 * stats with their trend over the last hour) as JSON, sent when something changed: a
 * hub joined or left, a link came up or went down, an administrator changed something
 * through the API, and at each heartbeat (latency, degraded and offline links). The
 * page renders what it is sent; it never polls.
 */
import { Router, type RequestHandler, type Response } from "express"
import type { Hub } from "../../hub/Hub.ts"
import type { PeerView } from "../../federation/FederationManager.ts"
import { JOIN_REQUEST_KIND, MARKETPLACE_KIND } from "../../marketplace/marketDocs.ts"

/** The numbers on the dashboard's header cards. */
export interface CenterStats {
  /** Distinct hubs with a live link (outgoing up, or joined to us). */
  connectedNodes: number
  /** Nodes in the registry, not blocked, this hub excluded. */
  knownNodes: number
  /** connected / known, in percent; 100 when none is known. */
  networkHealthPct: number
  documents: number
  /** Marketplaces this hub holds and may read. */
  markets: number
  /** Sessions this hub holds whose status is active. */
  activeSessions: number
}

/** One sample of the stats, kept for an hour for the cards' trends. */
interface Sample extends CenterStats {
  at: number
}

/** What one `state` event carries. */
export interface CenterState {
  at: number
  reason: string
  node: { nodeId: string; name: string; url: string; type: string; federationMode: string; uptimeMs: number }
  peers: PeerView[]
  blocked: { nodeId: string; name?: string; url?: string }[]
  links: { url: string; state: string; remoteNodeId?: string; latencyMs: number | null; uptimePct: number }[]
  stats: CenterStats & { trend: { connectedNodes: number; networkHealthPct: number; documents: number; markets: number; activeSessions: number; sinceMs: number } }
}

const HOUR = 3_600_000
const SAMPLE_EVERY_MS = 60_000

/** Gathers the dashboard state of a hub and pushes it to every subscriber when it changes. */
export class CenterEvents {
  readonly #hub: Hub
  readonly #subscribers = new Set<(s: CenterState) => void>()
  readonly #samples: Sample[] = []
  readonly #off: (() => void)[] = []
  #pending?: NodeJS.Timeout
  #reasons = new Set<string>()
  #building = false
  #again = false
  #pulse?: NodeJS.Timeout
  #sampler: NodeJS.Timeout
  #closed = false

  constructor(hub: Hub, opts: { pulseMs?: number } = {}) {
    this.#hub = hub
    const on = <E extends string>(emitter: { on: (e: E, fn: () => void) => unknown; off: (e: E, fn: () => void) => unknown }, event: E, reason: string) => {
      const fn = () => this.notify(reason)
      emitter.on(event, fn)
      this.#off.push(() => emitter.off(event, fn))
    }
    on(hub.server.events, "joined", "peer joined")
    on(hub.server.events, "left", "peer left")
    on(hub.repo.networkSubsystem, "peer", "link up")
    on(hub.repo.networkSubsystem, "peer-disconnected", "link down")
    on(hub.sessions.events, "updated", "session changed")
    on(hub.market.events, "updated", "marketplace changed")
    this.pulseMs = opts.pulseMs ?? hub.config.heartbeatMs
    this.#sampler = setInterval(() => this.#sample(), SAMPLE_EVERY_MS)
    this.#sampler.unref()
    this.#sample()
  }

  /** How often subscribers get a fresh state without a change (latency, link health). */
  readonly pulseMs: number

  /** Schedules a state event (several notifications within 50 ms make one). */
  notify(reason: string): void {
    if (this.#closed || this.#subscribers.size === 0) return
    this.#reasons.add(reason)
    this.#pending ??= setTimeout(() => {
      this.#pending = undefined
      void this.#broadcast().catch(e => this.#hub.log.warn({ err: (e as Error).message }, "building the dashboard state failed"))
    }, 50)
  }

  /** Adds a subscriber; returns its remover. */
  subscribe(fn: (s: CenterState) => void): () => void {
    this.#subscribers.add(fn)
    if (!this.#pulse) {
      this.#pulse = setInterval(() => this.notify("heartbeat"), this.pulseMs)
      this.#pulse.unref()
    }
    return () => {
      this.#subscribers.delete(fn)
      if (this.#subscribers.size === 0) {
        clearInterval(this.#pulse)
        this.#pulse = undefined
      }
    }
  }

  /** The dashboard state now. */
  async state(reason = "requested"): Promise<CenterState> {
    const hub = this.#hub
    const fed = hub.federation
    await fed.refreshEndorsements().catch(e => hub.log.warn({ err: (e as Error).message }, "refreshing endorsements for the dashboard failed"))
    const stats = this.#stats()
    this.#record(stats)
    const hourAgo = this.#samples.find(s => s.at >= Date.now() - HOUR) ?? { ...stats, at: Date.now() }
    const d = hub.descriptor().payload
    return {
      at: Date.now(),
      reason,
      node: { nodeId: hub.nodeId, name: d.name, url: hub.url, type: hub.config.type, federationMode: hub.config.federationMode, uptimeMs: Date.now() - hub.startedAt },
      peers: fed.peers().filter(p => p.nodeId !== hub.nodeId),
      blocked: fed.peers({ blocked: true }).map(p => ({ nodeId: p.nodeId, name: p.name, url: p.url })),
      links: hub.links().map(l => ({ url: l.url, state: l.state, remoteNodeId: l.remoteNodeId, latencyMs: l.health.latencyEwmaMs, uptimePct: l.health.uptimePct })),
      stats: {
        ...stats,
        trend: {
          connectedNodes: stats.connectedNodes - hourAgo.connectedNodes,
          networkHealthPct: stats.networkHealthPct - hourAgo.networkHealthPct,
          documents: stats.documents - hourAgo.documents,
          markets: stats.markets - hourAgo.markets,
          activeSessions: stats.activeSessions - hourAgo.activeSessions,
          sinceMs: Date.now() - hourAgo.at,
        },
      },
    }
  }

  /** Stops timers and listeners. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#pending)
    clearInterval(this.#pulse)
    clearInterval(this.#sampler)
    for (const off of this.#off.splice(0)) off()
    this.#subscribers.clear()
  }

  async #broadcast(): Promise<void> {
    if (this.#building) {
      this.#again = true
      return
    }
    this.#building = true
    try {
      do {
        this.#again = false
        const reason = [...this.#reasons].join(", ")
        this.#reasons.clear()
        const s = await this.state(reason)
        if (this.#closed) return
        for (const fn of this.#subscribers) fn(s)
      } while (this.#again)
    } finally {
      this.#building = false
    }
  }

  #stats(): CenterStats {
    const hub = this.#hub
    const up = new Set<string>()
    for (const l of hub.links()) if ((l.state === "established" || l.state === "degraded") && l.remoteNodeId) up.add(l.remoteNodeId)
    for (const c of hub.server.connections()) if (c.principal.kind === "node") up.add(c.principal.nodeId)
    const known = hub.federation.registry.list().filter(n => n.nodeId !== hub.nodeId && !n.blocked).length
    const connected = [...up].filter(id => !hub.federation.registry.get(id as never)?.blocked).length
    return {
      connectedNodes: connected,
      knownNodes: known,
      networkHealthPct: known === 0 ? 100 : Math.round((Math.min(connected, known) / known) * 100),
      documents: hub.index.size,
      markets: this.#count("marketplaces", () => hub.market.list().marketplaces.length),
      activeSessions: this.#count("sessions", () => hub.sessions.list().sessions.filter(x => x.status === "active").length),
    }
  }

  /** A card's count; 0 (and a warning) when its service cannot list, so the other cards still show. */
  #count(what: string, fn: () => number): number {
    try {
      return fn()
    } catch (e) {
      this.#hub.log.warn({ err: (e as Error).message }, `counting ${what} for the dashboard failed`)
      return 0
    }
  }

  #sample(): void {
    try {
      this.#record(this.#stats())
    } catch (e) {
      this.#hub.log.warn({ err: (e as Error).message }, "sampling the dashboard stats failed")
    }
  }

  #record(stats: CenterStats): void {
    const now = Date.now()
    const last = this.#samples.at(-1)
    if (!last || now - last.at >= SAMPLE_EVERY_MS / 2) this.#samples.push({ ...stats, at: now })
    while (this.#samples.length > 0 && this.#samples[0]!.at < now - HOUR) this.#samples.shift()
  }
}

const send = (res: Response, s: CenterState): void => {
  res.write(`event: state\ndata: ${JSON.stringify(s)}\n\n`)
}

const MARKET_KINDS = new Set([MARKETPLACE_KIND, JOIN_REQUEST_KIND])

/**
 * Calls `fn` with the marketplaces and join requests that changed here (by this hub's
 * service, by sync or by a policy change), at most once per 100 ms; returns its remover.
 */
export function followMarkets(hub: Hub, fn: (documentIds: string[]) => void): () => void {
  const kinds = new Map<string, boolean>()
  const pending = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let closed = false
  const add = (id: string) => {
    if (closed) return
    pending.add(id)
    timer ??= setTimeout(() => {
      timer = undefined
      const ids = [...pending]
      pending.clear()
      fn(ids)
    }, 100)
  }
  const isMarket = (id: string): boolean => {
    const known = kinds.get(id)
    if (known !== undefined) return known
    const h = hub.repo.handles[id as keyof typeof hub.repo.handles]
    if (!h?.isReady()) return false
    const kind = (h.doc() as { kind?: { val?: string } } | undefined)?.kind
    if (kind === undefined) return false // not known yet: looked at again with its next message
    const yes = MARKET_KINDS.has(String(kind.val ?? kind))
    kinds.set(id, yes)
    return yes
  }
  const onSync = (m: { type: string; documentId?: string }) => {
    const id = m.documentId
    if (m.type === "receive-sync-message" && id && kinds.get(id) !== false) setImmediate(() => isMarket(id) && add(id))
  }
  const onPolicy = (id: string) => void (isMarket(id) && add(id))
  hub.market.events.on("updated", add)
  hub.policies.events.on("changed", onPolicy)
  hub.repo.on("doc-metrics", onSync)
  return () => {
    closed = true
    clearTimeout(timer)
    hub.market.events.off("updated", add)
    hub.policies.events.off("changed", onPolicy)
    hub.repo.off("doc-metrics", onSync)
  }
}

/**
 * The SSE route; mount under /api behind the admin check. With the hub it also streams
 * sessions live: `event: session` (a session's summary, on every change) and
 * `event: session-message` ({ sessionId, message }, each channel message delivered here),
 * and marketplaces: `event: market` ({ documentIds }, marketplaces and join requests that
 * changed here, coalesced per 100 ms; the page fetches what it shows of them again).
 */
export function eventRoutes(events: CenterEvents, hub?: Hub): Router {
  const r = Router()
  const handler: RequestHandler = (req, res) => {
    res.status(200).set({ "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no", connection: "keep-alive" })
    res.flushHeaders()
    res.write("retry: 2000\n\n")
    const off = events.subscribe(s => send(res, s))
    req.on("close", off)
    if (hub) {
      const sessions = hub.sessions
      const onSession = (id: string) => {
        const summary = sessions.list().sessions.find(x => x.documentId === id)
        if (summary) res.write(`event: session\ndata: ${JSON.stringify(summary)}\n\n`)
      }
      const onMessage = (sessionId: string, message: unknown) => void res.write(`event: session-message\ndata: ${JSON.stringify({ sessionId, message })}\n\n`)
      sessions.events.on("updated", onSession)
      sessions.events.on("message", onMessage)
      const offMarkets = followMarkets(hub, documentIds => void res.write(`event: market\ndata: ${JSON.stringify({ documentIds })}\n\n`))
      req.on("close", () => {
        sessions.events.off("updated", onSession)
        sessions.events.off("message", onMessage)
        offMarkets()
      })
    }
    events.state("connected").then(
      s => send(res, s),
      (e: unknown) => {
        res.write(`event: failure\ndata: ${JSON.stringify({ detail: (e as Error).message })}\n\n`)
      },
    )
  }
  r.get("/events", handler)
  return r
}
