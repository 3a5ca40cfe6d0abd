/**
 * The composition root for one node: `open` builds identity, storage, the share and
 * inbound gates, the authenticated sync endpoint, the links with other hubs and the
 * federation core in order, and the Hub wires their events together. Everything else
 * is a thin delegation to the part that owns it.
 */
import type { Server } from "node:http"
import * as A from "@automerge/automerge"
import { join } from "node:path"
import type { DocumentId, Message, PeerId } from "@automerge/automerge-repo"
import type { Logger } from "pino"
import { createIdentity, hasIdentity, isNodeId, loadIdentity, type Identity, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import { closeRepo, createRepo } from "../replication/createRepo.ts"
import { openCluster, openStorage, type Cluster, type StorageSpec } from "../replication/storage/index.ts"
import type { ClusterSync } from "../replication/storage/ClusterSync.ts"
import { IdleUnloader } from "../replication/storage/IdleUnloader.ts"
import { Reoffer } from "../replication/storage/Reoffer.ts"
import { DocIndex } from "../replication/DocIndex.ts"
import { InboundGate } from "../replication/InboundGate.ts"
import { PolicyStore } from "../replication/PolicyStore.ts"
import { PolicyAnnouncer } from "../replication/PolicyAnnouncer.ts"
import { SignatureStore } from "../replication/SignatureStore.ts"
import { SignatureAnnouncer } from "../replication/SignatureAnnouncer.ts"
import { Authorship } from "../replication/Authorship.ts"
import type { WireMessage } from "../replication/wire.ts"
import type { PeerFetchOptions } from "../replication/boundedFetch.ts"
import { DocStore } from "../replication/DocStore.ts"
import { HandshakeServer, syncEndpoint } from "../replication/handshake.ts"
import type { HubClientAdapter } from "../replication/HubClientAdapter.ts"
import { LinkManager, type LinkInfo, type LinkSummary } from "../replication/LinkManager.ts"
import { ShareGate } from "../replication/ShareGate.ts"
import { CLOSE, SyncServerAdapter } from "../replication/SyncServerAdapter.ts"
import { attachSyncEndpoint } from "../replication/syncEndpoint.ts"
import { trustedCas } from "../replication/tlsLink.ts"
import { readFile } from "node:fs/promises"
import { buildDescriptor, nextSequence, signDescriptor } from "../federation/descriptor.ts"
import type { FederationNode } from "../schema/index.ts"
import { ensureAdminToken, type HomePaths } from "./home.ts"
import type { ResolvedConfig } from "./config.ts"
import type { Repo } from "@automerge/automerge-repo"
import { FedhubError } from "../errors.ts"
import { FederationManager } from "../federation/FederationManager.ts"
import { PostgresRegistryStore } from "../federation/PostgresRegistryStore.ts"
import { nextSharedSequence } from "../replication/storage/sharedMeta.ts"
import type { KeyRotation } from "../federation/rotation.ts"
import { followPeerRotation } from "./followRotation.ts"
import { httpBase } from "../federation/verifyCandidate.ts"
import { loopbackMdnsOptions, MdnsAnnouncer } from "../federation/discovery/mdns.ts"
import { LEGACY_OFFER, negotiate, offerFromNode, verifyAgreement, type Offer } from "../federation/negotiation.ts"
import { MarketplaceService } from "../marketplace/MarketplaceService.ts"
import { SessionService } from "../collaboration/SessionService.ts"
import { windowLimitsOf } from "../collaboration/window.ts"

export type { LinkInfo }

/** Every part of a hub, built in order by `Hub.open`. */
interface HubParts {
  identity: Identity
  config: ResolvedConfig & { name: string }
  paths: HomePaths
  adminToken: string
  log: Logger
  startedAt: number
  offer: Offer
  index: DocIndex
  policies: PolicyStore
  signatures: SignatureStore
  authorship: Authorship
  policyFrames: PolicyAnnouncer
  signatureFrames: SignatureAnnouncer
  gate: InboundGate
  handshake: HandshakeServer
  server: SyncServerAdapter
  repo: Repo
  links: LinkManager
  federation: FederationManager
  docs: DocStore
  market: MarketplaceService
  unloader?: IdleUnloader
  sessions: SessionService
  cluster?: Cluster
  /** On PostgreSQL: the identity's next descriptor sequence, above every one its processes took. */
  sequenceOf?: (candidate: number) => Promise<number>
}

export class Hub {
  readonly identity: Identity
  /** The resolved configuration, its name settled (config, else the identity's). */
  readonly config: ResolvedConfig & { name: string }
  readonly paths: HomePaths
  readonly repo: Repo
  readonly docs: DocStore
  /** Marketplaces: create, list, show, join by signed votes (issue 13). */
  readonly market: MarketplaceService
  /** Cross-instance sessions: invitations, channels, shared documents, decisions, agreements (issue 14). */
  readonly sessions: SessionService
  readonly server: SyncServerAdapter
  readonly handshake: HandshakeServer
  readonly adminToken: string
  readonly log: Logger
  readonly startedAt: number
  /** Registry, directory, discovery, trust. */
  readonly federation: FederationManager
  #descriptor?: SignedEnvelope<FederationNode>
  #sequence?: number
  readonly #sequenceOf?: (candidate: number) => Promise<number>
  /** What this hub offers and requires when it links with another (negotiation). */
  readonly offer: Offer
  /** The documents this hub holds, known without loading them. */
  readonly index: DocIndex
  /** Every document's policy records, known without loading the document. */
  readonly policies: PolicyStore
  readonly #policyFrames: PolicyAnnouncer
  /** Documents found unavailable by the last sweep (dropped at the next one if still so). */
  #unavailableBefore = new Set<DocumentId>()
  /** Actor bindings and signed heads: who wrote each change of a governed document. */
  readonly signatures: SignatureStore
  /** This hub as the author of its own changes. */
  readonly authorship: Authorship
  readonly #signatureFrames: SignatureAnnouncer
  /** The check every message from a hub passes before the Repo (README "Limits"). */
  readonly gate: InboundGate
  /** Outgoing links (and the inbound ones, as seen by the server). */
  readonly #links: LinkManager
  #endpoint?: { close: () => void }
  readonly #sweep: NodeJS.Timeout
  #publicUrl?: string
  #closed = false
  #announcer?: MdnsAnnouncer
  /** With `storage.idleUnloadMs`: unloads idle documents; `reoffer` offers held ones to a hub that connects. */
  readonly unloader?: IdleUnloader
  #reoffer?: Reoffer
  /** On PostgreSQL: what this process shares with the other processes of its identity (README "Several processes"). */
  readonly cluster?: Cluster
  /** On PostgreSQL: applies the chunks other processes store, so this process's peers get them. */
  readonly clusterSync?: ClusterSync

  private constructor(p: HubParts) {
    this.identity = p.identity
    this.config = p.config
    this.paths = p.paths
    this.adminToken = p.adminToken
    this.log = p.log
    this.startedAt = p.startedAt
    this.offer = p.offer
    this.index = p.index
    this.policies = p.policies
    this.signatures = p.signatures
    this.authorship = p.authorship
    this.#policyFrames = p.policyFrames
    this.#signatureFrames = p.signatureFrames
    this.gate = p.gate
    this.handshake = p.handshake
    this.server = p.server
    this.repo = p.repo
    this.#links = p.links
    this.federation = p.federation
    this.docs = p.docs
    this.market = p.market
    this.unloader = p.unloader
    this.cluster = p.cluster
    this.#sequenceOf = p.sequenceOf
    this.clusterSync = p.cluster?.follow({
      repo: this.repo,
      held: id => this.index.record(id),
      loadMissing: !p.unloader,
      onError: (documentId, err) => this.log.warn({ documentId, err: (err as Error).message }, "could not apply another process's change"),
    })
    this.#wireUnloading()
    this.sessions = p.sessions
    this.#links.setMetadata({ fedhubDirectory: this.federation.directory.url })
    this.#wireServer()
    this.#wireLinks()
    // handles a relay made for documents no peer had are dropped, so strangers' requests do not pile up
    this.#sweep = setInterval(() => this.dropUnavailable(), 60_000)
    this.#sweep.unref()
  }

  /** Opens the hub of a home, creating its identity and admin token on first use. */
  static async open(paths: HomePaths, settings: ResolvedConfig, log: Logger): Promise<Hub> {
    const identity = (await hasIdentity(paths.home))
      ? await loadIdentity(paths.home)
      : await createIdentity(paths.home, { name: settings.name })
    const config = { ...settings, name: settings.name ?? identity.name }
    const c = config
    const adminToken = await ensureAdminToken(paths)
    const storage = await openStorage(storageSpecOf(c), {
      dataDir: paths.data,
      owner: identity.nodeId,
      onError: err => log.error({ err: err.message }, "storage connection failed (it reconnects on next use)"),
    })
    const index = await DocIndex.open(join(paths.home, "documents.idx"), () => storage.documentIds())
    // several processes of one identity on one database share policies, signatures and nonces there
    const cluster = storage.postgres
      ? await openCluster(storage.postgres.adapter, storage.postgres.url, err => log.error({ err: err.message }, "the cluster's listening connection failed (reconnecting)"))
      : undefined
    const policies = await PolicyStore.open(join(paths.home, "policies.json"), { log: cluster?.policyLog })
    const signatures = await SignatureStore.open(join(paths.home, "signatures.jsonl"), { log: cluster?.signatureLog })
    const startedAt = Date.now()
    const authorship = new Authorship(identity, signatures)
    const offer = offerFromNode(buildDescriptor(identity, c, { endpoints: [], startedAt }), {
      maxPeerRetentionDays: c.maxPeerRetentionDays,
      requiredCapabilities: c.requiredCapabilities,
    })
    const handshake = new HandshakeServer(identity, {
      maxUsedNonces: c.limits.usedNonces,
      shared: cluster?.handshake,
      negotiate: (clientId, remote, link) => {
        try {
          return negotiate(offer, remote ?? LEGACY_OFFER, { encrypted: link.encrypted })
        } catch (e) {
          log.warn({ peer: clientId, err: (e as Error).message }, "negotiation refused a peer")
          throw e
        }
      },
    })
    const gate = new InboundGate({
      limits: c.limits,
      holds: id => index.has(id),
      relays: c.type === "relay",
      policies,
      signatures,
      withholds: (from, id) => share.withholds(from, id),
    })
    // The Repo takes its share hooks when it is built, before the links and the federation
    // core that open on it; the hooks reach those two here, and run only once a peer connects.
    let links: LinkManager | undefined
    let federation: FederationManager | undefined
    const share = new ShareGate({
      identity,
      policies,
      index,
      relay: c.type === "relay",
      blocked: id => federation?.registry.get(id)?.blocked === true,
      acceptsRelay: id => links?.agreementWith(id)?.peer.acceptsRelay === true,
    })
    const repo = createRepo({ peerId: identity.nodeId, storage, onStoring: id => index.record(id), shareConfig: share.shareConfig })
    share.attach(repo)
    gate.attach(repo)
    const policyFrames = new PolicyAnnouncer(policies)
    const signatureFrames = new SignatureAnnouncer({
      authorship,
      store: signatures,
      governed: id => policies.has(id),
      docOf: id => {
        const handle = repo.handles[id as DocumentId]
        return handle?.isReady() ? (handle.doc() as A.Doc<unknown>) : undefined
      },
    })
    const before = (m: Message) => framesBefore(identity, policyFrames, signatureFrames, m)
    // a policy that changes reaches the peers holding the document now, not with its next change
    policies.events.on("changed", documentId => {
      for (const frame of policyFrames.pushFor(identity.nodeId as string as PeerId, documentId)) repo.networkSubsystem.send(frame as unknown as Parameters<typeof repo.networkSubsystem.send>[0])
    })
    const rewrite = (m: Message) => share.outgoing(m)
    const server = new SyncServerAdapter({ gate, agreementOf: id => handshake.agreementFor(id as NodeId), before, rewrite })
    repo.networkSubsystem.addNetworkAdapter(server)
    // several processes of one identity: a peer's newest socket wins across them, one process dials a peer
    const singleLink = cluster?.singleLink({
      inboundSince: id => server.connections().find(x => x.peerId === id && x.principal.kind === "node")?.joinedAt,
      replaceInbound: id => server.dropPeer(id as PeerId, "replaced by a newer connection to another process of this identity", CLOSE.REPLACED),
      onError: err => log.warn({ err: err.message }, "announcing a link to the other processes failed"),
    })
    if (singleLink) server.events.on("joined", x => x.principal.kind === "node" && singleLink.joined(x.principal.nodeId, x.joinedAt ?? Date.now()))
    const linkManager = new LinkManager({
      identity,
      repo,
      server,
      handshake,
      admit: id => federation?.admitNode(id),
      successorOf: id => federation?.successorOf(id) ?? id,
      ...(singleLink ? { claims: singleLink } : {}),
      link: {
        maxFrameBytes: c.limits.frameBytes,
        gate,
        before,
        rewrite,
        peerFetch: peerFetchOf(c),
        offer,
        checkAgreement: (agreement, _serverId, link) => void verifyAgreement(offer, agreement, link),
        heartbeat: { intervalMs: c.heartbeatMs },
        ca: await extraCas(c),
      },
    })
    links = linkManager
    const fed = await FederationManager.open({
      identity,
      repo,
      registryPath: join(paths.home, "registry.json"),
      // several processes of one identity keep one registry in the database (README "Several processes of one identity")
      registryStore:
        cluster && storage.postgres
          ? new PostgresRegistryStore(storage.postgres.adapter.pool, storage.postgres.adapter.schema, cluster.bus, {
              onCorrupt: (nodeId, reason) => log.warn({ peer: nodeId, reason }, "skipped a registry row that is not a registry node"),
              onError: err => log.warn({ err: err.message }, "could not read another process's registry rows"),
              legacyFile: join(paths.home, "registry.json"),
            })
          : undefined,
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
      links: linkManager,
      log,
      owner: { policies, authorship },
    })
    federation = fed
    const docs = new DocStore(repo, {
      author: identity.nodeId,
      maxDepth: c.limits.changeDepth,
      identity,
      policies,
      authorship,
      nameOf: id => nameWithRotation(id as NodeId, identity.nodeId, config.name, fed),
    })
    const market = new MarketplaceService({ repo, identity, policies, authorship, log, refusedChanges: id => gate.refusedChanges(id) })
    const hub = new Hub({
      identity,
      config,
      paths,
      adminToken,
      log,
      startedAt,
      offer,
      index,
      policies,
      signatures,
      authorship,
      policyFrames,
      signatureFrames,
      gate,
      handshake,
      server,
      repo,
      links: linkManager,
      federation: fed,
      docs,
      market,
      sessions: new SessionService({
        repo,
        identity,
        policies,
        authorship,
        log,
        minTrust: config.collaboration?.minParticipantTrust ?? "basic",
        liveRepair: { window: windowLimitsOf(config.collaboration?.liveWindow) },
        trustOf: id => fed.trust().levels.get(id)?.level,
        reputationOf: id => fed.reputation().get(id) ?? 0,
      }),
      unloader:
        c.storage.idleUnloadMs > 0
          ? new IdleUnloader(repo, {
              idleMs: c.storage.idleUnloadMs,
              // the marketplace service follows its documents' handles: they stay loaded
              pinned: id => id === fed.directory.documentId || market.follows(id),
              onError: (documentId, err) => log.warn({ documentId, err: (err as Error).message }, "could not unload an idle document"),
            })
          : undefined,
      cluster,
      sequenceOf: storage.postgres
        ? candidate => nextSharedSequence(storage.postgres!.adapter.pool, storage.postgres!.adapter.schema, candidate)
        : undefined,
    })
    // every document this hub holds is loaded, so it is offered to peers again; with idle
    // unloading none is: each is offered (a batch at a time) to a hub when it connects
    if (!hub.unloader) await Promise.allSettled(index.ids().map(id => repo.find(id as never, { signal: AbortSignal.timeout(5_000) })))
    hub.market.resume()
    hub.sessions.start()
    return hub
  }

  /** Idle unloading: the sweep runs, and every hub that connects (either way) is offered what is held but not loaded. */
  #wireUnloading(): void {
    if (!this.unloader) return
    this.unloader.start()
    const share = this.repo.shareConfig
    const directory = this.federation.directory.documentId
    const reoffer = new Reoffer(this.repo, {
      held: () => this.index.ids(),
      announce: async (peerId, id) => (await share.announce?.(peerId, id as DocumentId)) === true,
      pinned: id => id === directory,
      // a silent peer holds a batch this long at most (generous: a loaded machine syncs 32 documents slowly)
      timeoutMs: Math.max(this.config.limits.peerTimeoutMs * 6, 30_000),
    })
    this.#reoffer = reoffer
    this.repo.networkSubsystem.on("peer", ({ peerId }) => {
      if (!isNodeId(peerId)) return
      void reoffer.offer(peerId).catch(e => this.log.warn({ peer: peerId, err: (e as Error).message }, "offering held documents failed"))
    })
  }

  /** Inbound connections: a joined hub is proven, its descriptor and directory learned; a leaving one is forgotten. */
  #wireServer(): void {
    this.server.events.on("left", conn => conn.peerId && this.#forgetSent(conn.peerId))
    this.server.events.on("refusal", r => {
      if (r.first) this.log.warn({ code: r.code, detail: r.detail, peer: r.principal }, "refused a peer (logged once per peer and reason; counted after)")
    })
    this.server.events.on("joined", c => {
      this.log.info({ peer: c.peerId, principal: c.principal.kind }, "peer joined")
      if (c.principal.kind !== "node") return
      const nodeId = c.principal.nodeId
      void this.federation.noteProven(nodeId).catch(e => this.log.warn({ peer: nodeId, err: (e as Error).message }, "recording a proven peer failed"))
      const meta = c.peerMetadata as { fedhubDirectory?: unknown; fedhubDescriptor?: unknown; fedhubRotations?: unknown } | undefined
      if (meta?.fedhubRotations !== undefined) this.#learnRotations(meta.fedhubRotations, nodeId)
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
      if (typeof directory === "string" && this.#links.agreementWith(nodeId)?.capabilities.includes("directory"))
        void this.federation
          .learnFromDirectory(nodeId, directory)
          .catch(e => this.log.warn({ peer: nodeId, err: (e as Error).message }, "could not read a peer's descriptor"))
    })
  }

  /** Outgoing links: logged, a proven node recorded and its descriptor read, a lost one noted as a failure. */
  #wireLinks(): void {
    const links = this.#links.events
    links.on("refused", ({ endpoint, error, first }) => {
      // what a dialed hub sent over a limit: counted in the link's errors, logged once per reason
      if (first) this.log.warn({ peer: endpoint, code: error.code, detail: error.detail }, "refused a message from a dialed hub (logged once per reason)")
    })
    links.on("state", ({ endpoint, state, error, remotePeerId }) => {
      if (state !== "established" && remotePeerId) this.#forgetSent(remotePeerId)
      // a link pinned to a node that answers with another key: that node may have rotated
      if (state === "offline" && (error?.code === "CERT_MISMATCH" || error?.code === "KEY_MISMATCH")) this.#followRotation(endpoint)
      this.log.info({ peer: endpoint, state, error: error?.detail, remote: remotePeerId }, "link state")
    })
    links.on("offline", ({ nodeId, uptimePct }) => this.federation.noteFailure(nodeId, uptimePct))
    links.on("rejected", ({ nodeId, endpoint, error }) =>
      this.log.warn({ peer: endpoint, remote: nodeId, err: (error as Error).message }, "dialed a node our policy refuses; hanging up"),
    )
    links.on("established", ({ nodeId, endpoint }) => {
      // a node seen for the first time may be the new key of one we know: ask it for its rotations
      if (this.federation.registry.get(nodeId)?.provenAt === undefined) this.#followRotation(endpoint, nodeId)
      void this.federation
        .noteProven(nodeId, httpBase(endpoint))
        .catch(e => this.log.warn({ peer: nodeId, err: (e as Error).message }, "recording a proven peer failed"))
      void this.federation
        .learnFromUrl(nodeId, endpoint)
        .catch(e => this.log.warn({ peer: endpoint, err: (e as Error).message }, "could not read a dialed hub's descriptor"))
    })
  }

  /** Learns rotation records a peer sent, then redials our links pinned to the old ids under the new ones. */
  #learnRotations(records: unknown, from: NodeId): void {
    void this.federation
      .learnRotations(records, from)
      .then(learned => this.#repin(learned))
      .catch(e => this.log.warn({ err: (e as Error).message }, "could not learn a peer's key rotations"))
  }

  /** Redials our links pinned to the old ids of rotations just learned, under the new ids. */
  #repin(learned: SignedEnvelope<KeyRotation>[]): void {
    for (const r of learned) {
      this.log.info({ oldId: r.payload.oldId, newId: r.payload.newId }, "learned a peer's key rotation")
      const newId = r.payload.newId as NodeId
      try {
        this.federation.admitNode(newId)
      } catch (e) {
        // a blocked node's new key is blocked too: the connection that brought the record goes
        this.log.warn({ peer: newId, err: (e as Error).message }, "a rotated peer's new key is refused; dropping its links")
        this.#links.hangUp(newId)
        this.#links.dropInbound(newId)
        continue
      }
      void followPeerRotation(this, r.payload.oldId as NodeId, newId)
        .then(ids => ids.length > 0 && this.log.info({ peer: newId, documents: ids.length }, "granted a rotated peer's new key what its old key had"))
        .catch(e => this.log.warn({ peer: newId, err: (e as Error).message }, "could not grant a rotated peer's new key"))
      try {
        this.#links.repin(r.payload.oldId as NodeId)
      } catch (e) {
        this.log.warn({ peer: r.payload.newId, err: (e as Error).message }, "not redialing a rotated peer")
      }
    }
  }

  readonly #following = new Set<string>()

  /**
   * Asks the hub at an outgoing link's URL for its rotations (once at a time per URL): learned
   * ones redial the links pinned to the old id. `reached` is the id a link proved (an unpinned link).
   */
  #followRotation(endpoint: string, reached?: NodeId): void {
    if (!(reached ?? this.#links.expectedAt(endpoint)) || this.#following.has(endpoint)) return
    this.#following.add(endpoint)
    void this.federation
      .followRotationAt(endpoint)
      .then(learned => this.#repin(learned))
      .catch(e => this.log.debug({ peer: endpoint, err: (e as Error).message }, "could not ask a hub for its key rotations"))
      .finally(() => this.#following.delete(endpoint))
  }

  /** Offers held documents to hubs that connect (set with idle unloading). */
  get reoffer(): Reoffer | undefined {
    return this.#reoffer
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
    // the processes of one identity take their sequences from one counter: never two descriptors with one sequence
    if (this.#sequenceOf && !this.#descriptor) this.#sequence = await this.#sequenceOf(this.#localSequence())
    this.federation.publishSelf(this.descriptor())
    // hubs dialed from now on learn our descriptor (so our URL) as they accept us
    const rotations = this.federation.rotationsTo()
    this.#links.setMetadata({
      fedhubDirectory: this.federation.directory.url,
      fedhubDescriptor: this.descriptor(),
      // how a peer that knew an older key of ours follows it (the records prove themselves)
      ...(rotations.length > 0 ? { fedhubRotations: rotations } : {}),
    })
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
      requireEncryption: this.config.requireEncryption,
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
          sequence: this.#sequence ?? this.#localSequence(),
        }),
      )
    }
    return this.#descriptor
  }

  /** The next sequence as this process knows it: above its registry's and its directory's. */
  #localSequence(): number {
    return nextSequence(this.federation.registry.get(this.nodeId)?.lastSequence ?? ownSequence(this.federation.directory.doc(), this.nodeId))
  }

  /**
   * Dials another hub and keeps the link up (redialing with backoff) until `hangUp`.
   * One link per node: dialing a node at a new URL replaces its link at the old one.
   */
  dial(url: string, expectNodeId?: NodeId): HubClientAdapter {
    return this.#links.dial(url, expectNodeId)
  }

  /** Closes an outgoing link for good. */
  hangUp(url: string): boolean {
    return this.#links.hangUpAt(url)
  }

  /** Hangs up every outgoing link to a node. */
  hangUpNode(nodeId: NodeId): void {
    this.#links.hangUp(nodeId)
  }

  /** A node now gives another URL: an outgoing link to its old one is redialed there. */
  #followMove(nodeId: NodeId, url: string): void {
    try {
      if (this.#links.follow(nodeId, url)) this.log.info({ peer: nodeId, url }, "a linked hub moved; redialing it at its new URL")
    } catch (e) {
      this.log.warn({ peer: nodeId, err: (e as Error).message }, "could not redial a hub that moved")
    }
  }

  /**
   * Our link with a node, one truthful state: the outgoing link when it is up, else the
   * inbound connection when there is one, else the outgoing link's state (offline, ...).
   */
  linkOf(nodeId: NodeId): LinkSummary | undefined {
    return this.#links.linkOf(nodeId)
  }

  /**
   * Drops the handles of documents no peer had and this hub does not hold (left by
   * requests a relay forwarded) that were unavailable at the previous sweep too; runs every
   * minute. Returns how many were dropped.
   */
  dropUnavailable(): number {
    const now = Object.entries(this.repo.handles)
      .filter(([id, handle]) => !this.index.has(id) && handle.state === "unavailable")
      .map(([id]) => id as DocumentId)
    // only what was already unavailable at the previous sweep: a find that just failed may
    // still be settling, and a wait on a dropped handle rejects inside automerge-repo
    const ids = now.filter(id => this.#unavailableBefore.has(id))
    this.#unavailableBefore = new Set(now.filter(id => !ids.includes(id)))
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

  /** Events of the outgoing links (state, refused messages…), for whoever follows them. */
  get linkEvents(): LinkManager["events"] {
    return this.#links.events
  }

  /** Outgoing links and their state. */
  links(): LinkInfo[] {
    return this.#links.links()
  }

  /** Peers connected to us (hubs and local clients). */
  inbound(): { peerId: PeerId; kind: string; since: number }[] {
    return this.server.connections().map(c => ({ peerId: c.peerId!, kind: c.principal.kind, since: c.openedAt }))
  }

  /** Stops links and the endpoint, then flushes every pending write to storage. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const err of this.#links.close()) this.log.error({ err }, "closing a link failed")
    try {
      this.#endpoint?.close()
    } catch (e) {
      this.log.error({ err: e }, "closing the sync endpoint failed")
    }
    await this.#announcer?.stop().catch(e => this.log.warn({ err: (e as Error).message }, "stopping the mDNS announcer failed"))
    await this.federation.close().catch(e => this.log.error({ err: e }, "closing federation failed"))
    clearInterval(this.#sweep)
    this.unloader?.stop()
    this.#reoffer?.stop()
    this.sessions.close()
    // shared logs write through the storage's connections: closed before it (the Repo's last saves still announce themselves)
    if (this.cluster) await this.#closeShared(this.cluster)
    await closeRepo(this.repo).catch(e => this.log.error({ err: e }, "flushing and closing storage failed"))
    if (!this.cluster) {
      await this.signatures.close()
      await this.policies.close()
    }
  }

  async #closeShared(cluster: Cluster): Promise<void> {
    await cluster.bus.idle()
    await this.signatures.close()
    await this.policies.close()
    await cluster.close().catch(e => this.log.error({ err: e }, "closing the cluster bus failed"))
  }

  /** A peer went away: it gets every record again on its next connection. */
  #forgetSent(peerId: string): void {
    this.#policyFrames.forget(peerId)
    this.#signatureFrames.forget(peerId)
  }
}

