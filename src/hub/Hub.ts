/**
 * The composition root for one node: identity, storage, the authenticated sync
 * endpoint, outgoing links to other hubs, and the document store, wired from config.
 */
import type { Server } from "node:http"
import * as A from "@automerge/automerge"
import { join } from "node:path"
import type { DocHandle, DocumentId, Message, PeerId } from "@automerge/automerge-repo"
import type { Logger } from "pino"
import { createIdentity, hasIdentity, isNodeId, loadIdentity, type Identity, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import { closeRepo, createRepo, storedDocumentIds } from "../replication/createRepo.ts"
import { DocIndex } from "../replication/DocIndex.ts"
import { InboundGate } from "../replication/InboundGate.ts"
import { PolicyStore } from "../replication/PolicyStore.ts"
import { PolicyAnnouncer } from "../replication/PolicyAnnouncer.ts"
import { SignatureStore } from "../replication/SignatureStore.ts"
import { SignatureAnnouncer } from "../replication/SignatureAnnouncer.ts"
import { Authorship } from "../replication/Authorship.ts"
import type { WireMessage } from "../replication/wire.ts"
import { mayRouteThrough, mayShareWith } from "../replication/access/share.ts"
import { mayRead } from "../replication/access/policy.ts"
import { signEphemeral, type SignedEphemeralMessage } from "../replication/access/ephemeralSignature.ts"
import type { PeerFetchOptions } from "../replication/boundedFetch.ts"
import { aclOf, DocStore } from "../replication/DocStore.ts"
import { HandshakeServer, syncEndpoint } from "../replication/handshake.ts"
import { HubClientAdapter, type LinkState } from "../replication/HubClientAdapter.ts"
import { SyncServerAdapter } from "../replication/SyncServerAdapter.ts"
import { attachSyncEndpoint } from "../replication/syncEndpoint.ts"
import { buildDescriptor, nextSequence, signDescriptor } from "../federation/descriptor.ts"
import type { FederationNode } from "../schema/index.ts"
import { ensureAdminToken, type HomePaths } from "./home.ts"
import type { ResolvedConfig } from "./config.ts"
import type { Repo } from "@automerge/automerge-repo"
import { FedhubError } from "../errors.ts"
import { FederationManager, type LinkSummary } from "../federation/FederationManager.ts"
import { httpBase } from "../federation/verifyCandidate.ts"
import { loopbackMdnsOptions, MdnsAnnouncer } from "../federation/discovery/mdns.ts"
import { LEGACY_OFFER, negotiate, offerFromNode, verifyAgreement, type LinkPolicies, type Offer } from "../federation/negotiation.ts"

export interface LinkInfo {
  url: string
  state: LinkState
  remoteNodeId?: string
  lastError?: string
  metrics: HubClientAdapter["metrics"]
  health: ReturnType<HubClientAdapter["health"]>
  agreement?: HubClientAdapter["agreement"]
}

export class Hub {
  readonly identity: Identity
  /** The resolved configuration, its name settled (config, else the identity's). */
  readonly config: ResolvedConfig & { name: string }
  readonly paths: HomePaths
  readonly repo: Repo
  readonly docs: DocStore
  readonly server: SyncServerAdapter
  readonly handshake: HandshakeServer
  readonly adminToken: string
  readonly log: Logger
  readonly startedAt = Date.now()
  /** Registry, directory, discovery, trust: set by `open`. */
  federation!: FederationManager
  #descriptor?: SignedEnvelope<FederationNode>
  /** What this hub offers and requires when it links with another (negotiation). */
  readonly offer: Offer
  /** The documents this hub holds, known without loading them. */
  readonly index: DocIndex
  /** Every document's policy records, known without loading the document. */
  readonly policies: PolicyStore
  readonly #policyFrames: PolicyAnnouncer
  /** Actor bindings and signed heads: who wrote each change of a governed document. */
  readonly signatures: SignatureStore
  /** This hub as the author of its own changes. */
  readonly authorship: Authorship
  readonly #signatureFrames: SignatureAnnouncer
  /** The check every message from a hub passes before the Repo (README "Limits"). */
  readonly gate: InboundGate
  #links = new Map<string, HubClientAdapter>()
  #endpoint?: { close: () => void }
  #sweep?: NodeJS.Timeout
  #publicUrl?: string
  #closed = false
  #announcer?: MdnsAnnouncer

  private constructor(args: {
    identity: Identity
    config: ResolvedConfig & { name: string }
    paths: HomePaths
    adminToken: string
    log: Logger
    index: DocIndex
    policies: PolicyStore
    signatures: SignatureStore
  }) {
    this.identity = args.identity
    this.config = args.config
    this.paths = args.paths
    this.adminToken = args.adminToken
    this.log = args.log
    this.index = args.index
    this.policies = args.policies
    this.signatures = args.signatures
    this.authorship = new Authorship(this.identity, this.signatures)
    this.#policyFrames = new PolicyAnnouncer(this.policies)
    this.#signatureFrames = new SignatureAnnouncer({
      authorship: this.authorship,
      store: this.signatures,
      governed: id => this.policies.has(id),
      docOf: id => {
        const handle = this.repo.handles[id as DocumentId]
        return handle?.isReady() ? (handle.doc() as A.Doc<unknown>) : undefined
      },
    })
    const c = this.config
    this.gate = new InboundGate({
      limits: c.limits,
      holds: id => this.index.has(id),
      relays: c.type === "relay",
      policies: this.policies,
      signatures: this.signatures,
    })
    this.server = new SyncServerAdapter({
      gate: this.gate,
      agreementOf: id => this.handshake.agreementFor(id as NodeId),
      before: m => this.#before(m),
      rewrite: m => this.#outgoing(m),
    })
    this.offer = offerFromNode(buildDescriptor(this.identity, c, { endpoints: [], startedAt: this.startedAt }), {
      maxPeerRetentionDays: c.maxPeerRetentionDays,
      requiredCapabilities: c.requiredCapabilities,
    })
    this.handshake = new HandshakeServer(this.identity, {
      maxUsedNonces: c.limits.usedNonces,
      negotiate: (clientId, remote, link) => {
        try {
          return negotiate(this.offer, remote ?? LEGACY_OFFER, { encrypted: link.encrypted })
        } catch (e) {
          this.log.warn({ peer: clientId, err: (e as Error).message }, "negotiation refused a peer")
          throw e
        }
      },
    })
    this.repo = createRepo({
      peerId: this.identity.nodeId,
      storageDir: args.paths.data,
      onStoring: id => this.index.record(id),
      network: [this.server],
      shareConfig: {
        // hubs offer what a document's policy admits; local clients ask by id
        announce: async (peerId, documentId) =>
          isNodeId(peerId) && this.#mayRelayTo(peerId, documentId) && (await this.#mayShare(peerId, documentId)),
        access: async (peerId, documentId) => this.#mayShare(peerId, documentId),
      },
    })
    this.docs = new DocStore(this.repo, {
      author: this.identity.nodeId,
      maxDepth: c.limits.changeDepth,
      identity: this.identity,
      policies: this.policies,
      authorship: this.authorship,
      nameOf: id => (id === (this.nodeId as string) ? this.config.name : this.federation?.registry.get(id as NodeId)?.name),
    })
    // a narrowed policy stops running syncs at once; a widened one offers the document
    this.policies.events.on("changed", () => this.repo.shareConfigChanged())
    this.server.events.on("left", conn => conn.peerId && this.#forgetSent(conn.peerId))
    this.gate.attach(this.repo)
    // handles a relay made for documents no peer had are dropped, so strangers' requests do not pile up
    this.#sweep = setInterval(() => this.dropUnavailable(), 60_000)
    this.#sweep.unref()
    this.server.events.on("refusal", r => {
      if (r.first) this.log.warn({ code: r.code, detail: r.detail, peer: r.principal }, "refused a peer (logged once per peer and reason; counted after)")
    })
    this.server.events.on("joined", c => {
      this.log.info({ peer: c.peerId, principal: c.principal.kind }, "peer joined")
      if (c.principal.kind !== "node") return
      const nodeId = c.principal.nodeId
      void this.federation.noteProven(nodeId).catch(e => this.log.warn({ peer: nodeId, err: (e as Error).message }, "recording a proven peer failed"))
      const meta = c.peerMetadata as { fedhubDirectory?: unknown; fedhubDescriptor?: unknown } | undefined
      // the descriptor it sent on its authenticated socket: its current URL, learned at once
      if (meta?.fedhubDescriptor !== undefined) {
        try {
          const url = this.federation.learnDescriptor(nodeId, meta.fedhubDescriptor)
          if (url) this.#followMove(nodeId, url)
        } catch (e) {
          this.log.warn({ peer: nodeId, err: (e as Error).message }, "a peer's descriptor was refused")
        }
      }
      const directory = meta?.fedhubDirectory
      // a directory is read only on a link that agreed the capability
      if (typeof directory === "string" && this.#agreementWith(nodeId)?.capabilities.includes("directory"))
        void this.federation
          .learnFromDirectory(nodeId, directory)
          .catch(e => this.log.warn({ peer: nodeId, err: (e as Error).message }, "could not read a peer's descriptor"))
    })
  }

  /** Opens the hub of a home, creating its identity and admin token on first use. */
  static async open(paths: HomePaths, settings: ResolvedConfig, log: Logger): Promise<Hub> {
    const identity = (await hasIdentity(paths.home))
      ? await loadIdentity(paths.home)
      : await createIdentity(paths.home, { name: settings.name })
    const config = { ...settings, name: settings.name ?? identity.name }
    const adminToken = await ensureAdminToken(paths)
    const index = await DocIndex.open(join(paths.home, "documents.idx"), () => storedDocumentIds(paths.data))
    const policies = await PolicyStore.open(join(paths.home, "policies.json"))
    const signatures = await SignatureStore.open(join(paths.home, "signatures.jsonl"))
    const hub = new Hub({ identity, config, paths, adminToken, log, index, policies, signatures })
    hub.federation = await FederationManager.open({
      identity,
      repo: hub.repo,
      registryPath: join(paths.home, "registry.json"),
      settings: {
        federationMode: config.federationMode,
        peerExchangeMinTrust: config.discovery.peerExchangeMinTrust,
        bootstrap: config.peers,
        dnsDomains: config.discovery.dnsDomains,
        dnsServers: config.discovery.dnsServers,
        mdns: config.discovery.mdns,
        mdnsOptions: mdnsOptionsOf(config),
        endorsementTtlMs: config.endorsementTtlDays * 86_400_000,
        maxUntouchedPeers: config.limits.untouchedPeers,
        peerFetch: peerFetchOf(config),
      },
      links: {
        dial: (url, nodeId) => void hub.dial(url, nodeId),
        hangUp: nodeId => hub.hangUpNode(nodeId),
        dropInbound: nodeId => hub.server.dropPeer(nodeId as string as PeerId, "blocked"),
        linkOf: nodeId => hub.linkOf(nodeId),
      },
      log,
      owner: { policies: hub.policies, authorship: hub.authorship },
    })
    // reload every document this hub holds, so it is offered to peers again
    await Promise.allSettled(index.ids().map(id => hub.repo.find(id as never, { signal: AbortSignal.timeout(5_000) })))
    return hub
  }

  get nodeId(): NodeId {
    return this.identity.nodeId
  }

  /** The URL other hubs and clients should dial (set once listening). */
  get url(): string {
    if (!this.#publicUrl) throw new FedhubError("INTERNAL", "the hub is not listening yet")
    return this.#publicUrl
  }

  /** Mounts /sync on a listening HTTP server and records the hub's public URL. */
  async attach(server: Server, url: string): Promise<void> {
    this.#publicUrl = this.config.publicUrl ?? url
    this.federation.publishSelf(this.descriptor())
    if (this.config.discovery.mdns) {
      this.#announcer = new MdnsAnnouncer({ nodeId: this.nodeId, url: this.url, mdnsOptions: mdnsOptionsOf(this.config) })
      this.#announcer.on("warning", w => this.log.warn({ warning: String(w) }, "mDNS"))
      await this.#announcer.start().catch(e => this.log.warn({ err: (e as Error).message }, "mDNS announcer could not start"))
    }
    this.#endpoint = attachSyncEndpoint(server, {
      adapter: this.server,
      handshake: this.handshake,
      adminToken: this.adminToken,
      maxFrameBytes: this.config.limits.frameBytes,
      admitNode: nodeId => this.federation.admitNode(nodeId),
      onRefused: (err, req) =>
        this.log.warn({ code: err.code, detail: err.detail, from: req.socket.remoteAddress }, "refused a sync upgrade"),
    })
  }

  /** This hub's signed descriptor (the FederationNode of DESIGN.md). */
  descriptor(): SignedEnvelope<FederationNode> {
    if (!this.#descriptor) {
      const endpoint = syncEndpoint(this.url)
      this.#descriptor = signDescriptor(
        this.identity,
        buildDescriptor(this.identity, this.config, {
          endpoints: [endpoint],
          startedAt: this.startedAt,
          directory: this.federation.directory.url,
          // above the last one published, even if the clock stepped back across a restart
          sequence: nextSequence(this.federation.registry.get(this.nodeId)?.lastSequence ?? ownSequence(this.federation.directory.doc(), this.nodeId)),
        }),
      )
    }
    return this.#descriptor
  }

  /**
   * Dials another hub and keeps the link up (redialing with backoff) until `hangUp`.
   * One link per node: dialing a node at a new URL replaces its link at the old one.
   */
  dial(url: string, expectNodeId?: NodeId): HubClientAdapter {
    const endpoint = syncEndpoint(url)
    const existing = this.#links.get(endpoint)
    if (existing) return existing
    if (expectNodeId) {
      this.federation.admitNode(expectNodeId)
      for (const [other, link] of this.#links) if (linksTo(link, expectNodeId)) this.hangUp(other)
    }
    const link = new HubClientAdapter({
      url: endpoint,
      auth: { kind: "node", identity: this.identity, expectNodeId },
      maxFrameBytes: this.config.limits.frameBytes,
      gate: this.gate,
      before: m => this.#before(m),
      rewrite: m => this.#outgoing(m),
      peerFetch: peerFetchOf(this.config),
      offer: this.offer,
      checkAgreement: (agreement, _serverId, link) => void verifyAgreement(this.offer, agreement, link),
      heartbeat: { intervalMs: this.config.heartbeatMs },
      metadata: {
        fedhubDirectory: this.federation.directory.url,
        ...(this.#publicUrl ? { fedhubDescriptor: this.descriptor() } : {}),
      },
    })
    const refusedOnce = new Set<string>()
    link.events.on("refused", err => {
      // what a dialed hub sent over a limit: counted in the link's errors, logged once per reason
      if (refusedOnce.has(err.code)) return
      refusedOnce.add(err.code)
      this.log.warn({ peer: endpoint, code: err.code, detail: err.detail }, "refused a message from a dialed hub (logged once per reason)")
    })
    link.events.on("state", (state, err) => {
      if (state !== "established" && link.remotePeerId) this.#forgetSent(link.remotePeerId)
      this.log.info({ peer: endpoint, state, error: err?.detail, remote: link.remotePeerId }, "link state")
      const remoteId = (link.remotePeerId ?? link.expectNodeId) as NodeId | undefined
      if (state === "offline" && remoteId) this.federation.noteFailure(remoteId, link.health().uptimePct)
      if (state === "established" && link.remotePeerId) {
        const remote = link.remotePeerId as string as NodeId
        try {
          this.federation.admitNode(remote)
        } catch (e) {
          this.log.warn({ peer: endpoint, remote, err: (e as Error).message }, "dialed a node our policy refuses; hanging up")
          this.hangUp(endpoint)
          return
        }
        void this.federation
          .noteProven(remote, httpBase(endpoint))
          .catch(e => this.log.warn({ peer: remote, err: (e as Error).message }, "recording a proven peer failed"))
        void this.federation
          .learnFromUrl(remote, endpoint)
          .catch(e => this.log.warn({ peer: endpoint, err: (e as Error).message }, "could not read a dialed hub's descriptor"))
      }
    })
    this.#links.set(endpoint, link)
    this.repo.networkSubsystem.addNetworkAdapter(link)
    return link
  }

  /** Closes an outgoing link for good. */
  hangUp(url: string): boolean {
    const endpoint = syncEndpoint(url)
    const link = this.#links.get(endpoint)
    if (!link) return false
    this.#links.delete(endpoint)
    this.repo.networkSubsystem.removeNetworkAdapter(link) // disconnects it
    return true
  }

  /** Hangs up every outgoing link to a node. */
  hangUpNode(nodeId: NodeId): void {
    for (const [url, link] of this.#links) if (linksTo(link, nodeId)) this.hangUp(url)
  }

  /** A node now gives another URL: an outgoing link to its old one is redialed there. */
  #followMove(nodeId: NodeId, url: string): void {
    const endpoint = syncEndpoint(url)
    const stale = [...this.#links].some(([at, link]) => at !== endpoint && linksTo(link, nodeId))
    if (!stale) return
    this.log.info({ peer: nodeId, url }, "a linked hub moved; redialing it at its new URL")
    try {
      this.dial(url, nodeId)
    } catch (e) {
      this.log.warn({ peer: nodeId, err: (e as Error).message }, "could not redial a hub that moved")
    }
  }

  /**
   * Our link with a node, one truthful state: the outgoing link when it is up, else the
   * inbound connection when there is one, else the outgoing link's state (offline, ...).
   */
  linkOf(nodeId: NodeId): LinkSummary | undefined {
    const link = [...this.#links.values()].find(l => linksTo(l, nodeId))
    const outbound = link && outboundSummary(link)
    if (outbound && (outbound.state === "established" || outbound.state === "degraded")) return outbound
    const inbound = this.server.connections().find(c => c.peerId === (nodeId as string))
    if (inbound) return { direction: "inbound", state: "established", latencyMs: inbound.latencyMs ?? undefined }
    return outbound
  }

  /**
   * Drops the handles of documents no peer had and this hub does not hold (left by
   * requests a relay forwarded); runs every minute. Returns how many were dropped.
   */
  dropUnavailable(): number {
    const ids = Object.entries(this.repo.handles)
      .filter(([id, handle]) => !this.index.has(id) && handle.state === "unavailable")
      .map(([id]) => id as DocumentId)
    // removeFromCache keeps a handle whose document never arrived; delete drops it (nothing is stored)
    for (const id of ids) {
      try {
        this.repo.delete(id)
      } catch (e) {
        this.log.warn({ err: e, documentId: id }, "could not drop an unavailable document")
      }
    }
    return ids.length
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

  /** Peers connected to us (hubs and local clients). */
  inbound(): { peerId: PeerId; kind: string; since: number }[] {
    return this.server.connections().map(c => ({ peerId: c.peerId!, kind: c.principal.kind, since: c.openedAt }))
  }

  /** Stops links and the endpoint, then flushes every pending write to storage. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const url of [...this.#links.keys()]) {
      try {
        this.hangUp(url)
      } catch (e) {
        this.log.error({ err: e }, "closing a link failed")
      }
    }
    try {
      this.#endpoint?.close()
    } catch (e) {
      this.log.error({ err: e }, "closing the sync endpoint failed")
    }
    await this.#announcer?.stop().catch(e => this.log.warn({ err: (e as Error).message }, "stopping the mDNS announcer failed"))
    await this.federation.close().catch(e => this.log.error({ err: e }, "closing federation failed"))
    clearInterval(this.#sweep)
    await closeRepo(this.repo).catch(e => this.log.error({ err: e }, "flushing and closing storage failed"))
    await this.signatures.flush()
  }

  /** What our link with a node agreed, and that node's own policies as it declared them. */
  #agreementWith(nodeId: NodeId): { capabilities: readonly string[]; peer: LinkPolicies } | undefined {
    const link = [...this.#links.values()].find(l => linksTo(l, nodeId) && l.agreement)
    if (link?.agreement) return { capabilities: link.agreement.capabilities, peer: link.agreement.policies.server }
    const inbound = this.handshake.agreementFor(nodeId)
    return inbound ? { capabilities: inbound.capabilities, peer: inbound.policies.client } : undefined
  }

  /** What a peer gets before a message: the document's policy records, then the signatures of the changes it carries. */
  #before(m: Message): WireMessage[] {
    const self = this.identity.nodeId as string as PeerId
    const policy = this.#policyFrames.framesFor(self, m)
    const signatures = this.#signatureFrames.framesFor(self, m)
    return policy.length === 0 ? signatures : [...policy, ...signatures]
  }

  /** A peer went away: it gets every record again on its next connection. */
  #forgetSent(peerId: string): void {
    this.#policyFrames.forget(peerId)
    this.#signatureFrames.forget(peerId)
  }

  /**
   * What goes to another hub: ephemeral messages only to a document's readers, signed by
   * this hub when it is their origin (or the hub of the local client that sent them);
   * one from another node travels with its origin's signature, and is never sent unsigned.
   */
  #outgoing(m: Message): Message | undefined {
    if (m.type !== "ephemeral") return m
    const e = m as SignedEphemeralMessage
    if (this.policies.has(e.documentId) && !mayRead(this.policies.effective(e.documentId), e.targetId)) return undefined
    if (e.fedhubSig !== undefined) return m
    if (e.senderId !== (this.nodeId as string) && isNodeId(e.senderId)) return undefined
    return { ...e, fedhubSig: signEphemeral(this.identity, e) } as Message
  }

  /** Relaying (access/share.ts `mayRouteThrough`): what this hub knows, for the pure decision. */
  #mayRelayTo(peerId: string, documentId?: string): boolean {
    const held = !documentId || this.index.has(documentId) || this.repo.handles[documentId as DocumentId]?.isReady() === true
    const peerAcceptsRelay = this.#agreementWith(peerId as NodeId)?.peer.acceptsRelay === true
    return mayRouteThrough({ relay: this.config.type === "relay", held, peerAcceptsRelay })
  }

  /**
   * Rule 5: a node gets a document only if the document's ACL admits it (no ACL:
   * every federated hub) and it is not blocked. Local clients hold the admin token.
   */
  async #mayShare(peerId: string, documentId?: string): Promise<boolean> {
    if (!isNodeId(peerId)) return true
    if (this.federation?.registry.get(peerId)?.blocked) return false
    if (!documentId) return true
    // a document with policy records is judged by its policy alone, without loading it
    if (this.policies.has(documentId))
      return mayShareWith({ nodeId: peerId, policyKnown: true, policy: this.policies.effective(documentId) })
    // a document this hub holds is judged by its ACL even when not in memory; one it does
    // not hold is not ours to withhold: a peer offering it to us may sync it
    let handle: DocHandle<unknown> | undefined = this.repo.handles[documentId as DocumentId]
    if (!handle?.isReady()) {
      // the index covers storage (write-ahead), so a document not in it is not ours to withhold
      if (!this.index.has(documentId)) return true
      handle = await this.repo.find(documentId as DocumentId, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
      if (!handle?.isReady()) return false // held but unreadable: withheld rather than guessed
    }
    return mayShareWith({ nodeId: peerId, policyKnown: false, policy: undefined, legacyAcl: aclOf(handle.doc()) })
  }
}

