/**
 * This hub's links with other hubs: the outgoing ones it dials (one `HubClientAdapter`
 * per endpoint, one link per node, each added to the Repo's network), and a view of the
 * inbound ones the sync server holds. It decides nothing about federation: what a link
 * does (proven, offline, refused) is emitted as an event for the composition root, and
 * an `admit` hook may refuse a node.
 */
import { EventEmitter } from "node:events"
import type { PeerId, Repo } from "@automerge/automerge-repo"
import { isNodeId, type Identity, type NodeId } from "../identity/index.ts"
import { FedhubError } from "../errors.ts"
import type { LinkPolicies } from "../schema/index.ts"
import { syncEndpoint, type HandshakeServer } from "./handshake.ts"
import { HubClientAdapter, type HubClientOptions, type LinkState } from "./HubClientAdapter.ts"
import type { SyncServerAdapter } from "./SyncServerAdapter.ts"

/** One outgoing link as `links()` lists it. */
export interface LinkInfo {
  url: string
  state: LinkState
  remoteNodeId?: string
  lastError?: string
  metrics: HubClientAdapter["metrics"]
  health: ReturnType<HubClientAdapter["health"]>
  agreement?: HubClientAdapter["agreement"]
}

/** Our link with a node at a glance, whichever end dialed (`linkOf`). */
export interface LinkSummary {
  direction: "outbound" | "inbound"
  state: string
  latencyMs?: number
  uptimePct?: number
  errorRate?: number
  lastError?: string
}

/** What a link with a node agreed, and that node's own policies as it declared them. */
export interface LinkAgreementView {
  capabilities: readonly string[]
  peer: LinkPolicies
}

export interface LinkManagerEvents {
  /** Every state change of an outgoing link. */
  state: [{ endpoint: string; state: LinkState; error?: FedhubError; remotePeerId?: PeerId }]
  /** A link proved the node it reached, and `admit` let it stay. */
  established: [{ nodeId: NodeId; endpoint: string }]
  /** A link proved a node `admit` refuses: it was hung up. */
  rejected: [{ nodeId: NodeId; endpoint: string; error: unknown }]
  /** A link went offline: the node it is with (proven, else expected) and the link's uptime. */
  offline: [{ nodeId: NodeId; endpoint: string; uptimePct: number }]
  /** A dialed hub sent something refused (over a limit, malformed); `first` once per link and code. */
  refused: [{ endpoint: string; error: FedhubError; first: boolean }]
}

export interface LinkManagerOptions {
  identity: Identity
  /** The Repo whose network the outgoing links join. */
  repo: Repo
  /** The sync server: its inbound connections count as links too (`linkOf`, `dropInbound`). */
  server: SyncServerAdapter
  /** The handshake server: the agreements of inbound links. */
  handshake: HandshakeServer
  /** Options every outgoing link is dialed with (limits, gate, frames, offer, heartbeat). */
  link?: Omit<HubClientOptions, "url" | "auth" | "metadata">
  /** Throws to refuse a node: before dialing one expected, and once a link proves whom it reached (then it is hung up). */
  admit?: (nodeId: NodeId) => void
  /** The id a node's key rotations lead to (itself when none): a link pinned to an old id is dialed to it. */
  successorOf?: (nodeId: NodeId) => NodeId
  /** Several processes of one identity: who may dial a peer (storage/SingleLink.ts); others stand by. */
  claims?: DialClaims
}

/** One process of the identity dials a given peer at a time: the claim is asked before each dial and let go at hang-up. */
export interface DialClaims {
  mayDial(key: string): Promise<boolean>
  release(key: string): void
}

export class LinkManager {
  readonly events = new EventEmitter<LinkManagerEvents>()
  readonly #opts: LinkManagerOptions
  readonly #links = new Map<string, HubClientAdapter>()
  #metadata: Record<string, unknown> = {}

  constructor(opts: LinkManagerOptions) {
    this.#opts = opts
  }