/** What a peer gets before a message: the document's policy records, then the signatures of the changes it carries. */
const framesBefore = (identity: Identity, policyFrames: PolicyAnnouncer, signatureFrames: SignatureAnnouncer, m: Message): WireMessage[] => {
  const self = identity.nodeId as string as PeerId
  const policy = policyFrames.framesFor(self, m)
  const signatures = signatureFrames.framesFor(self, m)
  return policy.length === 0 ? signatures : [...policy, ...signatures]
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

/** The storage backend the config names (nodefs unless `storage.kind` is postgres). */
const storageSpecOf = (c: ResolvedConfig): StorageSpec =>
  c.storage.kind === "postgres" && c.storage.url
    ? { kind: "postgres", url: c.storage.url, schema: c.storage.schema, poolSize: c.storage.poolSize }
    : { kind: "nodefs" }
/** The CAs links trust for CA-issued hub certificates: the system's plus `tls.ca`, when configured. */
const extraCas = async (c: ResolvedConfig): Promise<string[] | undefined> => {
  if (c.tls.ca === undefined) return undefined
  try {
    return trustedCas(await readFile(c.tls.ca, "utf8"))
  } catch (e) {
    throw new FedhubError("CONFIG_INVALID", `cannot read tls.ca ${c.tls.ca}: ${(e as Error).message}`)
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

/**
 * How history names an author: this hub, a known node, or an older key that rotated to one
 * ("name (rotated to fh1…)"), so changes signed before and after a rotation show as one node.
 */
const nameWithRotation = (id: NodeId, self: NodeId, selfName: string, fed: FederationManager): string | undefined => {
  const nameOf = (n: NodeId) => (n === self ? selfName : fed.registry.get(n)?.name)
  if (id === self) return selfName
  const next = fed.successorOf(id)
  if (next === id) return nameOf(id)
  return `${nameOf(next) ?? nameOf(id) ?? "?"} (rotated to ${next})`
}
