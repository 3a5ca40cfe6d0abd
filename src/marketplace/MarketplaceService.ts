/**
 * Marketplaces across real hubs (issue 13): the thin stateful shell over the pure core
 * (config.ts, votes.ts). It creates a marketplace document this hub owns, lists and shows
 * the marketplaces it holds, sends join requests and records signed votes; on the owner's
 * hub it admits an approved requester by widening the document's policy.
 *
 * Documents (rule 3: every entry under a key its one writer owns, every atomic string an
 * ImmutableString, every fact a signed envelope stored as its canonical JSON):
 *
 * - **marketplace** (owned by its creator; policy readers `public` or the participants,
 *   writers the participants): `kind`, `config` (canonical JSON), `participants[nodeId]`
 *   (written by the owner as it admits), `requests[requester]` (the requester's signed
 *   request, copied in by the owner), `requestDocs[requester]` (where the owner answers),
 *   `votes["<requestId>:<voter>"]` (each written by its voter, a participant).
 * - **join request** (owned by the requester; policy readers and writers: the marketplace's
 *   owner only): `kind`, `marketplace`, `owner`, `request` (the signed request), and
 *   `outcome` written by the owner once the vote is decided.
 *
 * How a request reaches the owner: the requester's hub creates its request document under
 * that policy; its ShareGate announces it to the owner (the only hub that may read it) as
 * soon as they are linked, and the owner's Repo takes it like any document offered to it.
 * The owner's hub notices it from the sync message, checks the envelope (signature,
 * purpose, schema, signer = the document's owner, a marketplace this hub owns) and copies
 * it into the marketplace. No hub writes into a document another requester could touch, so
 * one requester cannot delete another's request: the write control of docs/ACCESS.md
 * (writers by policy, checked on every hub) is all that is needed.
 *
 * Activation: whenever the marketplace changes (a local vote or a synced one), the owner's
 * hub runs `decideJoin` over the signed votes of every pending request; an approved
 * requester is added to `participants` and to the policy's writers (and readers when the
 * marketplace is private) by a new owner-signed version, so every hub starts serving it the
 * document; a refused or pending one is served nothing. The outcome is written into the
 * requester's request document, where its hub reads it.
 */
