/**
 * The federation core of one hub: registry, its directory document, discovery,
 * trust and reputation, admission policy. A thin stateful shell: decisions are
 * the pure functions of trust.ts, reputation.ts and directory.ts; sockets and
 * dialing belong to the hub, reached through `FederationLinks`.
 */
import { isValidAutomergeUrl, parseAutomergeUrl, type AutomergeUrl, type DocHandle, type Repo } from "@automerge/automerge-repo"
import { setTimeout as delay } from "node:timers/promises"
import type { Logger } from "pino"
import { FedhubError, toFedhubError } from "../errors.ts"
import { isNodeId, parseNodeId, type Identity, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import type { Endorsement, FederationNode, TrustLevel } from "../schema/index.ts"
import { emptyDirectory, putDescriptor, putEndorsement, putRotation, readDirectory, type DirectoryDoc, type DirectoryView } from "./directory.ts"
import { endorse } from "./endorsement.ts"
import { Registry, type AdminLevel, type RegistryNode } from "./registry.ts"
import { computeTrust, atLeast, type AdminLevel as TrustAdminLevel, type TrustEntry, type TrustResult } from "./trust.ts"
import type { KeyRotation } from "./rotation.ts"
import { computeReputation } from "./reputation.ts"
import { httpBase, verifyCandidate, type VerifiedNode } from "./verifyCandidate.ts"
import { verifyDescriptor } from "./descriptor.ts"
import { runDiscovery, type DiscoveryReport } from "./discovery/runDiscovery.ts"
import { StaticSource } from "./discovery/static.ts"
import { PeerExchangeSource } from "./discovery/peerExchange.ts"
import { DnsTxtSource } from "./discovery/dns.ts"
import { MdnsSource } from "./discovery/mdns.ts"
import type { DiscoverySource } from "./discovery/types.ts"

/** What the federation core needs from the hub's connections. */
export interface FederationLinks {
  dial(url: string, nodeId: NodeId): void
  hangUp(nodeId: NodeId): void
  dropInbound(nodeId: NodeId): void
  /** State and health of our link(s) with a node, if any. */
  linkOf(nodeId: NodeId): LinkSummary | undefined
}

export interface LinkSummary {
  direction: "outbound" | "inbound"
  state: string
  latencyMs?: number
  uptimePct?: number
  errorRate?: number
  lastError?: string
}

export interface FederationSettings {
  federationMode: "open" | "allowlist" | "blocklist"
  /** Peer exchange is accepted only from hubs at or above this level. */
  peerExchangeMinTrust: TrustLevel
  bootstrap: string[]
  dnsDomains: string[]
  dnsServers?: string[]
  mdns: boolean
  mdnsOptions?: Record<string, unknown>
  endorsementTtlMs: number
}

/** One row of `fedhub peers list`. */
export interface PeerView {
  nodeId: NodeId
  name?: string
  url?: string
  trust: TrustLevel
  trustReason: string
  reputation: number
  link?: LinkSummary
  blocked: boolean
  adminLevel?: AdminLevel
  discoveredBy: string[]
  lastSequence?: number
  lastSeen: number
  /** Its verified descriptor (FederationNode), when this hub holds one. */
  descriptor?: FederationNode
}

export class FederationManager {
  readonly registry: Registry
  readonly directory: DocHandle<DirectoryDoc>
  readonly #identity: Identity
  readonly #repo: Repo
  readonly #settings: FederationSettings
  readonly #links: FederationLinks
  readonly #log: Logger
  #sources?: DiscoverySource[]
  lastDiscovery?: DiscoveryReport

  private constructor(args: {
    identity: Identity
    repo: Repo
    registry: Registry
    directory: DocHandle<DirectoryDoc>
    settings: FederationSettings
    links: FederationLinks
    log: Logger
  }) {
    this.#identity = args.identity
    this.#repo = args.repo
    this.registry = args.registry
    this.directory = args.directory
    this.#settings = args.settings
    this.#links = args.links
    this.#log = args.log
  }

  /** Opens the registry and this hub's directory document (creating them on first use). */
  static async open(args: {
    identity: Identity
    repo: Repo
    registryPath: string
    settings: FederationSettings
    links: FederationLinks
    log: Logger
  }): Promise<FederationManager> {
    const registry = await Registry.open(args.registryPath)
    let directory: DocHandle<DirectoryDoc> | undefined
    if (registry.directoryUrl) {
      try {
        directory = await args.repo.find<DirectoryDoc>(registry.directoryUrl as AutomergeUrl, { signal: AbortSignal.timeout(5_000) })
      } catch (e) {
        args.log.error({ err: e }, "this hub's directory document is missing from storage; making a new one")
      }
    }
    if (!directory) {
      directory = args.repo.create<DirectoryDoc>(emptyDirectory())
      registry.directoryUrl = directory.url
      await registry.save()
    }
    return new FederationManager({ ...args, registry, directory })
  }

  /** Refuses a node at the handshake when a policy says so (BLOCKED, NOT_ALLOWED). */
  admitNode(nodeId: NodeId): void {
    const node = this.registry.get(nodeId)
    if (node?.blocked) throw new FedhubError("BLOCKED", `${nodeId} is blocked on this hub`)
    if (this.#settings.federationMode === "allowlist" && !(node?.manual || node?.adminLevel))
      throw new FedhubError("NOT_ALLOWED", `${nodeId} is not on this hub's allowlist`)
  }

  /** Puts this hub's own signed descriptor into its directory. */
  publishSelf(descriptor: SignedEnvelope<FederationNode>): void {
    this.directory.change(d => {
      putDescriptor(d, descriptor)
    })
  }

  /** A node proved its key by connecting: record it (basic trust) and what it claims. */
  async noteProven(nodeId: NodeId, url?: string): Promise<void> {
    this.registry.upsert(nodeId, { provenAt: Date.now(), ...(url ? { url } : {}) })
    const node = this.registry.get(nodeId)!
    node.observed.successes++
    await this.registry.save()
  }

  /**
   * Learns the descriptor of a node that connected to us, from the directory it
   * announced on its authenticated socket; the descriptor must be self-signed by it.
   */
  async learnFromDirectory(nodeId: NodeId, directoryUrl: string): Promise<void> {
    if (!isValidAutomergeUrl(directoryUrl)) throw new FedhubError("BAD_DOC_URL", "announced directory is not an automerge URL")
    const handle = await this.#repo.find<DirectoryDoc>(directoryUrl, { signal: AbortSignal.timeout(10_000) })
    const entry = readDirectory(handle.doc(), this.#viewOptions()).nodes.find(n => n.nodeId === nodeId)
    if (!entry) throw new FedhubError("NOT_FOUND", `the directory ${nodeId} announced holds no descriptor of it`)
    const endpoint = entry.descriptor.payload.connectivity.endpoints[0]?.url
    this.#accept({ nodeId, url: endpoint ? httpBase(endpoint) : "", descriptor: entry.descriptor, latencyMs: 0 })
  }

  /** A link with a known node failed: counted against its reliability (reputation). */
  noteFailure(nodeId: NodeId, uptimePct?: number): void {
    const node = this.registry.get(nodeId)
    if (!node) return
    node.observed.failures++
    if (uptimePct !== undefined) node.observed.uptime = Math.max(0, Math.min(1, uptimePct / 100))
    void this.registry.save()
  }

  /** Records a verified node: registry, directory (for peer exchange), sequence seen. */
  #accept(v: VerifiedNode, method?: RegistryNode["discoveredBy"][number]): void {
    const seq = v.descriptor.payload.sequence
    const prev = this.registry.get(v.nodeId)
    this.registry.upsert(v.nodeId, {
      url: v.url,
      name: v.descriptor.payload.name,
      provenAt: Date.now(),
      discoveredBy: method ? [method] : [],
      lastSequence: Math.max(seq, prev?.lastSequence ?? 0),
    })
    try {
      this.directory.change(d => {
        putDescriptor(d, v.descriptor)
      })
    } catch (e) {
      if (toFedhubError(e).code !== "DESCRIPTOR_REPLAYED") throw e // we already hold this one or newer
    }
  }

  /** Verifies and adds a node by URL (manual configuration), then keeps a link to it. */
  async addPeer(url: string): Promise<VerifiedNode> {
    const v = await verifyCandidate(this.#identity, { url })
    if (this.registry.get(v.nodeId)?.blocked) throw new FedhubError("BLOCKED", `${v.nodeId} is blocked on this hub; unblock it first`)
    this.#accept(v, "manual_configuration")
    this.registry.upsert(v.nodeId, { manual: true })
    await this.registry.save()
    this.#links.dial(v.url, v.nodeId)
    return v
  }

  /** Forgets a node and cuts our link to it. */
  async removePeer(nodeId: string): Promise<void> {
    const id = parseNodeId(nodeId)
    if (!this.registry.get(id)) throw new FedhubError("NOT_FOUND", `${id} is not in this hub's registry`)
    this.#links.hangUp(id)
    this.registry.remove(id)
    await this.registry.save()
  }

  /** Cuts our links with a node without forgetting or blocking it (it may reconnect). */
  disconnect(nodeId: string): void {
    const id = parseNodeId(nodeId)
    if (!this.#links.linkOf(id)) throw new FedhubError("NOT_FOUND", `no link with ${id}`)
    this.#links.hangUp(id)
    this.#links.dropInbound(id)
  }

  /** Dials a known node again (after `disconnect`, or one learned by discovery). */
  connect(nodeId: string): void {
    const id = parseNodeId(nodeId)
    const node = this.registry.get(id)
    if (!node?.url) throw new FedhubError("NOT_FOUND", `${id} is not in the registry with a URL; use peers add <url>`)
    this.admitNode(id)
    this.#links.dial(node.url, id)
  }

  /** Blocks a node: refused at the handshake, its links cut, its entries left out of views. */
  async block(nodeId: string): Promise<void> {
    const id = parseNodeId(nodeId)
    this.registry.upsert(id, { blocked: true })
    await this.registry.save()
    this.#links.hangUp(id)
    this.#links.dropInbound(id)
  }

  /** Lifts a block; the node's entries show again, and a manual peer is redialed. */
  async unblock(nodeId: string): Promise<void> {
    const id = parseNodeId(nodeId)
    const node = this.registry.get(id)
    if (!node?.blocked) throw new FedhubError("NOT_FOUND", `${id} is not blocked`)
    this.registry.upsert(id, { blocked: false })
    await this.registry.save()
    if (node.manual && node.url) this.#links.dial(node.url, id)
  }

  /** Sets (or clears, with "none") the administrator's trust in a node. */
  async setTrust(nodeId: string, level: AdminLevel | "none"): Promise<TrustEntry> {
    const id = parseNodeId(nodeId)
    if (level !== "none" && level !== "trusted" && level !== "partner")
      throw new FedhubError("INVALID_INPUT", `an administrator sets trusted, partner or none; ${JSON.stringify(level)} is computed`)
    this.registry.upsert(id, { adminLevel: level === "none" ? undefined : level })
    await this.registry.save()
    return this.trust().levels.get(id)!
  }

  /** Signs an endorsement of `nodeId` and publishes it in our directory. */
  endorse(nodeId: string, ttlMs = this.#settings.endorsementTtlMs): SignedEnvelope<Endorsement> {
    const env = endorse(this.#identity, parseNodeId(nodeId), { ttlMs })
    this.directory.change(d => putEndorsement(d, env))
    return env
  }

  /** Our directory as verified now (blocked nodes left out, replays refused). */
  ownDirectory(): DirectoryView {
    return readDirectory(this.directory.doc(), this.#viewOptions())
  }

  #viewOptions() {
    return { blocked: this.registry.blocked(), lastSequence: this.registry.sequences() }
  }

  /**
   * The verified directory of another hub, read from our replica of it. Waits at most
   * `waitMs` for a directory not replicated yet (0: it is requested in the background).
   */
  async peerDirectory(nodeId: NodeId, waitMs = 0): Promise<DirectoryView | undefined> {
    const entry = this.ownDirectory().nodes.find(n => n.nodeId === nodeId)
    const url = entry?.descriptor.payload.connectivity.directory
    if (!url || !isValidAutomergeUrl(url)) return undefined
    const handle = this.#repo.handles[parseAutomergeUrl(url).documentId] as DocHandle<DirectoryDoc> | undefined
    if (handle?.isReady()) return readDirectory(handle.doc(), this.#viewOptions())
    const found = this.#repo.find<DirectoryDoc>(url, { signal: AbortSignal.timeout(Math.max(waitMs, 10_000)) })
    if (waitMs <= 0) {
      void found.catch(() => {})
      return undefined
    }
    const timer = delay(waitMs, undefined, { ref: false })
    const h = await Promise.race([found.catch(() => undefined), timer])
    return h?.isReady() ? readDirectory(h.doc(), this.#viewOptions()) : undefined
  }

  /** Learns the verified descriptor of a hub we dialed, from its URL (same checks as discovery, key already proven by the link). */
  async learnFromUrl(nodeId: NodeId, url: string): Promise<void> {
    const res = await fetch(`${httpBase(url)}/api/node`, { signal: AbortSignal.timeout(5_000) })
    const descriptor = verifyDescriptor(await res.json())
    if (descriptor.payload.id !== nodeId) throw new FedhubError("KEY_MISMATCH", `${url} describes ${descriptor.payload.id}, the link proved ${nodeId}`)
    this.#accept({ nodeId, url: httpBase(url), descriptor, latencyMs: 0 })
  }

  /** Every endorsement we know: our directory's, our peers' directories', and descriptors' chains. */
  async #allEndorsements(): Promise<unknown[]> {
    const own = this.ownDirectory()
    const out: unknown[] = [...own.endorsements]
    for (const n of own.nodes) out.push(...(n.descriptor.payload.identity.certificateChain ?? []))
    const views = await Promise.all(own.nodes.filter(n => n.nodeId !== this.#identity.nodeId).map(n => this.peerDirectory(n.nodeId)))
    for (const view of views) if (view) out.push(...view.endorsements)
    return out
  }

  #endorsementCache: unknown[] = []
  #rotationCache: SignedEnvelope<KeyRotation>[] = []

  /** Recomputes endorsements and key rotations from all directories (call before trust views). */
  async refreshEndorsements(): Promise<void> {
    this.#endorsementCache = await this.#allEndorsements()
    const own = this.ownDirectory()
    const peers = await Promise.all(own.nodes.map(n => this.peerDirectory(n.nodeId)))
    this.#rotationCache = [...own.rotations, ...peers.flatMap(v => v?.rotations ?? [])]
  }

  /** Publishes a key rotation record (signed by the old key) in our directory. */
  publishRotation(envelope: unknown): SignedEnvelope<KeyRotation> {
    let verified: SignedEnvelope<KeyRotation> | undefined
    this.directory.change(d => {
      verified = putRotation(d, envelope)
    })
    return verified!
  }

  /** Trust levels of every known node, with reasons and refused endorsements. */
  trust(now = Date.now()): TrustResult {
    const nodes = this.registry.list()
    const adminLevels = new Map<NodeId, TrustAdminLevel | undefined>(nodes.map(n => [n.nodeId, n.blocked ? "blocked" : n.adminLevel]))
    // a key rotation signed by the old key carries the administrator's level to the new id
    for (const r of this.#rotationCache) {
      const level = adminLevels.get(r.payload.oldId)
      if (level && !adminLevels.get(r.payload.newId)) adminLevels.set(r.payload.newId, level)
    }
    return computeTrust({
      nodes: nodes.map(n => n.nodeId),
      adminLevels,
      proven: new Set(nodes.filter(n => n.provenAt !== undefined).map(n => n.nodeId)),
      endorsements: this.#endorsementCache,
      now,
    })
  }

  /** Reputation 0..1 per node (README: "Reputation"). */
  reputation(trust = this.trust()): Map<NodeId, number> {
    const nodes = this.registry.list().filter(n => !n.blocked)
    const self = this.#identity.nodeId
    const preTrusted = [self, ...nodes.filter(n => n.adminLevel).map(n => n.nodeId)]
    const edges: { from: NodeId; to: NodeId; weight: number }[] = []
    for (const env of this.#endorsementCache as SignedEnvelope<Endorsement>[]) {
      if (trust.refused.some(r => r.issuer === env.signer && r.subject === env.payload?.subject)) continue
      if (isNodeId(env.signer) && isNodeId(env.payload?.subject)) edges.push({ from: env.signer, to: env.payload.subject as NodeId, weight: 1 })
    }
    for (const n of nodes) if (n.observed.successes > 0) edges.push({ from: self, to: n.nodeId, weight: n.observed.successes })
    const result = computeReputation({
      nodes: [self, ...nodes.map(n => n.nodeId)],
      preTrusted,
      edges,
      observed: new Map(nodes.map(n => [n.nodeId, n.observed])),
    })
    return new Map([...result].map(([id, r]) => [id, r.score]))
  }

  /** The peers view: every known, unblocked node (or only blocked ones) with trust, reputation and link health. */
  peers(opts: { blocked?: boolean } = {}): PeerView[] {
    const trust = this.trust()
    const reputation = this.reputation(trust)
    const descriptors = new Map(this.ownDirectory().nodes.map(n => [n.nodeId as string, n.descriptor.payload]))
    return this.registry
      .list()
      .filter(n => Boolean(n.blocked) === Boolean(opts.blocked))
      .map(n => {
        const t = trust.levels.get(n.nodeId)
        return {
          nodeId: n.nodeId,
          name: n.name,
          url: n.url,
          trust: t?.level ?? "unknown",
          trustReason: t?.reason ?? "",
          reputation: Number((reputation.get(n.nodeId) ?? 0).toFixed(4)),
          link: this.#links.linkOf(n.nodeId),
          blocked: Boolean(n.blocked),
          adminLevel: n.adminLevel,
          discoveredBy: n.discoveredBy,
          lastSequence: n.lastSequence,
          lastSeen: n.lastSeen,
          descriptor: descriptors.get(n.nodeId),
        }
      })
  }

  #discoverySources(): DiscoverySource[] {
    if (this.#sources) return this.#sources
    const s = this.#settings
    const sources: DiscoverySource[] = [
      new StaticSource("bootstrap_nodes", () => s.bootstrap.map(url => ({ url }))),
      new StaticSource("manual_configuration", () =>
        this.registry.list().filter(n => n.manual && n.url).map(n => ({ url: n.url!, nodeId: n.nodeId })),
      ),
      new PeerExchangeSource(() => {
        const trust = this.trust()
        return this.registry
          .list()
          .filter(n => !n.blocked && n.provenAt !== undefined)
          .map(n => ({
            nodeId: n.nodeId,
            trusted: atLeast(trust.levels.get(n.nodeId)?.level ?? "unknown", s.peerExchangeMinTrust),
            directory: () => this.peerDirectory(n.nodeId, 2_000),
          }))
      }),
    ]
    if (s.dnsDomains.length > 0) sources.push(new DnsTxtSource({ domains: s.dnsDomains, servers: s.dnsServers }))
    if (s.mdns) sources.push(new MdnsSource({ mdnsOptions: s.mdnsOptions }))
    this.#sources = sources
    return sources
  }

  /** Runs all discovery methods, verifies what they found, and records the verified nodes. */
  async discover(opts: { timeoutMs?: number; connect?: boolean } = {}): Promise<DiscoveryReport> {
    await this.refreshEndorsements()
    const self = this.#identity.nodeId
    const report = await runDiscovery(this.#discoverySources(), {
      verify: c => verifyCandidate(this.#identity, c),
      skip: c => {
        if (c.nodeId === self) return "this hub itself"
        if (c.nodeId && this.registry.get(c.nodeId)?.blocked) return "blocked"
        return undefined
      },
      timeoutMs: opts.timeoutMs,
    })
    for (const v of report.verified) {
      if (v.nodeId === self || this.registry.get(v.nodeId)?.blocked) continue
      const methods = report.candidates.find(c => c.nodeId === v.nodeId)?.methods ?? []
      for (const m of methods) this.#accept(v, m)
      if (opts.connect !== false) this.#links.dial(v.url, v.nodeId)
    }
    await this.registry.save()
    this.lastDiscovery = report
    this.#log.info(
      { verified: report.verified.length, refused: report.candidates.filter(c => c.status === "refused").length, ms: report.durationMs },
      "discovery finished",
    )
    return report
  }

  /** Stops discovery sources (sockets). */
  async close(): Promise<void> {
    await Promise.allSettled((this.#sources ?? []).map(s => s.close?.()))
    await this.registry.save()
  }
}