  /** Sets what later dials carry in their join's peerMetadata (where our directory is, our descriptor). */
  setMetadata(metadata: Record<string, unknown>): void {
    this.#metadata = { ...metadata }
  }

  /**
   * Dials another hub and keeps the link up (redialing with backoff) until it is hung up.
   * One link per node: dialing a node at a new URL replaces its link at the old one.
   * A URL may name the node it must reach in its fragment (`wss://host:port#fh1…`): it is then pinned.
   */
  dial(url: string, expectNodeId?: NodeId): HubClientAdapter {
    const pinned = pinnedNodeId(url)
    if (pinned && expectNodeId && pinned !== expectNodeId)
      throw new FedhubError("INVALID_INPUT", `${url} pins ${pinned}, but the dialer expects ${expectNodeId}`)
    expectNodeId ??= pinned
    if (expectNodeId && this.#opts.successorOf) expectNodeId = this.#opts.successorOf(expectNodeId)
    const endpoint = syncEndpoint(url)
    const existing = this.#links.get(endpoint)
    if (existing) return existing
    if (expectNodeId) {
      this.#opts.admit?.(expectNodeId)
      for (const [other, link] of this.#links) if (linksTo(link, expectNodeId)) this.hangUpAt(other)
    }
    const { claims } = this.#opts
    const claim = expectNodeId ?? endpoint
    const link = new HubClientAdapter({
      ...this.#opts.link,
      url: endpoint,
      auth: { kind: "node", identity: this.#opts.identity, expectNodeId },
      metadata: { ...this.#metadata },
      ...(claims ? { mayDial: () => claims.mayDial(claim) } : {}),
    })
    this.#watch(endpoint, link)
    this.#links.set(endpoint, link)
    this.#opts.repo.networkSubsystem.addNetworkAdapter(link)
    return link
  }

  /** Closes the outgoing link at a URL for good; false when there was none. */
  hangUpAt(url: string): boolean {
    const endpoint = syncEndpoint(url)
    const link = this.#links.get(endpoint)
    if (!link) return false
    this.#links.delete(endpoint)
    this.#opts.repo.networkSubsystem.removeNetworkAdapter(link) // disconnects it
    this.#opts.claims?.release(link.expectNodeId ?? endpoint)
    return true
  }

  /** The node the outgoing link at a URL is pinned to, if any. */
  expectedAt(url: string): NodeId | undefined {
    return this.#links.get(syncEndpoint(url))?.expectNodeId
  }

  /**
   * A node rotated its key: each outgoing link pinned to `oldId` is dialed again at its URL,
   * pinned to where `oldId` now leads (`successorOf`). Returns the URLs redialed; throws what `dial` throws.
   */
  repin(oldId: NodeId): string[] {
    const urls = [...this.#links].filter(([, l]) => l.expectNodeId === oldId).map(([url]) => url)
    for (const url of urls) {
      this.hangUpAt(url)
      this.dial(url, oldId)
    }
    return urls
  }

  /** Hangs up every outgoing link to a node. */
  hangUp(nodeId: NodeId): void {
    for (const [url, link] of this.#links) if (linksTo(link, nodeId)) this.hangUpAt(url)
  }

  /** Drops a node's inbound connection (it is blocked or cut). */
  dropInbound(nodeId: NodeId): void {
    this.#opts.server.dropPeer(nodeId as string as PeerId, "blocked")
  }

  /**
   * A node now gives another URL: an outgoing link to its old one is redialed there.
   * Returns whether it was (false: no link to the node elsewhere); throws what `dial` throws.
   */
  follow(nodeId: NodeId, url: string): boolean {
    const endpoint = syncEndpoint(url)
    const stale = [...this.#links].some(([at, link]) => at !== endpoint && linksTo(link, nodeId))
    if (!stale) return false
    this.dial(url, nodeId)
    return true
  }

  /**
   * Our link with a node, one truthful state: the outgoing link when it is up, else the
   * inbound connection when there is one, else the outgoing link's state (offline, ...).
   */
  linkOf(nodeId: NodeId): LinkSummary | undefined {
    const link = [...this.#links.values()].find(l => linksTo(l, nodeId))
    const outbound = link && outboundSummary(link)
    if (outbound && (outbound.state === "established" || outbound.state === "degraded")) return outbound
    const inbound = this.#opts.server.connections().find(c => c.peerId === (nodeId as string))
    if (inbound) return { direction: "inbound", state: "established", latencyMs: inbound.latencyMs ?? undefined }
    return outbound
  }

  /** What our link with a node agreed: the outgoing link's agreement, else the inbound one's. */
  agreementWith(nodeId: NodeId): LinkAgreementView | undefined {
    const link = [...this.#links.values()].find(l => linksTo(l, nodeId) && l.agreement)
    if (link?.agreement) return { capabilities: link.agreement.capabilities, peer: link.agreement.policies.server }
    const inbound = this.#opts.handshake.agreementFor(nodeId)
    return inbound ? { capabilities: inbound.capabilities, peer: inbound.policies.client } : undefined
  }

  /** Outgoing links and their state. */
  links(): LinkInfo[] {
    return [...this.#links.entries()].map(([url, l]) => ({
      url,
      state: l.state,
      remoteNodeId: l.remotePeerId,
      lastError: l.lastError?.message,
      metrics: { ...l.metrics },
      health: l.health(),
      agreement: l.agreement,
    }))
  }

  /** Hangs up every outgoing link, each in its own try; returns what failed. */
  close(): unknown[] {
    const failed: unknown[] = []
    for (const url of [...this.#links.keys()]) {
      try {
        this.hangUpAt(url)
      } catch (e) {
        failed.push(e)
      }
    }
    return failed
  }

  /** Turns one link's events into ours: its state, its refusals, the node it proved or lost. */
  #watch(endpoint: string, link: HubClientAdapter): void {
    const refusedOnce = new Set<string>()
    link.events.on("refused", error => {
      const first = !refusedOnce.has(error.code)
      refusedOnce.add(error.code)
      this.events.emit("refused", { endpoint, error, first })
    })
    link.events.on("state", (state, error) => {
      this.events.emit("state", { endpoint, state, error, remotePeerId: link.remotePeerId })
      const remoteId = (link.remotePeerId ?? link.expectNodeId) as NodeId | undefined
      if (state === "offline" && remoteId) this.events.emit("offline", { nodeId: remoteId, endpoint, uptimePct: link.health().uptimePct })
      if (state === "established" && link.remotePeerId) {
        const nodeId = link.remotePeerId as string as NodeId
        try {
          this.#opts.admit?.(nodeId)
        } catch (e) {
          this.events.emit("rejected", { nodeId, endpoint, error: e })
          this.hangUpAt(endpoint)
          return
        }
        this.events.emit("established", { nodeId, endpoint })
      }
    })
  }
}

/**
 * The node id a URL's fragment pins (`wss://hub.example:7420#fh1…`), if any.
 * @throws FedhubError BAD_NODE_ID when the fragment is there but is not a node id.
 */
export function pinnedNodeId(url: string): NodeId | undefined {
  const hash = /#(.*)$/.exec(url)?.[1]
  if (hash === undefined || hash === "") return undefined
  if (!isNodeId(hash)) throw new FedhubError("BAD_NODE_ID", `the fragment of ${url} is not a node id`)
  return hash
}

/** Whether an outgoing link is (or is meant to be) with `nodeId`. */
const linksTo = (link: HubClientAdapter, nodeId: NodeId): boolean =>
  (link.remotePeerId as string | undefined) === nodeId || link.expectNodeId === nodeId

const outboundSummary = (link: HubClientAdapter): LinkSummary => {
  const h = link.health()
  return {
    direction: "outbound",
    state: h.state,
    latencyMs: h.latencyEwmaMs ?? undefined,
    uptimePct: h.uptimePct,
    errorRate: h.errorRate,
    lastError: h.lastError ? `${h.lastError.code}: ${h.lastError.detail}` : undefined,
  }
}