/** The sequence of this hub's own descriptor in its directory document, if it published one. */
const ownSequence = (doc: unknown, nodeId: NodeId): number | undefined => {
  const entry = (doc as { entries?: Record<string, unknown> } | undefined)?.entries?.[nodeId]
  try {
    const text = entry instanceof A.ImmutableString ? entry.val : typeof entry === "string" ? entry : undefined
    const seq = text ? (JSON.parse(text) as { payload?: { sequence?: unknown } }).payload?.sequence : undefined
    return typeof seq === "number" ? seq : undefined
  } catch {
    return undefined
  }
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

/** Limits of every request to a peer-supplied URL: time, size, where it may point. */
const peerFetchOf = (c: ResolvedConfig): PeerFetchOptions => ({
  timeoutMs: c.limits.peerTimeoutMs,
  maxBytes: c.limits.peerResponseBytes,
  allow: c.limits.dialScopes,
})

/** multicast-dns options from the config (interface and port), or the library's defaults. */
const mdnsOptionsOf = (c: ResolvedConfig): Record<string, unknown> | undefined => {
  const { mdnsInterface, mdnsPort } = c.discovery
  if (mdnsInterface === "127.0.0.1") return { ...loopbackMdnsOptions(mdnsPort ?? 5353) }
  if (mdnsInterface === undefined && mdnsPort === undefined) return undefined
  return { ...(mdnsInterface ? { interface: mdnsInterface } : {}), ...(mdnsPort ? { port: mdnsPort } : {}) }
}