import { EventEmitter } from "node:events"
import * as A from "@automerge/automerge"
import type { DocHandle, DocumentId, Repo } from "@automerge/automerge-repo"
import { FedhubError, isFedhubError } from "../errors.ts"
import { canonicalJson, isNodeId, type Identity, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import { assertMayRead, assertMayWrite, mayRead, nextPolicy, PUBLIC, type PolicyLists } from "../replication/access/policy.ts"
import type { Authorship } from "../replication/Authorship.ts"
import { parseDocRef } from "../replication/docRef.ts"
import { createOwnedDocument } from "../replication/ownedDocument.ts"
import type { PolicyStore } from "../replication/PolicyStore.ts"
import type { JoinVote, MarketItem, MarketplaceConfig } from "../schema/index.ts"
import { createMarketplaceConfig, marketplaceConfigProblems, type DeepPartial, type MarketplaceConfigInput } from "./config.ts"
import { MARKET_PURPOSE, openSigned } from "./signed.ts"
import { prepareValidators } from "./schemaCheck.ts"
import { CatalogService, type CatalogEntry, type ItemInput } from "./CatalogService.ts"
import { globalIdOf } from "./items.ts"
import type { MarketLedger } from "./marketLedger.ts"
import { metadataView, putMetadataEdit, resolveEdit, signMetadataEdit, type MetadataValue, type MetadataView } from "./metadata.ts"
import { ACTIVITY_KIND, imm, JOIN_REQUEST_KIND, MARKETPLACE_KIND, parse, str, type MarketDoc, type RequestDoc } from "./marketDocs.ts"
import { CatalogIndex, type RatingSummary } from "./searchIndex.ts"
import { MemberDocs } from "./MemberDocs.ts"
import type { ItemRatings } from "./ratings.ts"
import type { RejectedItem } from "./shard.ts"
import { TradeService, type BuyOptions } from "./TradeService.ts"
import { decideJoin, signJoinRequest, signVote, type JoinResult, type JoinStatus } from "./votes.ts"

/** What the service needs of its hub: the DocStore-level parts. */
export interface MarketplaceServiceOptions {
  repo: Repo
  identity: Identity
  policies: PolicyStore
  authorship: Authorship
  /** Where problems with peers' documents are logged (pino-like). */
  log?: { warn: (obj: object, msg: string) => void }
  /** How long finding a document may take (ms; default 5 s). */
  findTimeoutMs?: number
  /** Changes the inbound gate refused for a document (with the hub that sent them). */
  refusedChanges?: (documentId: string) => { from: string; reason: string; author?: string }[]
  now?: () => number
}

/** What `create` takes: the API body. */
export interface CreateMarketOptions {
  name?: string
  description?: string
  visibility?: "public" | "private"
  participants?: string[]
  config?: Record<string, unknown>
}

/** A participant as shown. */
export interface ParticipantView {
  nodeId: string
  status: string
  since: number
  via: string
}

/** A join request as shown, with where its vote stands. */
export interface RequestView {
  requester: string
  requestId: string | null
  time: number | null
  message?: string
  result: JoinResult
}

/** A marketplace as `list` shows it. */
export interface MarketSummary {
  url: string
  documentId: string
  name: string | null
  visibility: string | null
  owner: string | null
  role: "owner" | "participant" | "reader"
  participants: number
  pending: number
}

/** A marketplace as `show` shows it. */
export interface MarketView extends Omit<MarketSummary, "pending"> {
  config: MarketplaceConfig | null
  /** Why the stored config is not a valid one (then `config` is null). */
  configProblems: string[]
  participants: number
  participantList: ParticipantView[]
  /** Nodes the document's participants map names that the policy does not make writers (reported, never counted). */
  unconfirmedParticipants: string[]
  requests: RequestView[]
  /** Entries of `requests` that are not a valid signed request of the node they are kept under (rule 2: reported, never used). */
  refusedRequests: { key: string; reason: string }[]
  policy: { readers: string[]; writers: string[] }
}

/** A join request this hub sent, as `join` and `list` show it. */
export interface JoinView {
  marketplace: string
  owner: string
  requestId: string
  requestDoc: string
  status: JoinStatus
  reason: string
}

/** An item as views show it: the verified version, whether curation lets it show, its derived ratings and sales. */
export interface ItemView extends CatalogEntry {
  approved: boolean
  ratings: ItemRatings
  sales: number
}

/** What `publishBatch` answers: how many item versions were written, and each shard's new manifest. */
export interface PublishSummary {
  marketplace: string
  published: number
  shards: { shard: string; documentId: string; manifestSequence: number; items: number }[]
}

/** One line of a catalog listing. */
export interface ItemSummary {
  globalId: string
  itemId: string
  origin: string
  version: number
  type: string
  title: string
  category: string | null
  price: number
  currency: string
  overallRating: number
  ratingCount: number
  /** The text score (0 without text). */
  score: number
}

/** The catalog as this hub verified it. */
export interface CatalogView {
  marketplace: string
  total: number
  offset: number
  limit: number
  items: ItemSummary[]
  /** Items held back until a curator approves them. */
  pending: string[]
  shards: ReturnType<CatalogService["shards"]>
  rejected: RejectedItem[]
}

const undecidable = (requestId: string, requester: string, reason: string): JoinResult => ({
  success: false,
  status: "refused",
  reason,
  requirements: [],
  requestId: requestId as JoinResult["requestId"],
  requester: requester as NodeId,
  deadline: null,
  tally: { yes: 0, no: 0, eligible: 0, voters: 0 },
  counted: [],
  refusedVotes: [],
})
const voteKey = (requestId: string, voter: string): string => `${requestId}:${voter}`

export class MarketplaceService {
  /** `updated`: this hub recorded or decided something in a marketplace (or its request document). */
  readonly events = new EventEmitter<{ updated: [documentId: string] }>()
  readonly #repo: Repo
  readonly #identity: Identity
  readonly #policies: PolicyStore
  readonly #authorship: Authorship
  readonly #log: NonNullable<MarketplaceServiceOptions["log"]>
  readonly #findTimeoutMs: number
  readonly #now: () => number
  /** What each document seen in a sync message turned out to be (null: neither kind, never looked at again). */
  readonly #kinds = new Map<string, string | null>()
  /** One evaluation at a time per marketplace (and one more queued). */
  readonly #running = new Map<string, Promise<void>>()
  readonly #queued = new Set<string>()
  /** Documents seen in a sync message before they were ready. */
  readonly #waiting = new Set<string>()
  /** Marketplaces whose changes this service follows. */
  readonly #watched = new Set<string>()
  /** A search index per marketplace, with the derived ratings it holds and what must be refreshed. */
  readonly #indexes = new Map<string, { index: CatalogIndex; ratings: Map<string, RatingSummary>; ratingsDirty: boolean; curationDirty: boolean; shown?: (e: Pick<CatalogEntry, "item" | "globalId">) => boolean; curated?: boolean }>()
  readonly #refusedChanges: NonNullable<MarketplaceServiceOptions["refusedChanges"]>
  /** Catalog shards and activity documents of every participant. */
  readonly members: MemberDocs
  /** The verified catalog. */
  readonly catalog: CatalogService
  /** Ratings, purchases, approvals, the ledger. */
  readonly trade: TradeService

  constructor(opts: MarketplaceServiceOptions) {
    this.#repo = opts.repo
    this.#identity = opts.identity
    this.#policies = opts.policies
    this.#authorship = opts.authorship
    this.#log = opts.log ?? { warn: () => {} }
    this.#findTimeoutMs = opts.findTimeoutMs ?? 5_000
    this.#now = opts.now ?? Date.now
    this.#refusedChanges = opts.refusedChanges ?? (() => [])
    const flush = (ids: string[]) => this.#repo.flush(ids as DocumentId[])
    this.members = new MemberDocs({ repo: opts.repo, identity: opts.identity, policies: opts.policies, authorship: opts.authorship, log: this.#log, findTimeoutMs: this.#findTimeoutMs })
    const parts = { identity: opts.identity, policies: opts.policies, authorship: opts.authorship, members: this.members, flush, now: this.#now }
    this.catalog = new CatalogService(parts)
    this.trade = new TradeService({ ...parts, market: id => this.#ledgerContext(id) })
    this.catalog.events.on("changed", id => this.events.emit("updated", id))
    this.catalog.events.on("items", (id, upserted, removed, local) => {
      // the index is built as shards arrive (not on the first query), so a sync ends searchable;
      // this hub's own writes build none (its first query does: a 1M publish would index as it writes)
      if (local && !this.#indexes.has(id)) return
      const context = this.#indexes.has(id) ? undefined : this.#ledgerContext(id)
      if (context) this.#index(id, context.config)
      else this.#indexItems(id, upserted, removed)
    })
    const activityChanged = (m: { kind: string; marketId: string }) => {
      const s = m.kind === ACTIVITY_KIND ? this.#indexes.get(m.marketId) : undefined
      if (!s) return
      s.ratingsDirty = true
      s.curationDirty ||= this.#ledgerContext(m.marketId)?.config.catalog.curationPolicy.requiresApproval === true
    }
    this.members.events.on("loaded", activityChanged)
    this.members.events.on("changed", m => {
      activityChanged(m)
      this.events.emit("updated", m.marketId)
    })
    this.members.events.on("refused", marketId => this.events.emit("updated", marketId))
    this.#policies.events.on("changed", id => {
      const h = this.#watched.has(id) ? (this.#repo.handles[id as DocumentId] as DocHandle<MarketDoc> | undefined) : undefined
      if (h?.isReady()) this.members.track(h)
    })
    // a document that arrives or changes by sync: a request for one of our marketplaces, or
    // one of our marketplaces with new votes (looked at once the message is applied)
    this.#repo.on("doc-metrics", m => {
      if (m.type === "receive-sync-message") setImmediate(() => this.#noticed(m.documentId))
    })
  }

  get #self(): NodeId {
    return this.#identity.nodeId
  }

  // ---- create, list, show

  /** Creates a marketplace owned (and created) by this hub. MARKETPLACE_CONFIG_INVALID lists every problem. */
  async create(opts: CreateMarketOptions = {}): Promise<MarketView> {
    const now = this.#now()
    const extra = (opts.participants ?? []).filter(n => n !== this.#self)
    for (const n of extra) if (!isNodeId(n)) throw new FedhubError("BAD_NODE_ID", `participant ${JSON.stringify(n)} is not a node id`)
    const input = {
      ...(opts.config as DeepPartial<MarketplaceConfig> | undefined),
      name: opts.name ?? (opts.config?.name as string | undefined) ?? `${this.#identity.name} marketplace`,
      creator: this.#self,
      ...(opts.description === undefined ? {} : { description: opts.description }),
      ...(opts.visibility === undefined ? {} : { visibility: opts.visibility }),
    } as MarketplaceConfigInput
    const config = createMarketplaceConfig(input, now)
    const participants: MarketDoc["participants"] = {
      [this.#self]: { status: imm("active"), since: now, via: imm("creator") },
    }
    for (const n of extra) participants[n] = { status: imm("active"), since: now, via: imm("initial") }
    // every map any participant writes into exists from the first change: two hubs creating one
    // concurrently would make two maps under one key, and the view would show only one of them
    const initial: MarketDoc = { kind: imm(MARKETPLACE_KIND), config: imm(canonicalJson(config)), participants, requests: {}, requestDocs: {}, votes: {}, catalog: {}, activity: {}, meta: {} }
    const lists: Partial<PolicyLists> = {
      writers: extra as NodeId[],
      readers: config.visibility === "public" ? [PUBLIC] : (extra as NodeId[]),
    }
    const handle = await createOwnedDocument<MarketDoc>(this.#ctx(), initial, lists, `create marketplace (by ${this.#self})`)
    this.#kinds.set(handle.documentId, MARKETPLACE_KIND)
    this.#watch(handle)
    await this.#repo.flush([handle.documentId])
    return this.#view(handle)
  }

  /** The marketplaces this hub holds (and may read). */
  list(): { marketplaces: MarketSummary[]; joining: JoinView[] } {
    const marketplaces: MarketSummary[] = []
    const joining: JoinView[] = []
    for (const handle of Object.values(this.#repo.handles)) {
      if (!handle.isReady()) continue
      const id = handle.documentId
      if (this.#policies.has(id) && !mayRead(this.#policies.effective(id), this.#self)) continue
      const kind = str((handle.doc() as { kind?: unknown } | undefined)?.kind)
      if (kind === MARKETPLACE_KIND) {
        const view = this.#view(handle as DocHandle<MarketDoc>)
        marketplaces.push({ ...this.#summary(handle as DocHandle<MarketDoc>), pending: view.requests.filter(r => r.result.status === "pending").length })
      } else if (kind === JOIN_REQUEST_KIND && this.#policies.effective(id)?.owner === this.#self) {
        const j = this.#joinView(handle as DocHandle<RequestDoc>)
        if (j) joining.push(j)
      }
    }
    marketplaces.sort((a, b) => (a.documentId < b.documentId ? -1 : a.documentId > b.documentId ? 1 : 0))
    return { marketplaces, joining }
  }

  /** One marketplace: config, participants, policy, and where every request's vote stands. */
  async show(ref: string): Promise<MarketView> {
    return this.#view(await this.#findMarket(ref))
  }

  // ---- join

  /**
   * Asks to join the marketplace `ref` owned by `owner`: signs a request and puts it in a
   * document of this hub's own that only the owner may read (and answer in). Asking again
   * while a request is undecided returns it.
   */
  async join(ref: string, opts: { owner: string; message?: string }): Promise<JoinView> {
    const { documentId, url } = parseDocRef(ref)
    if (!isNodeId(opts.owner)) throw new FedhubError("BAD_NODE_ID", `owner ${JSON.stringify(opts.owner)} is not a node id`)
    if (opts.owner === this.#self) throw new FedhubError("INVALID_INPUT", "this hub owns the marketplace: it is a participant already")
    const held = this.#repo.handles[documentId as DocumentId]
    if (held?.isReady() && this.#policies.has(documentId) && mayRead(this.#policies.effective(documentId), this.#self)) {
      const doc = held.doc() as Partial<MarketDoc> | undefined
      if (doc?.participants?.[this.#self] !== undefined)
        throw new FedhubError("INVALID_INPUT", `this hub is a participant of ${url} already`)
    }
    const open = this.list().joining.find(j => j.marketplace === url && j.status === "pending")
    if (open) return open
    const request = signJoinRequest(this.#identity, documentId, opts.message, this.#now())
    const initial: RequestDoc = {
      kind: imm(JOIN_REQUEST_KIND),
      marketplace: imm(documentId),
      owner: imm(opts.owner),
      request: imm(canonicalJson(request)),
    }
    const owner = opts.owner as NodeId
    const handle = await createOwnedDocument<RequestDoc>(this.#ctx(), initial, { readers: [owner], writers: [owner] }, `join request for ${documentId} (by ${this.#self})`)
    this.#kinds.set(handle.documentId, JOIN_REQUEST_KIND)
    await this.#repo.flush([handle.documentId])
    return this.#joinView(handle)!
  }

  // ---- vote

  /** This hub, a participant, signs a vote on the request of `requester` (or with `requestId`) and writes it. */
  async vote(ref: string, opts: { requester?: string; requestId?: string; approve: boolean; reason?: string }): Promise<RequestView> {
    if ((opts.requester === undefined) === (opts.requestId === undefined))
      throw new FedhubError("INVALID_INPUT", "name the request by exactly one of requester and requestId")
    const handle = await this.#findMarket(ref)
    const doc = handle.doc()
    if (!this.#participantsOf(handle.documentId).includes(this.#self))
      throw new FedhubError("NOT_A_PARTICIPANT", `${this.#self} is not a participant of ${handle.url}: only participants vote`)
    assertMayWrite(this.#policies.effective(handle.documentId), this.#self)
    // only a request the views accept (verifies, kept under its signer, for this marketplace)
    const target = this.#view(handle).requests.find(r => (opts.requester !== undefined ? r.requester === opts.requester : r.requestId === opts.requestId))
    if (!target) throw new FedhubError("NOT_FOUND", `no valid join request ${opts.requester ?? opts.requestId ?? ""} in ${handle.url}`)
    const opened = openSigned(parse(str(doc.requests[target.requester])), MARKET_PURPOSE.joinRequest, "marketplace#JoinRequest", "nodeId")
    if (!opened.ok) throw new FedhubError("JOIN_REQUEST_INVALID", `the request of ${target.requester} does not verify: ${opened.reason}`)
    const entry = [target.requester] as const
    const vote = signVote(this.#identity, opened.env, opts.approve, { reason: opts.reason, time: this.#now() })
    this.#authorship.adopt(handle)
    handle.change(
      d => {
        d.votes ??= {}
        d.votes[voteKey(opened.id, this.#self)] = imm(canonicalJson(vote))
      },
      { message: `vote ${opts.approve ? "yes" : "no"} on ${entry[0]} (by ${this.#self})` },
    )
    this.#authorship.signLatest(handle)
    await this.#repo.flush([handle.documentId])
    if (this.#ownerOf(handle.documentId) === this.#self) await this.#evaluate(handle.documentId)
    const view = this.#view(handle).requests.find(r => r.requester === entry[0])
    return view!
  }

  // ---- the owner's side

  /** A document arrived or changed by sync: handled when it is a request to us or one of our marketplaces. */
  #noticed(documentId: string): void {
    const known = this.#kinds.get(documentId)
    if (known === null) return
    const handle = this.#repo.handles[documentId as DocumentId]
    if (!handle) return
    if (!handle.isReady()) {
      // looked at again once its first message is applied (at most one wait per document)
      if (this.#waiting.has(documentId)) return
      this.#waiting.add(documentId)
      const timer = setTimeout(() => this.#waiting.delete(documentId), this.#findTimeoutMs)
      timer.unref()
      void handle.whenReady().then(() => {
        clearTimeout(timer)
        this.#waiting.delete(documentId)
        this.#noticed(documentId)
      }, () => this.#waiting.delete(documentId))
      return
    }
    const kind = known ?? str((handle.doc() as { kind?: unknown } | undefined)?.kind) ?? null
    this.#kinds.set(documentId, kind === MARKETPLACE_KIND || kind === JOIN_REQUEST_KIND ? kind : null)
    if (kind === MARKETPLACE_KIND && (!this.#policies.has(documentId) || mayRead(this.#policies.effective(documentId), this.#self))) this.#watch(handle as DocHandle<MarketDoc>)
    if (kind === MARKETPLACE_KIND && this.#ownerOf(documentId) === this.#self) void this.#evaluate(documentId)
    else if (kind === JOIN_REQUEST_KIND && this.#ownerOf(documentId) !== this.#self)
      void this.#receiveRequest(handle as DocHandle<RequestDoc>).catch(e =>
        this.#log.warn({ documentId, err: (e as Error).message }, "could not record a join request"),
      )
  }

  /** A requester's request document: checked, then copied into our marketplace. */
  async #receiveRequest(handle: DocHandle<RequestDoc>): Promise<void> {
    const doc = handle.doc()
    const requester = this.#ownerOf(handle.documentId)
    const opened = openSigned(parse(str(doc.request)), MARKET_PURPOSE.joinRequest, "marketplace#JoinRequest", "nodeId")
    if (!opened.ok) return void this.#log.warn({ documentId: handle.documentId, reason: opened.reason }, "a join request that does not verify was refused")
    if (opened.env.signer !== requester)
      return void this.#log.warn({ documentId: handle.documentId, signer: opened.env.signer, owner: requester }, "a join request in a document its signer does not own was refused")
    const marketId = opened.env.payload.marketplaceId
    if (this.#ownerOf(marketId) !== this.#self) return
    const market = this.#repo.handles[marketId as DocumentId] as DocHandle<MarketDoc> | undefined
    if (!market?.isReady()) return
    const held = openSigned(parse(str(market.doc().requests?.[requester])), MARKET_PURPOSE.joinRequest, "marketplace#JoinRequest", "nodeId")
    const fresh = !held.ok || (held.id !== opened.id && opened.env.time > held.env.time)
    const docKnown = str(market.doc().requestDocs?.[requester]) === handle.documentId
    if (fresh || !docKnown) {
      this.#authorship.adopt(market)
      market.change(
        d => {
          d.requests ??= {}
          d.requestDocs ??= {}
          if (fresh) d.requests[requester] = imm(canonicalJson(opened.env))
          d.requestDocs[requester] = imm(handle.documentId)
        },
        { message: `join request of ${requester} (recorded by ${this.#self})` },
      )
      this.#authorship.signLatest(market)
      await this.#repo.flush([market.documentId])
    }
    await this.#evaluate(marketId)
    this.events.emit("updated", marketId)
  }

  /** Decides every request of one of our marketplaces; admits the approved, answers the decided. */
  #evaluate(documentId: string): Promise<void> {
    const running = this.#running.get(documentId)
    if (running) {
      this.#queued.add(documentId)
      return running
    }
    const run = this.#evaluateNow(documentId)
      .catch(e => this.#log.warn({ documentId, err: (e as Error).message }, "deciding join requests failed"))
      .finally(() => {
        this.#running.delete(documentId)
        if (this.#queued.delete(documentId)) void this.#evaluate(documentId)
      })
    this.#running.set(documentId, run)
    return run
  }

  async #evaluateNow(documentId: string): Promise<void> {
    const handle = this.#repo.handles[documentId as DocumentId] as DocHandle<MarketDoc> | undefined
    if (!handle?.isReady()) return
    const view = this.#view(handle)
    if (!view.config) return
    for (const r of view.requests) {
      if (r.result.status === "pending" || !r.result.requestId) continue
      const isParticipant = this.#participantsOf(documentId).includes(r.requester as NodeId)
      if (r.result.status === "approved" && !isParticipant) await this.#admit(handle, view, r)
      await this.#answer(handle, r)
    }
    this.events.emit("updated", documentId)
  }

  /** An approved requester: a participant, and a writer (and reader) under a new owner-signed policy. */
  async #admit(handle: DocHandle<MarketDoc>, view: MarketView, r: RequestView): Promise<void> {
    const node = r.requester as NodeId
    this.#authorship.adopt(handle)
    handle.change(
      d => {
        d.participants[node] = { status: imm("active"), since: this.#now(), via: imm(r.result.requestId!) }
      },
      { message: `admit ${node}: ${r.result.reason} (by ${this.#self})` },
    )
    this.#authorship.signLatest(handle)
    await this.#repo.flush([handle.documentId])
    const state = this.#policies.state(handle.documentId)
    if (!state) throw new FedhubError("POLICY_INVALID", `${handle.documentId} has no policy`)
    const add: Partial<PolicyLists> = { writers: [node], ...(view.config?.visibility === "public" ? {} : { readers: [node] }) }
    await this.#policies.add(handle.documentId, [nextPolicy(this.#identity, state, { add, documentHeads: A.getHeads(handle.doc()) })])
  }

  /** Writes the outcome into the requester's request document (we are its writer), once. */
  async #answer(market: DocHandle<MarketDoc>, r: RequestView): Promise<void> {
    const docId = str(market.doc().requestDocs?.[r.requester])
    const handle = docId ? (this.#repo.handles[docId as DocumentId] as DocHandle<RequestDoc> | undefined) : undefined
    if (!handle?.isReady()) return
    const opened = openSigned(parse(str(handle.doc().request)), MARKET_PURPOSE.joinRequest, "marketplace#JoinRequest", "nodeId")
    if (!opened.ok || opened.id !== r.result.requestId) return
    const outcome = { status: r.result.status, reason: r.result.reason, requestId: r.result.requestId }
    const current = parse(str(handle.doc().outcome)) as { status?: string } | undefined
    if (current?.status === outcome.status) return
    try {
      assertMayWrite(this.#policies.effective(handle.documentId), this.#self)
    } catch (e) {
      if (isFedhubError(e)) return
      throw e
    }
    this.#authorship.adopt(handle)
    handle.change(d => void (d.outcome = imm(canonicalJson(outcome))), { message: `join ${outcome.status} (by ${this.#self})` })
    this.#authorship.signLatest(handle)
    await this.#repo.flush([handle.documentId])
  }

  // ---- views

  #summary(handle: DocHandle<MarketDoc>): Omit<MarketSummary, "pending"> {
    const doc = handle.doc()
    const config = parse(str(doc.config)) as Partial<MarketplaceConfig> | undefined
    const owner = this.#ownerOf(handle.documentId) ?? null
    const participants: string[] = this.#participantsOf(handle.documentId)
    return {
      url: handle.url,
      documentId: handle.documentId,
      name: typeof config?.name === "string" ? config.name : null,
      visibility: typeof config?.visibility === "string" ? config.visibility : null,
      owner,
      role: owner === this.#self ? "owner" : participants.includes(this.#self) ? "participant" : "reader",
      participants: participants.length,
    }
  }

  #view(handle: DocHandle<MarketDoc>): MarketView {
    const doc = handle.doc()
    const raw = parse(str(doc.config))
    const configProblems = raw === undefined ? ["the config is not JSON"] : marketplaceConfigProblems(raw)
    const config = configProblems.length === 0 ? (raw as MarketplaceConfig) : null
    // who participates is the owner-signed policy (owner, admins, writers): any participant
    // may write any key of the document, so its participants map only says since when and why
    const active = this.#participantsOf(handle.documentId)
    const entries = doc.participants ?? {}
    const participantList: ParticipantView[] = active.map(nodeId => {
      const p = entries[nodeId]
      return { nodeId, status: "active", since: typeof p?.since === "number" ? p.since : 0, via: str(p?.via) ?? "?" }
    })
    const unconfirmedParticipants = Object.keys(entries).filter(n => !active.includes(n as NodeId)).sort()
    const votes = Object.values(doc.votes ?? {}).map(v => parse(str(v)) ?? str(v))
    const requests: RequestView[] = []
    const refusedRequests: MarketView["refusedRequests"] = []
    // a stake is the participant's credit balance in this marketplace's ledger
    const stakes = config?.federation.consensusMechanism.type === "proof_of_stake" ? this.trade.ledger(handle.documentId).balances : {}
    const now = this.#now()
    for (const [requester, value] of Object.entries(doc.requests ?? {})) {
      const env = parse(str(value))
      const opened = openSigned(env, MARKET_PURPOSE.joinRequest, "marketplace#JoinRequest", "nodeId")
      if (!opened.ok) {
        refusedRequests.push({ key: requester, reason: opened.reason })
        continue
      }
      if (opened.env.signer !== requester) {
        refusedRequests.push({ key: requester, reason: `kept under ${requester} but signed by ${opened.env.signer}` })
        continue
      }
      if (opened.env.payload.marketplaceId !== handle.documentId) {
        refusedRequests.push({ key: requester, reason: `a request to join ${opened.env.payload.marketplaceId}` })
        continue
      }
      const mine = votes.filter(v => (v as SignedEnvelope<JoinVote> | undefined)?.payload?.requestId === opened.id)
      const result = config ? decideJoin(config, active, stakes, opened.env, mine, now) : undecidable(opened.id, requester, "the marketplace's config is not valid")
      requests.push({
        requester,
        requestId: opened.id,
        time: opened.env.time,
        ...(opened.env.payload.message === undefined ? {} : { message: opened.env.payload.message }),
        result,
      })
    }
    requests.sort((a, b) => (a.requester < b.requester ? -1 : 1))
    const policy = this.#policies.effective(handle.documentId)
    return {
      ...this.#summary(handle),
      config,
      configProblems,
      participantList,
      unconfirmedParticipants,
      requests,
      refusedRequests,
      policy: { readers: [...(policy?.readers ?? [])], writers: [...(policy?.writers ?? [])] },
    }
  }

  #joinView(handle: DocHandle<RequestDoc>): JoinView | undefined {
    const doc = handle.doc()
    const opened = openSigned(parse(str(doc.request)), MARKET_PURPOSE.joinRequest, "marketplace#JoinRequest", "nodeId")
    if (!opened.ok) return undefined
    const outcome = parse(str(doc.outcome)) as { status?: JoinStatus; reason?: string; requestId?: string } | undefined
    const decided = outcome?.requestId === opened.id && (outcome.status === "approved" || outcome.status === "refused")
    return {
      marketplace: parseDocRef(opened.env.payload.marketplaceId).url,
      owner: str(doc.owner) ?? "?",
      requestId: opened.id,
      requestDoc: handle.url,
      status: decided ? outcome.status! : "pending",
      reason: decided ? (outcome.reason ?? "") : "waiting for the owner's hub to record the request and the participants' votes",
    }
  }

  // ---- catalog and trade

  /** Follows every marketplace this hub holds (called once the hub has reloaded its documents). */
  resume(): void {
    for (const handle of Object.values(this.#repo.handles))
      if (handle.isReady() && str((handle.doc() as { kind?: unknown } | undefined)?.kind) === MARKETPLACE_KIND) this.#watch(handle as DocHandle<MarketDoc>)
  }

  /** Whether this service follows the document (a marketplace or a member document): it must stay loaded. */
  follows(documentId: string): boolean {
    return this.#watched.has(documentId) || this.members.has(documentId)
  }

  #watch(handle: DocHandle<MarketDoc>): void {
    if (this.#watched.has(handle.documentId)) return
    this.#watched.add(handle.documentId)
    // the item validators compiled before the first shard arrives, off the sync's path
    prepareValidators()
    handle.on("change", () => this.members.track(handle))
    this.members.track(handle)
  }

  /** The marketplace and its valid config, for operations that need both. */
  async #market(ref: string): Promise<{ handle: DocHandle<MarketDoc>; config: MarketplaceConfig }> {
    const handle = await this.#findMarket(ref)
    const view = this.#view(handle)
    if (!view.config) throw new FedhubError("MARKETPLACE_CONFIG_INVALID", `the config of ${handle.url} is not valid: ${view.configProblems.join("; ")}`, { problems: view.configProblems })
    return { handle, config: view.config }
  }

  /** Publishes items (or new versions) of this hub; every failure of every item listed, nothing written on failure. */
  async publish(ref: string, items: readonly ItemInput[]): Promise<ItemView[]> {
    const { handle, config } = await this.#market(ref)
    const published = await this.catalog.publish(handle, config, items)
    return this.#itemViews(handle.documentId, config, published.entries(), { ratingsByItem: true })
  }

  /** `publish` answering counts and the shards written instead of a view per item (for a large catalog: 1M views cost more than writing them). */
  async publishBatch(ref: string, items: readonly ItemInput[]): Promise<PublishSummary> {
    const { handle, config } = await this.#market(ref)
    const { published, shards } = await this.catalog.publish(handle, config, items)
    return { marketplace: handle.url, published, shards }
  }

  /** A new version of this hub's item with `changes` applied (null removes a field). */
  async update(ref: string, itemId: string, changes: Record<string, unknown>): Promise<ItemView> {
    const { handle, config } = await this.#market(ref)
    return this.#itemView(handle.documentId, config, await this.catalog.update(handle, config, itemId, changes))
  }

  /** Withdraws this hub's item (a new version marked withdrawn). */
  async withdraw(ref: string, itemId: string): Promise<ItemView> {
    const { handle, config } = await this.#market(ref)
    return this.#itemView(handle.documentId, config, await this.catalog.withdraw(handle, config, itemId))
  }

  /** A curator approves (or holds back) an item. */
  async approve(ref: string, globalId: string, approved = true): Promise<ItemView> {
    const { handle, config } = await this.#market(ref)
    const entry = this.#entry(handle.documentId, globalId, { pending: true })
    await this.trade.approve(handle, config, entry.globalId, approved)
    return this.#itemView(handle.documentId, config, entry)
  }

  /** One item with its derived ratings and sales. NOT_FOUND when this hub holds no verified, visible version. */
  async item(ref: string, globalId: string): Promise<ItemView> {
    const { handle, config } = await this.#market(ref)
    return this.#itemView(handle.documentId, config, this.#entry(handle.documentId, globalId, { pending: true, withdrawn: true }))
  }

  /** The catalog as this hub verified it: items (searched, filtered, sorted, paged), shards, pending and rejected items. */
  async catalogOf(ref: string, query: unknown = {}): Promise<CatalogView> {
    const { handle, config } = await this.#market(ref)
    const marketId = handle.documentId
    const page = this.#index(marketId, config).search(query)
    const shown = CatalogService.approvedBy(config, this.trade.approvals(marketId), marketId)
    const pending: string[] = []
    if (config.catalog.curationPolicy.requiresApproval)
      for (const e of this.catalog.entries(marketId).values()) if (!e.item.withdrawn && !shown(e)) pending.push(e.globalId)
    return {
      marketplace: handle.url,
      total: page.total,
      offset: page.offset,
      limit: page.limit,
      items: page.items.map(h => ({
        globalId: h.globalId,
        itemId: h.itemId,
        origin: h.origin,
        version: h.version,
        type: h.type,
        title: h.title,
        category: h.category ?? null,
        price: h.pricing.price,
        currency: h.pricing.currency,
        overallRating: h.overallRating,
        ratingCount: h.ratingCount,
        score: h.score,
      })),
      pending,
      shards: this.catalog.shards(marketId),
      rejected: this.catalog.rejected(marketId, this.#refusedChanges),
    }
  }

  /**
   * The marketplace's search index: built from the verified catalog on first use, then kept
   * current by the catalog's item deltas (patches of the shards that changed), and by the
   * ratings and approvals when an activity document changed.
   */
  #index(marketId: string, config: MarketplaceConfig): CatalogIndex {
    let s = this.#indexes.get(marketId)
    const shown = CatalogService.approvedBy(config, this.trade.approvals(marketId), marketId)
    if (!s || s.curationDirty) {
      const index = new CatalogIndex()
      index.upsertMany([...this.catalog.entries(marketId).values()].filter(e => !e.item.withdrawn && shown(e)).map(e => e.item))
      s = { index, ratings: new Map(), ratingsDirty: true, curationDirty: false }
      this.#indexes.set(marketId, s)
    }
    if (s.ratingsDirty) {
      const now = this.trade.ratingsByItem(marketId, config)
      for (const [gid, r] of now) {
        const held = s.ratings.get(gid)
        if ((!held || held.overallRating !== r.overallRating || held.ratingCount !== r.ratingCount) && s.index.has(gid)) s.index.setRating(gid, r)
      }
      for (const gid of s.ratings.keys()) if (!now.has(gid) && s.index.has(gid)) s.index.setRating(gid, { overallRating: 0, ratingCount: 0 })
      s.ratings = new Map([...now].map(([g, r]) => [g, { overallRating: r.overallRating, ratingCount: r.ratingCount }]))
      s.ratingsDirty = false
    }
    s.shown = shown
    s.curated = config.catalog.curationPolicy.requiresApproval
    return s.index
  }

  /** A shard change: the index follows it item by item (a global id is built only when curation or ratings need it). */
  #indexItems(marketId: string, upserted: readonly MarketItem[], removed: readonly string[]): void {
    const s = this.#indexes.get(marketId)
    if (!s) return
    for (const gid of removed) {
      s.index.remove(gid)
      // the item may live on in another shard (its licence moved it)
      const moved = this.catalog.entry(marketId, gid)
      if (moved && !moved.item.withdrawn && (s.shown?.(moved) ?? true)) s.index.upsert(moved.item)
    }
    const fresh: MarketItem[] = []
    const rated: string[] = []
    const plain = !s.curated && s.ratings.size === 0
    for (const item of upserted) {
      if (plain && !item.withdrawn) {
        fresh.push(item)
        continue
      }
      const globalId = globalIdOf(item.originNodeId, item.itemId)
      if (item.withdrawn || !(s.shown?.({ item, globalId }) ?? true)) s.index.remove(globalId)
      else {
        fresh.push(item)
        if (s.ratings.has(globalId)) rated.push(globalId)
      }
    }
    // one batch: a large one (a shard arriving) re-sorts the orders once instead of inserting into them
    s.index.upsertMany(fresh)
    for (const gid of rated) s.index.setRating(gid, s.ratings.get(gid)!)
  }

  /** Rates an item as this hub (1–5 stars in halves). */
  async rate(ref: string, globalId: string, stars: number, comment?: string): Promise<ItemView> {
    const { handle, config } = await this.#market(ref)
    const entry = this.#entry(handle.documentId, globalId)
    await this.trade.rate(handle, config, entry, stars, comment)
    return this.#itemView(handle.documentId, config, entry)
  }

  /** Buys an item as this hub (idempotent: buying it again returns the first purchase). */
  async buy(ref: string, globalId: string, opts: BuyOptions = {}): Promise<{ purchaseId: string; repeated: boolean; item: ItemView; balance: number }> {
    const { handle, config } = await this.#market(ref)
    const entry = this.#entry(handle.documentId, globalId)
    const r = await this.trade.buy(handle, config, entry, opts)
    return { purchaseId: r.purchaseId, repeated: r.repeated, item: this.#itemView(handle.documentId, config, entry), balance: this.trade.ledger(handle.documentId).balances[this.#self] ?? 0 }
  }

  /** The ledger every replica holding the same records computes. */
  async ledger(ref: string): Promise<MarketLedger & { marketplace: string }> {
    const { handle } = await this.#market(ref)
    return { marketplace: handle.url, ...this.trade.ledger(handle.documentId) }
  }

  /** What the ledger folds against: the valid config, the owner and the participants. */
  #ledgerContext(marketId: string): { config: MarketplaceConfig; owner: NodeId; participants: NodeId[] } | undefined {
    const handle = this.#repo.handles[marketId as DocumentId] as DocHandle<MarketDoc> | undefined
    const owner = this.#policies.effective(marketId)?.owner
    if (!handle?.isReady() || !owner) return undefined
    const raw = parse(str(handle.doc().config))
    if (raw === undefined || marketplaceConfigProblems(raw).length > 0) return undefined
    return { config: raw as MarketplaceConfig, owner, participants: this.#participantsOf(marketId) }
  }

  /** The owner grants credits to a node. */
  async grant(ref: string, to: string, amount: number, reason?: string): Promise<{ grantId: string; to: string; amount: number; balance: number }> {
    const { handle } = await this.#market(ref)
    if (!isNodeId(to)) throw new FedhubError("BAD_NODE_ID", `${JSON.stringify(to)} is not a node id`)
    const g = await this.trade.grant(handle, to, amount, reason)
    return { grantId: g.id, to, amount, balance: this.trade.ledger(handle.documentId).balances[to] ?? 0 }
  }

  /** The buyer opens a dispute on one of its credit purchases. */
  async dispute(ref: string, purchaseId: string, reason: string) {
    const { handle } = await this.#market(ref)
    return this.trade.dispute(handle, purchaseId, reason)
  }

  /** An arbitrator votes on a dispute. */
  async disputeVote(ref: string, disputeId: string, outcome: "refund_buyer" | "pay_seller", reason?: string) {
    const { handle } = await this.#market(ref)
    return this.trade.disputeVote(handle, disputeId, outcome, reason)
  }

  /** The marketplace's metadata as its admins edited it: effective values, conflicts, refused edits. */
  async conflicts(ref: string): Promise<MetadataView & { marketplace: string }> {
    const handle = await this.#findMarket(ref)
    return { marketplace: handle.url, ...metadataView(handle.doc().meta, this.#adminsOf(handle.documentId), { marketplaceId: handle.documentId }) }
  }

  /**
   * An owner or admin sets a metadata field (name, description, …); with `resolve`, the
   * value must be one of the field's conflicting values, and the edit supersedes them all.
   */
  async edit(ref: string, field: string, value: MetadataValue, opts: { resolve?: boolean } = {}): Promise<MetadataView & { marketplace: string }> {
    const handle = await this.#findMarket(ref)
    if (!this.#adminsOf(handle.documentId).includes(this.#self))
      throw new FedhubError("NOT_AN_ADMIN", `${this.#self} is not the owner or an admin of ${handle.url}`)
    const view = metadataView(handle.doc().meta, this.#adminsOf(handle.documentId), { marketplaceId: handle.documentId })
    const conflict = view.conflicts.find(c => c.field === field)
    if (opts.resolve && !conflict) throw new FedhubError("NOT_FOUND", `${field} has no conflict to resolve`)
    const now = Math.max(this.#now(), ...(view.setBy[field] ? [view.setBy[field].time + 1] : []))
    const edit = opts.resolve ? resolveEdit(this.#identity, handle.documentId, conflict!, value, now) : signMetadataEdit(this.#identity, { marketplaceId: handle.documentId, field, value, time: now })
    this.#authorship.adopt(handle)
    handle.change(
      d => {
        d.meta ??= {}
        putMetadataEdit(d.meta as Record<string, unknown>, edit)
      },
      { message: `${opts.resolve ? "resolve" : "set"} ${field} (by ${this.#self})` },
    )
    this.#authorship.signLatest(handle)
    await this.#repo.flush([handle.documentId])
    this.events.emit("updated", handle.documentId)
    return this.conflicts(ref)
  }

  /** Who may edit metadata: the owner and the policy's admins. */
  #adminsOf(documentId: string): NodeId[] {
    const p = this.#policies.effective(documentId)
    return p ? [p.owner, ...p.admins] : []
  }

  #entry(marketId: string, globalId: string, allow: { pending?: boolean; withdrawn?: boolean } = {}): CatalogEntry {
    const entry = this.catalog.entry(marketId, globalId)
    if (!entry) throw new FedhubError("NOT_FOUND", `no verified item ${globalId} in this hub's view of ${marketId}`)
    if (entry.item.withdrawn && !allow.withdrawn) throw new FedhubError("NOT_FOUND", `${globalId} is withdrawn`)
    return entry
  }

  #itemView(marketId: string, config: MarketplaceConfig, entry: CatalogEntry): ItemView {
    return this.#itemViews(marketId, config, [entry])[0]!
  }

  /** Views of several items, the ledger and the curation decisions computed once. */
  #itemViews(marketId: string, config: MarketplaceConfig, entries: readonly CatalogEntry[], opts: { ratingsByItem?: boolean } = {}): ItemView[] {
    const ledger = this.trade.ledger(marketId)
    const shown = CatalogService.approvedBy(config, this.trade.approvals(marketId), marketId)
    const sales = new Map<string, number>()
    for (const e of ledger.applied) sales.set(e.purchase.payload.itemGlobalId, (sales.get(e.purchase.payload.itemGlobalId) ?? 0) + 1)
    // many views: the ratings grouped by item once (one item's view reads every rating, each signature checked)
    const byItem = opts.ratingsByItem ? this.trade.ratingsByItem(marketId, config, ledger) : undefined
    const ratingsOf = (gid: string): ItemRatings => (byItem ? (byItem.get(gid) ?? { overallRating: 0, ratingCount: 0, nodeRatings: [], refused: [] }) : this.trade.ratings(marketId, config, gid, ledger))
    return entries.map(entry => ({ ...entry, approved: shown(entry), ratings: ratingsOf(entry.globalId), sales: sales.get(entry.globalId) ?? 0 }))
  }

  // ---- helpers

  #ctx() {
    return { repo: this.#repo, identity: this.#identity, policies: this.#policies, authorship: this.#authorship }
  }

  /** The participants: the owner, admins and writers of the owner-signed policy, sorted. */
  #participantsOf(documentId: string): NodeId[] {
    const p = this.#policies.effective(documentId)
    if (!p) return []
    return [...new Set<NodeId>([p.owner, ...p.admins, ...p.writers])].sort()
  }

  #ownerOf(documentId: string): string | undefined {
    return this.#policies.effective(documentId)?.owner
  }

  /** The marketplace at `ref`: NOT_A_READER by its policy, DOC_NOT_FOUND when no peer has it, NOT_A_MARKETPLACE otherwise. */
  async #findMarket(ref: string): Promise<DocHandle<MarketDoc>> {
    const { documentId, url } = parseDocRef(ref)
    if (this.#policies.has(documentId)) assertMayRead(this.#policies.effective(documentId), this.#self)
    let handle: DocHandle<MarketDoc>
    try {
      handle = await this.#repo.find<MarketDoc>(documentId as DocumentId, { signal: AbortSignal.timeout(this.#findTimeoutMs) })
    } catch (e) {
      throw new FedhubError("DOC_NOT_FOUND", `marketplace ${documentId} is not here and no peer has it (${(e as Error).message})`)
    }
    if (str(handle.doc().kind) !== MARKETPLACE_KIND) throw new FedhubError("NOT_A_MARKETPLACE", `${url} is not a marketplace document`)
    this.#watch(handle)
    return handle
  }
}
