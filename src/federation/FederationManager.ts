/**
 * The federation core of one hub: registry, its directory document, discovery,
 * trust and reputation, admission policy. A thin stateful shell: decisions are
 * the pure functions of trust.ts, reputation.ts and directory.ts; sockets and
 * dialing belong to the links (replication/LinkManager.ts), reached through `FederationLinks`.
 */
import { isValidAutomergeUrl, parseAutomergeUrl, type AutomergeUrl, type DocHandle, type Repo } from "@automerge/automerge-repo"
import { setTimeout as delay } from "node:timers/promises"
import type { Logger } from "pino"
import { FedhubError, toFedhubError, type ErrorCode } from "../errors.ts"
import { envelopeId, isNodeId, parseNodeId, type Identity, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import type { Endorsement, EndorsementRevocation, FederationNode, TrustLevel } from "../schema/index.ts"
import { emptyDirectory, putDescriptor, putEndorsement, putRevocation, putRotation, readDirectory, type DirectoryDoc, type DirectoryView, type RefusedEntry } from "./directory.ts"
import { endorse, revocationApplies, revokeEndorsement } from "./endorsement.ts"
import { Registry, type AdminLevel, type RegistryNode, type RegistryStore, type RemoteChange } from "./registry.ts"
import { computeTrust, atLeast, mergeRefused, type AdminLevel as TrustAdminLevel, type TrustEntry, type TrustResult } from "./trust.ts"
import { carryRotations, verifyRotation, type KeyRotation } from "./rotation.ts"
import { MAX_CHAIN, rotationChainTo, walkRotations } from "./rotationChain.ts"
import { boundedFetch } from "../replication/boundedFetch.ts"
import { computeReputation, emptyObservation, observeDown, observeUp } from "./reputation.ts"
import { fetchDescriptor, httpBase, verifyCandidate, type VerifiedNode } from "./verifyCandidate.ts"
import { verifyDescriptor } from "./descriptor.ts"
import type { PeerFetchOptions } from "../replication/boundedFetch.ts"
import type { Authorship } from "../replication/Authorship.ts"
import type { PolicyStore } from "../replication/PolicyStore.ts"
import type { LinkSummary } from "../replication/LinkManager.ts"
import { createOwnedDocument } from "../replication/ownedDocument.ts"
import { PUBLIC } from "../replication/access/policy.ts"
import * as A from "@automerge/automerge"
import { runDiscovery, type DiscoveryReport } from "./discovery/runDiscovery.ts"
import { StaticSource } from "./discovery/static.ts"
import { PeerExchangeSource } from "./discovery/peerExchange.ts"
import { DnsTxtSource } from "./discovery/dns.ts"
import { MdnsSource } from "./discovery/mdns.ts"
import type { DiscoverySource } from "./discovery/types.ts"

/** What the federation core needs from the hub's connections (replication/LinkManager.ts is one). */
export interface FederationLinks {
  dial(url: string, nodeId: NodeId): void
  hangUp(nodeId: NodeId): void
  dropInbound(nodeId: NodeId): void
  /** State and health of our link(s) with a node, if any. */
  linkOf(nodeId: NodeId): LinkSummary | undefined
}

export type { LinkSummary }

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
  /** Limits of every request to a peer-supplied URL: descriptors, handshakes of discovery (README "Outgoing requests to peers"). */
  peerFetch?: PeerFetchOptions
  /** Registry cap on nodes no administrator touched (README "Registry size"); default 1000. */
  maxUntouchedPeers?: number
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
  readonly #authorship: Authorship | undefined
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
    owner?: DirectoryOwner
  }) {
    this.#authorship = args.owner?.authorship
    this.#identity = args.identity
    this.#repo = args.repo
    this.registry = args.registry
    this.directory = args.directory
    this.#settings = args.settings
    this.#links = args.links
    this.#log = args.log
    // the rotations our directory holds (ours included) count from the start, before any refresh
    this.#rotationCache = readDirectory(args.directory.doc()).rotations
  }

  /** Opens the registry and this hub's directory document (creating them on first use). */
  static async open(args: {
    identity: Identity
    repo: Repo
    registryPath: string
    /** Where the registry lives when not in the file at registryPath (several processes of one identity: PostgreSQL). */
    registryStore?: RegistryStore
    settings: FederationSettings
    links: FederationLinks
    log: Logger
    /** With it, this hub's directory is a document it owns, readable by all and written only by this hub (ACCESS.md). */
    owner?: DirectoryOwner
  }): Promise<FederationManager> {
    let directory: DocHandle<DirectoryDoc> | undefined
    let manager: FederationManager | undefined
    const registry = await Registry.open(args.registryPath, {
      store: args.registryStore,
      // another process of this identity changed nodes: what its decisions trigger runs here too
      onRemote: changes => {
        if (manager) manager.#tookRemote(changes)
      },
      maxUntouchedPeers: args.settings.maxUntouchedPeers,
      // a node with a live link stays while linked; the cap applies again once it goes
      isPinned: n => args.links.linkOf(n.nodeId) !== undefined,
      onEvict: evicted => {
        // an evicted node leaves our directory too, so peer exchange does not keep it alive
        if (directory) args.owner?.authorship.adopt(directory)
        directory?.change(d => {
          for (const n of evicted) if (d.entries[n.nodeId] !== undefined) delete d.entries[n.nodeId]
        })
        if (directory) args.owner?.authorship.signLatest(directory)
        args.log.info({ evicted: evicted.length, cap: args.settings.maxUntouchedPeers }, "registry: evicted untouched peers over the cap")
      },
      onError: err => args.log.error({ err }, "registry write failed"),
    })
    let created = false
    const owner = args.owner
    // every process of an identity settles on one directory (recorded the first time, under a lock)
    await registry.settleDirectory(async current => {
      if (current) {
        try {
          directory = await args.repo.find<DirectoryDoc>(current as AutomergeUrl, { signal: AbortSignal.timeout(5_000) })
        } catch (e) {
          args.log.error({ err: e }, "this hub's directory document is missing from storage; making a new one")
        }
      }
      // (a shared registry only ever records owned directories, whose policy may still be on its way from the process that made it)
      if (!directory || (owner && !args.registryStore && !owner.policies.has(directory.documentId))) {
        // a directory from before policies could be written by any peer: its content moves to one only this hub writes
        const content = directory ? copyDirectory(directory.doc()) : emptyDirectory()
        directory = owner
          ? await createOwnedDocument<DirectoryDoc>({ repo: args.repo, identity: args.identity, ...owner }, content, { readers: [PUBLIC] }, "directory")
          : args.repo.create<DirectoryDoc>(content)
        created = true
        // stored before it is recorded, so another process that reads the record finds it
        await args.repo.flush([directory.documentId])
      }
      return directory.url
    })
    registry.evictUntouched() // a file written under a higher cap is trimmed now
    if (created || registry.dirty) await registry.save()
    manager = new FederationManager({ ...args, registry, directory: directory! })
    return manager
  }

  /** Nodes another process of this identity changed: a block or a cut made there closes our links with them too. */
  #tookRemote(changes: RemoteChange[]): void {
    for (const { nodeId, before, after } of changes) {
      const cut = (after?.blocked === true && before?.blocked !== true) || (after?.disconnected === true && before?.disconnected !== true)
      if (!cut) continue
      this.#log.info({ peer: nodeId, blocked: after?.blocked === true }, "another process of this hub blocked or cut a node; closing its links here")
      this.#links.hangUp(nodeId)
      this.#links.dropInbound(nodeId)
    }
  }

  /** Refuses a node at the handshake when a policy says so (BLOCKED, NOT_ALLOWED). */
  admitNode(nodeId: NodeId): void {
    const node = this.registry.get(nodeId)
    if (node?.blocked) throw new FedhubError("BLOCKED", `${nodeId} is blocked on this hub`)
    if (node?.disconnected) throw new FedhubError("DISCONNECTED", `this hub's administrator cut the link with ${nodeId}`)
    if (this.#rotationCache.length > 0 && this.#blockedByRotation(nodeId))
      throw new FedhubError("BLOCKED", `${nodeId} is the new key of a node blocked on this hub`)
    if (this.#settings.federationMode === "allowlist" && !(node?.manual || node?.adminLevel || this.#trustedByRotation(nodeId)))
      throw new FedhubError("NOT_ALLOWED", `${nodeId} is not on this hub's allowlist`)
  }

  /** Whether a key rotation carries an administrator's trusted or partner level to `nodeId` (so it stays allowlisted). */
  #trustedByRotation(nodeId: NodeId): boolean {
    if (this.#rotationCache.length === 0) return false
    const levels = new Map<NodeId, TrustAdminLevel | undefined>(this.registry.list().map(n => [n.nodeId, n.blocked ? "blocked" : n.adminLevel]))
    const level = carryRotations(levels, this.#rotationCache, Date.now()).adminLevels.get(nodeId)
    return level === "trusted" || level === "partner"
  }

  /** Whether a key rotation carries an administrator's block to `nodeId`. */
  #blockedByRotation(nodeId: NodeId): boolean {
    const levels = new Map<NodeId, TrustAdminLevel | undefined>(this.registry.list().map(n => [n.nodeId, n.blocked ? "blocked" : n.adminLevel]))
    return carryRotations(levels, this.#rotationCache, Date.now()).adminLevels.get(nodeId) === "blocked"
  }

  /** Puts this hub's own signed descriptor into its directory. */
  publishSelf(descriptor: SignedEnvelope<FederationNode>): void {
    this.#change(d => {
      putDescriptor(d, descriptor)
    })
  }

  /**
   * A node proved its key by connecting (or is seen up again): record it (basic trust),
   * what it claims, and the current period as up. Idempotent within a period, so
   * reconnecting never adds reputation (README "Reputation"). An up interval left open
   * by an earlier link is closed at the record's previous lastSeen, then restarted now.
   */
  async noteProven(nodeId: NodeId, url?: string, now = Date.now()): Promise<void> {
    const prev = this.registry.get(nodeId)
    let observed = prev?.observed ?? emptyObservation()
    if (prev && observed.upSince !== undefined) observed = observeUp(observed, observed.upSince, Math.max(observed.upSince, prev.lastSeen), now)
    observed = { ...observeUp(observed, now, now, now), upSince: now }
    this.registry.upsert(nodeId, { provenAt: now, observed, ...(url ? { url } : {}) }, now)
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
    await this.registry.save()
  }

  /**
   * A link with a known node failed: the up interval since it connected is recorded as
   * up periods, and the current period as down (once per period, however many failures).
   * `_uptimePct` (the link's own figure) is accepted for callers but not used: uptime is
   * measured in periods (README "Reputation").
   */
  noteFailure(nodeId: NodeId, _uptimePct?: number, now = Date.now()): void {
    const node = this.registry.get(nodeId)
    if (!node) return
    let observed = node.observed
    if (observed.upSince !== undefined) observed = observeUp(observed, observed.upSince, Math.max(observed.upSince, now), now)
    observed = observeDown(observed, now, now)
    delete observed.upSince
    this.registry.observe(nodeId, observed)
    this.registry.save().catch((err: unknown) => this.#log.warn({ peer: nodeId, err }, "could not record a link failure in the registry"))
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
    if (!this.registry.get(v.nodeId)) return // evicted at once (a cap of 0): not kept in the directory either
    try {
      this.#change(d => {
        putDescriptor(d, v.descriptor)
      })
    } catch (e) {
      if (toFedhubError(e).code !== "DESCRIPTOR_REPLAYED") throw e // we already hold this one or newer
    }
  }

  /** Verifies and adds a node by URL (manual configuration), then keeps a link to it. */
  async addPeer(url: string): Promise<VerifiedNode> {
    const v = await verifyCandidate(this.#identity, { url }, { peerFetch: this.#settings.peerFetch })
    if (this.registry.get(v.nodeId)?.blocked) throw new FedhubError("BLOCKED", `${v.nodeId} is blocked on this hub; unblock it first`)
    this.registry.upsert(v.nodeId, { manual: true }) // touched first, so the cap never evicts it
    this.#accept(v, "manual_configuration")
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

  /**
   * Cuts our links with a node without forgetting or blocking it. The cut holds, across
   * restarts and whichever end dialed, until `connect`: the node is not dialed and its
   * handshakes are refused (DISCONNECTED).
   */
  async disconnect(nodeId: string): Promise<void> {
    const id = parseNodeId(nodeId)
    if (!this.registry.get(id)) throw new FedhubError("NOT_FOUND", `${id} is not in this hub's registry`)
    this.registry.upsert(id, { disconnected: true })
    await this.registry.save()
    this.#links.hangUp(id)
    this.#links.dropInbound(id)
  }

  /** Lifts a disconnect and dials the node again (also one learned by discovery). */
  async connect(nodeId: string): Promise<void> {
    const id = parseNodeId(nodeId)
    const node = this.registry.get(id)
    if (!node?.url) throw new FedhubError("NOT_FOUND", `${id} is not in the registry with a URL; use peers add <url>`)
    if (node.disconnected) {
      this.registry.upsert(id, { disconnected: false })
      await this.registry.save()
    }
    this.admitNode(id)
    this.#links.dial(node.url, id)
  }

  /**
   * Learns a node's descriptor from what it sent on its authenticated socket (its join):
   * self-signed by that node, newer than any seen. Returns the URL it now gives, if any.
   */
  learnDescriptor(nodeId: NodeId, envelope: unknown): string | undefined {
    const descriptor = verifyDescriptor(envelope)
    if (descriptor.payload.id !== nodeId) throw new FedhubError("KEY_MISMATCH", `${nodeId} sent the descriptor of ${descriptor.payload.id}`)
    const endpoint = descriptor.payload.connectivity.endpoints[0]?.url
    const url = endpoint ? httpBase(endpoint) : undefined
    const seen = this.registry.get(nodeId)?.lastSequence
    if (seen !== undefined && descriptor.payload.sequence < seen) throw new FedhubError("DESCRIPTOR_REPLAYED", `${nodeId} sent an older descriptor than one seen`)
    this.#accept({ nodeId, url: url ?? "", descriptor, latencyMs: 0 })
    this.registry.save().catch((err: unknown) => this.#log.warn({ peer: nodeId, err }, "could not record a peer's descriptor in the registry"))
    return url
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

  /**
   * Signs an endorsement of `nodeId` and publishes it in our directory. It is issued no
   * earlier than our latest revocation of that node (so a revocation never covers it) and
   * after our stored endorsement of it (so it replaces that one).
   */
  endorse(nodeId: string, ttlMs = this.#settings.endorsementTtlMs): SignedEnvelope<Endorsement> {
    const subject = parseNodeId(nodeId)
    const self = this.#identity.nodeId
    const own = this.ownDirectory()
    let floor = 0
    for (const r of own.revocations) if (r.signer === self && r.payload.subject === subject) floor = Math.max(floor, r.payload.revokedAt)
    for (const e of own.endorsements) if (e.signer === self && e.payload.subject === subject) floor = Math.max(floor, e.payload.issuedAt + 1)
    const env = endorse(this.#identity, subject, { ttlMs, now: Math.max(Date.now(), floor) })
    this.#change(d => {
      putEndorsement(d, env)
    })
    return env
  }

  /**
   * Revokes this hub's current endorsement(s) of `nodeId`: signs one revocation per
   * endorsement of it in our directory and publishes them there, beside the endorsements
   * (peers that sync our directory stop counting them at their next refreshEndorsements).
   * Each revocation also covers any older endorsement of the node by this hub. Throws
   * BAD_NODE_ID, or NOT_FOUND when our directory holds no valid, unrevoked endorsement of the node.
   */
  revokeEndorsement(nodeId: string, now = Date.now()): SignedEnvelope<EndorsementRevocation>[] {
    const subject = parseNodeId(nodeId)
    const self = this.#identity.nodeId
    const own = this.ownDirectory()
    const mine = own.endorsements.filter(
      e => e.signer === self && e.payload.subject === subject && !own.revocations.some(r => revocationApplies(r, e)),
    )
    if (mine.length === 0) throw new FedhubError("NOT_FOUND", `this hub holds no unrevoked endorsement of ${subject} to revoke`)
    const at = Math.max(now, ...mine.map(e => e.payload.issuedAt))
    const records = mine.map(e => revokeEndorsement(this.#identity, e, { now: at }))
    this.#change(d => {
      for (const r of records) putRevocation(d, r, { now: at })
    })
    return records
  }

  /** Changes our directory, under this hub's bound actor (peers refuse anyone else's changes to it). */
  #change(fn: (d: DirectoryDoc) => void): void {
    this.#authorship?.adopt(this.directory)
    this.directory.change(fn)
    this.#authorship?.signLatest(this.directory)
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
      found.catch(e => this.#log.debug({ peer: nodeId, err: (e as Error).message }, "a peer's directory is not here yet"))
      return undefined
    }
    const timer = delay(waitMs, undefined, { ref: false })
    const h = await Promise.race([found.catch(() => undefined), timer])
    return h?.isReady() ? readDirectory(h.doc(), this.#viewOptions()) : undefined
  }

  /** Learns the verified descriptor of a hub we dialed, from its URL (same checks as discovery, key already proven by the link). */
  async learnFromUrl(nodeId: NodeId, url: string): Promise<void> {
    const descriptor = await fetchDescriptor(url, this.#settings.peerFetch)
    if (descriptor.payload.id !== nodeId) throw new FedhubError("KEY_MISMATCH", `${url} describes ${descriptor.payload.id}, the link proved ${nodeId}`)
    this.#accept({ nodeId, url: httpBase(url), descriptor, latencyMs: 0 })
    await this.registry.save()
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
  /** Revocations from our directory and our peers' (verified on their own; computeTrust matches them). */
  #revocationCache: unknown[] = []
  #rotationCache: SignedEnvelope<KeyRotation>[] = []
  /** Endorsements the directory views refused (forged, expired, misfiled), reported by trust(). */
  #endorsementRefusals: RefusedEntry[] = []

  /**
   * Recomputes endorsements, their revocations and key rotations from all directories (ours
   * and our peers'; call before trust views).
   * Rotations are also read from the local replicas of blocked nodes' directories (no
   * fetch), so a blocked node's rotation carries its block to the new id.
   */
  async refreshEndorsements(): Promise<void> {
    this.#endorsementCache = await this.#allEndorsements()
    const own = this.ownDirectory()
    const peers = await Promise.all(own.nodes.map(n => this.peerDirectory(n.nodeId)))
    const views = [own, ...peers.filter((v): v is DirectoryView => v !== undefined)]
    const blocked = this.registry.blocked()
    if (blocked.size > 0)
      for (const n of readDirectory(this.directory.doc(), { lastSequence: this.registry.sequences() }).nodes) {
        const url = blocked.has(n.nodeId) ? n.descriptor.payload.connectivity.directory : undefined
        if (!url || !isValidAutomergeUrl(url)) continue
        const handle = this.#repo.handles[parseAutomergeUrl(url).documentId] as DocHandle<DirectoryDoc> | undefined
        if (handle?.isReady()) views.push({ ...readDirectory(handle.doc()), nodes: [], endorsements: [], revocations: [], refused: [] })
      }
    this.#rotationCache = views.flatMap(v => v.rotations)
    this.#revocationCache = views.flatMap(v => v.revocations)
    this.#endorsementRefusals = views.flatMap(v => v.refused.filter(r => r.key.startsWith("endorsement:") || r.key.startsWith("revocation:")))
  }

  /**
   * Publishes a key rotation record in our directory, under its oldId. It must be signed
   * by the old key and counter-signed by the new one (`rotateKey`); else it is refused.
   */
  publishRotation(envelope: unknown): SignedEnvelope<KeyRotation> {
    const verified = verifyRotation(envelope)
    this.#change(d => {
      putRotation(d, verified)
    })
    return verified
  }

  /** The rotation records that lead to `nodeId` (this hub's own id by default), from our directory: what we serve. */
  rotationsTo(nodeId: NodeId = this.#identity.nodeId): SignedEnvelope<KeyRotation>[] {
    return rotationChainTo(this.ownDirectory().rotations, nodeId)
  }

  /** The id `nodeId` leads to through the valid rotations we know (itself when none). */
  successorOf(nodeId: NodeId): NodeId {
    // the cache holds verified records only (directory views, learnRotations)
    return this.#rotationCache.length === 0 ? nodeId : walkRotations(this.#rotationCache, nodeId).to
  }

  /**
   * Learns rotation records a peer sent (its join, GET /api/node/rotations): each is verified
   * (both keys), kept in our directory (so peer exchange carries it, and trust() carries levels
   * and blocks) and in the rotation view at once; what an administrator recorded on the old id
   * (manual link, URL, a cut, observed uptime) is copied to the new id when it has none of its own.
   * Only the chain that leads to `leadsTo` (the node presenting it) is kept, so a peer cannot
   * fill our directory with other keys' records. Returns the records newly learned; refused
   * ones are logged and change nothing.
   */
  async learnRotations(untrusted: unknown, leadsTo: NodeId, now = Date.now()): Promise<SignedEnvelope<KeyRotation>[]> {
    const verified: SignedEnvelope<KeyRotation>[] = []
    for (const raw of Array.isArray(untrusted) ? untrusted.slice(0, MAX_CHAIN) : []) {
      try {
        verified.push(verifyRotation(raw, { now }))
      } catch (e) {
        const err = toFedhubError(e)
        this.#log.warn({ peer: leadsTo, code: err.code, err: err.detail }, "a peer's key rotation record was refused")
      }
    }
    const learned: SignedEnvelope<KeyRotation>[] = []
    const known = new Set(this.#rotationCache.map(r => envelopeId(r)))
    for (const record of rotationChainTo(verified, leadsTo)) {
      if (known.has(envelopeId(record))) continue
      try {
        this.#change(d => void putRotation(d, record, { now }))
      } catch (e) {
        // our directory keeps the first rotation of an old id: a different one is not taken
        this.#log.warn({ peer: leadsTo, err: toFedhubError(e).detail }, "a peer's key rotation record was not kept")
        continue
      }
      known.add(envelopeId(record))
      this.#rotationCache.push(record)
      learned.push(record)
      const oldId = record.payload.oldId as NodeId
      const newId = record.payload.newId as NodeId
      const before = this.registry.get(oldId)
      if (before && newId !== this.#identity.nodeId) {
        const after = this.registry.get(newId)
        this.registry.upsert(newId, {
          ...(after?.url ?? before.url ? { url: after?.url ?? before.url } : {}),
          ...(after?.name ?? before.name ? { name: after?.name ?? before.name } : {}),
          ...(before.manual && !after?.manual ? { manual: true } : {}),
          // a block carries (carryRotations says so too): recorded, so every view and gate sees it
          ...(before.blocked ? { blocked: true } : {}),
          ...(before.disconnected && after?.disconnected === undefined ? { disconnected: true } : {}),
          ...(!after || after.observed.up.length === 0 ? { observed: { up: [...before.observed.up], down: [...before.observed.down] } } : {}),
          discoveredBy: [...new Set([...(after?.discoveredBy ?? []), ...before.discoveredBy])],
        })
      }
    }
    if (learned.length > 0) await this.registry.save()
    return learned
  }

  /**
   * Asks the hub at `url` for the rotations that lead to its current id (GET /api/node/rotations;
   * the records prove themselves, so no pinned connection is needed) and learns them. Returns
   * the records newly learned.
   */
  async followRotationAt(url: string): Promise<SignedEnvelope<KeyRotation>[]> {
    const res = await boundedFetch(`${httpBase(url)}/api/node/rotations`, {}, { timeoutMs: 5_000, maxBytes: 256 * 1024, ...this.#settings.peerFetch })
    if (!res.ok) throw new FedhubError("HUB_UNREACHABLE", `${httpBase(url)}/api/node/rotations answered ${res.status}`)
    const body = res.json() as { nodeId?: unknown; rotations?: unknown } | null
    if (!isNodeId(body?.nodeId)) throw new FedhubError("INVALID_INPUT", `${httpBase(url)}/api/node/rotations names no node id`)
    return this.learnRotations(body.rotations, body.nodeId)
  }

  /**
   * Trust levels of every known node, with reasons, refused endorsements (computeTrust's and
   * the directory views') and what each key rotation carried (carryRotations: a block always,
   * an administrator's trust only to a new id that counter-signed and has no level of its own).
   */
  trust(now = Date.now()): TrustResult {
    const nodes = this.registry.list()
    const adminLevels = new Map<NodeId, TrustAdminLevel | undefined>(nodes.map(n => [n.nodeId, n.blocked ? "blocked" : n.adminLevel]))
    const carried = carryRotations(adminLevels, this.#rotationCache, now)
    const result = computeTrust({
      nodes: nodes.map(n => n.nodeId),
      adminLevels: carried.adminLevels,
      proven: new Set(nodes.filter(n => n.provenAt !== undefined).map(n => n.nodeId)),
      endorsements: this.#endorsementCache,
      revocations: this.#revocationCache,
      now,
    })
    for (const [newId, oldId] of carried.carriedFrom) {
      const entry = result.levels.get(newId)
      if (!entry) continue
      entry.reason =
        carried.adminLevels.get(newId) === "blocked"
          ? `blocked: key rotated from ${oldId}, which an administrator blocked`
          : `${entry.level}: carried from ${oldId} by a key rotation signed by both keys`
    }
    const fromViews = this.#endorsementRefusals.map(r => ({
      envelopeId: r.envelopeId ?? "",
      issuer: r.issuer ?? "",
      subject: r.subject ?? "",
      code: r.code as ErrorCode,
      detail: r.detail,
      ...(r.key.startsWith("revocation:") ? { kind: "revocation" as const } : {}),
    }))
    return { ...result, refused: mergeRefused(result.refused, fromViews), rotations: carried.outcomes }
  }

  /**
   * Reputation 0..1 per node (README: "Reputation"). Edges: the endorsements `trust` accepted
   * (judged per envelope, so a refused record never removes a valid one; a revoked one is not
   * accepted, so only a verified revocation by its issuer removes an edge) and this hub's
   * observed uptime of each node (a link open now counts up to now). Blocked nodes, also
   * those blocked through a key rotation, are left out.
   */
  reputation(trust = this.trust(), now = Date.now()): Map<NodeId, number> {
    const blocked = new Set<string>(this.registry.blocked())
    for (const r of trust.rotations ?? []) if (r.carried === "blocked") blocked.add(r.newId)
    const nodes = this.registry.list().filter(n => !blocked.has(n.nodeId))
    const self = this.#identity.nodeId
    const anchors = [...trust.levels].filter(([id, e]) => (e.level === "trusted" || e.level === "partner") && !blocked.has(id)).map(([id]) => id)
    const edges = trust.accepted
      .filter(a => !blocked.has(a.issuer) && !blocked.has(a.subject))
      .map(a => ({ from: a.issuer, to: a.subject, weight: 1 }))
    const observed = new Map(
      nodes.map(n => {
        const open = n.observed.upSince !== undefined && this.#links.linkOf(n.nodeId)?.state === "established"
        return [n.nodeId, open ? observeUp(n.observed, n.observed.upSince!, now, now) : n.observed] as const
      }),
    )
    const result = computeReputation({
      nodes: [self, ...nodes.map(n => n.nodeId)],
      preTrusted: [self, ...anchors],
      edges,
      observed,
      observer: self,
      now,
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
      // a policy refusal (allowlist) is a refused candidate in the report, never thrown out of discover
      verify: async c => {
        if (c.nodeId !== undefined && isNodeId(c.nodeId)) this.admitNode(c.nodeId) // a refused claimed id is not even fetched
        const v = await verifyCandidate(this.#identity, c, { peerFetch: this.#settings.peerFetch })
        try {
          this.admitNode(v.nodeId)
        } catch (e) {
          const err = toFedhubError(e)
          throw new FedhubError(err.code, `${err.detail} (verified at ${v.url}; add it with peers add or trust it to federate)`, { nodeId: v.nodeId })
        }
        return v
      },
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
      if (opts.connect === false) continue
      try {
        this.#links.dial(v.url, v.nodeId)
      } catch (e) {
        const err = toFedhubError(e)
        for (const c of report.candidates)
          if (c.nodeId === v.nodeId && c.status === "verified") Object.assign(c, { status: "refused", code: err.code, reason: `verified but not dialed: ${err.detail}` })
      }
    }
    report.verified = report.verified.filter(v => report.candidates.some(c => c.nodeId === v.nodeId && c.status === "verified"))
    this.lastDiscovery = report // kept even if the registry write below fails (that failure is thrown and logged)
    await this.registry.save()
    this.#log.info(
      { verified: report.verified.length, refused: report.candidates.filter(c => c.status === "refused").length, ms: report.durationMs },
      "discovery finished",
    )
    return report
  }

  /** Stops discovery sources (sockets). */
  async close(): Promise<void> {
    await Promise.allSettled((this.#sources ?? []).map(s => s.close?.()))
    await this.registry.close()
  }
}

/** What makes this hub's directory a document it owns. */
export interface DirectoryOwner {
  policies: PolicyStore
  authorship: Authorship
}

/** The values of a directory, to write into a new one (each an ImmutableString of a signed envelope). */
function copyDirectory(doc: DirectoryDoc): DirectoryDoc {
  const out = emptyDirectory()
  for (const key of ["entries", "rotations", "endorsements", "revocations"] as const)
    for (const [k, v] of Object.entries(doc[key] ?? {})) out[key]![k] = new A.ImmutableString(String(v))
  return out
}
