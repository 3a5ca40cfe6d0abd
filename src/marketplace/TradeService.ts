/**
 * Ratings, purchases, curator approvals and moderation across hubs. Each participant
 * writes its signed records only into its own activity document (rule 3, enforced by
 * the write control: nobody else can change them); every hub folds the records of all
 * activity documents it holds with the pure functions (ledger.ts, ratings.ts), so every
 * replica holding the same records shows the same ledger and ratings.
 */
import type { DocHandle } from "@automerge/automerge-repo"
import { FedhubError } from "../errors.ts"
import { canonicalJson, signEnvelope, type Identity, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import { assertMayWrite } from "../replication/access/policy.ts"
import type { Authorship } from "../replication/Authorship.ts"
import type { PolicyStore } from "../replication/PolicyStore.ts"
import type { DisputeOutcome, ItemApproval, MarketplaceConfig, Purchase } from "../schema/index.ts"
import type { CatalogEntry } from "./CatalogService.ts"
import { randomBytes } from "node:crypto"
import { disputeIdOf, signDispute, signDisputeVote, type DisputeDecision } from "./disputes.ts"
import { openGrants, signCreditGrant, type AcceptedGrant } from "./grants.ts"
import { ledgerOf, purchaseIdOf, signPurchase, type LedgerEntry } from "./ledger.ts"
import { marketLedgerOf, type MarketLedger } from "./marketLedger.ts"
import { ACTIVITY_KIND, ACTIVITY_SECTIONS, imm, parse, str, type ActivityDoc, type ActivitySection, type MarketDoc } from "./marketDocs.ts"
import type { MemberDocs } from "./MemberDocs.ts"
import { ratingsOf, signModeration, signRating, type ItemRatings } from "./ratings.ts"
import { MARKET_PURPOSE, openSigned } from "./signed.ts"

/** What trading needs of the hub. */
export interface TradeContext {
  identity: Identity
  policies: PolicyStore
  authorship: Authorship
  members: MemberDocs
  flush: (ids: string[]) => Promise<void>
  now: () => number
  /** The marketplace's config, owner and participants (what the ledger folds against), when it is held and valid. */
  market: (marketId: string) => { config: MarketplaceConfig; owner: NodeId; participants: NodeId[] } | undefined
}

/** A record found in an activity document that is not its owner's, and so not counted. */
export interface ForeignRecord {
  section: ActivitySection
  key: string
  owner: string
  reason: string
}

/** How a purchase is paid. */
export interface BuyOptions {
  paymentMethod?: Purchase["paymentMethod"]
  externalReference?: string
}

export class TradeService {
  readonly #ctx: TradeContext

  constructor(ctx: TradeContext) {
    this.#ctx = ctx
  }

  get #self(): NodeId {
    return this.#ctx.identity.nodeId
  }

  /** The records of one section across every activity document held, each signed by that document's owner. */
  records(marketId: string, section: ActivitySection): { owner: NodeId; key: string; value: unknown }[] {
    const out: { owner: NodeId; key: string; value: unknown }[] = []
    for (const m of this.#ctx.members.of<ActivityDoc>(marketId, ACTIVITY_KIND))
      for (const [key, v] of Object.entries(m.handle.doc()[section] ?? {})) out.push({ owner: m.owner, key, value: parse(str(v)) })
    return out
  }

  /** Records kept in an activity document whose owner did not sign them (never counted). */
  foreign(marketId: string): ForeignRecord[] {
    const out: ForeignRecord[] = []
    for (const section of ACTIVITY_SECTIONS)
      for (const r of this.records(marketId, section)) {
        const signer = (r.value as Partial<SignedEnvelope> | undefined)?.signer
        if (signer !== r.owner) out.push({ section, key: r.key, owner: r.owner, reason: `signed by ${String(signer)}, kept in the activity document of ${r.owner}` })
      }
    return out
  }

  /** The values of a section that their activity document's owner signed. */
  #own(marketId: string, section: ActivitySection): unknown[] {
    return this.records(marketId, section).filter(r => (r.value as Partial<SignedEnvelope> | undefined)?.signer === r.owner).map(r => r.value)
  }

  /** Writes one signed record of this hub into its activity document. */
  async put(market: DocHandle<MarketDoc>, section: ActivitySection, key: string, record: SignedEnvelope): Promise<void> {
    assertMayWrite(this.#ctx.policies.effective(market.documentId), this.#self)
    const handle = await this.#ctx.members.own<ActivityDoc>(market, ACTIVITY_KIND)
    this.#ctx.authorship.adopt(handle)
    handle.change(
      d => {
        d[section] ??= {}
        d[section][key] = imm(canonicalJson(record))
      },
      { message: `${section} ${key} (by ${this.#self})` },
    )
    this.#ctx.authorship.signLatest(handle)
    await this.#ctx.flush([handle.documentId])
  }

  /** The ledger every replica holding the same records computes: grants, purchases, disputes and their refunds. */
  ledger(marketId: string, extraPurchases: readonly unknown[] = []): MarketLedger {
    const m = this.#ctx.market(marketId)
    const purchases = [...this.#own(marketId, "purchases"), ...extraPurchases]
    if (!m) return { ...ledgerOf(purchases), minted: 0, grants: [], refusedGrants: [], disputes: [], refusedDisputes: [], refusedDisputeVotes: [], refunds: [] }
    return marketLedgerOf({
      marketplaceId: marketId,
      owner: m.owner,
      config: m.config,
      participants: m.participants,
      // grants count only from the owner's own activity document (and signed by it: the fold checks)
      grants: this.records(marketId, "grants").filter(r => r.owner === m.owner).map(r => r.value),
      purchases,
      disputes: this.#own(marketId, "disputes"),
      disputeVotes: this.#own(marketId, "disputeVotes"),
      now: this.#ctx.now(),
    })
  }

  /** The owner grants credits to a node (where credits, and so stakes, come from). */
  async grant(market: DocHandle<MarketDoc>, to: NodeId, amount: number, reason?: string): Promise<AcceptedGrant> {
    const m = this.#ctx.market(market.documentId)
    if (m?.owner !== this.#self) throw new FedhubError("FORBIDDEN", "only the marketplace's owner grants credits")
    const grantId = `${this.#ctx.now()}-${randomBytes(4).toString("hex")}`
    const env = signCreditGrant(this.#ctx.identity, { marketplaceId: market.documentId, to, amount, grantId, ...(reason === undefined ? {} : { reason }) }, this.#ctx.now())
    const check = openGrants([env], this.#self, market.documentId, 0)
    if (check.refused.length > 0) throw new FedhubError("GRANT_INVALID", check.refused[0]!.reason)
    await this.put(market, "grants", check.accepted[0]!.id, env)
    return check.accepted[0]!
  }

  /** The buyer opens a dispute on one of its credit purchases. */
  async dispute(market: DocHandle<MarketDoc>, purchaseId: string, reason: string): Promise<DisputeDecision> {
    const ledger = this.ledger(market.documentId)
    const entry = ledger.applied.find(e => e.id === purchaseId)
    if (!entry) throw new FedhubError("NOT_FOUND", `no credit purchase ${purchaseId} applied in this ledger`)
    if (entry.purchase.payload.buyer !== this.#self) throw new FedhubError("DISPUTE_INVALID", "a dispute is opened by the purchase's buyer")
    const env = signDispute(this.#ctx.identity, entry.purchase, reason, this.#ctx.now())
    const id = disputeIdOf(env.payload)
    await this.put(market, "disputes", id, env)
    return this.ledger(market.documentId).disputes.find(d => d.disputeId === id) ?? this.#refusedDispute(market.documentId, id)
  }

  /** An arbitrator (or, under community, a participant) votes on a dispute. */
  async disputeVote(market: DocHandle<MarketDoc>, disputeId: string, outcome: DisputeOutcome, reason?: string): Promise<DisputeDecision> {
    const decision = this.ledger(market.documentId).disputes.find(d => d.disputeId === disputeId)
    if (!decision?.dispute) throw new FedhubError("NOT_FOUND", `no open dispute ${disputeId} in this ledger`)
    if (decision.status !== "open") throw new FedhubError("DISPUTE_VOTE_INVALID", `the dispute is ${decision.status} already`)
    if (!decision.eligible.includes(this.#self)) throw new FedhubError("DISPUTE_VOTE_INVALID", `${this.#self} may not vote on this dispute (voters: ${decision.eligible.join(", ") || "none"})`)
    const vote = signDisputeVote(this.#ctx.identity, decision.dispute, outcome, { ...(reason === undefined ? {} : { reason }), time: this.#ctx.now() })
    await this.put(market, "disputeVotes", `${disputeId}:${this.#self}`, vote)
    return this.ledger(market.documentId).disputes.find(d => d.disputeId === disputeId)!
  }

  #refusedDispute(marketId: string, id: string): DisputeDecision {
    const refused = this.ledger(marketId).refusedDisputes.find(r => r.id === id)
    throw new FedhubError("DISPUTE_INVALID", refused?.reason ?? `dispute ${id} does not count`)
  }

  /** The derived ratings of an item. */
  ratings(marketId: string, config: MarketplaceConfig, globalId: string, ledger = this.ledger(marketId)): ItemRatings {
    return ratingsOf(config, globalId, this.#own(marketId, "ratings"), {
      marketplaceId: marketId,
      purchases: [...ledger.applied, ...ledger.external],
      moderations: this.#own(marketId, "moderations"),
    })
  }

  /** The derived ratings of every rated item (an item missing here has none), the ledger and the ratings read once. */
  ratingsByItem(marketId: string, config: MarketplaceConfig, ledger = this.ledger(marketId)): Map<string, ItemRatings> {
    const byItem = new Map<string, unknown[]>()
    for (const value of this.#own(marketId, "ratings")) {
      const gid = (value as { payload?: { itemGlobalId?: unknown } } | undefined)?.payload?.itemGlobalId
      if (typeof gid === "string") byItem.set(gid, [...(byItem.get(gid) ?? []), value])
    }
    const ctx = { marketplaceId: marketId, purchases: [...ledger.applied, ...ledger.external], moderations: this.#own(marketId, "moderations") }
    return new Map([...byItem].map(([gid, ratings]) => [gid, ratingsOf(config, gid, ratings, ctx)]))
  }

  /** Approval decisions by curators (signed, any order). */
  approvals(marketId: string): unknown[] {
    return this.#own(marketId, "approvals")
  }

  /** Rates an item as this hub (stars 1–5 in halves); RATING_INVALID says why it would not count. */
  async rate(market: DocHandle<MarketDoc>, config: MarketplaceConfig, entry: CatalogEntry, stars: number, comment?: string): Promise<ItemRatings> {
    const halfStars = stars * 2
    if (!Number.isInteger(halfStars) || halfStars < 2 || halfStars > 10)
      throw new FedhubError("RATING_INVALID", `a rating is 1 to 5 stars in halves (got ${String(stars)})`)
    const rating = signRating(this.#ctx.identity, market.documentId, entry.globalId, stars, comment, this.#ctx.now())
    // what every replica would decide: refuse now what would never count
    const check = ratingsOf(config, entry.globalId, [rating], { marketplaceId: market.documentId, purchases: this.#purchasesOf(market.documentId) })
    if (check.refused.length > 0) throw new FedhubError("RATING_INVALID", check.refused[0]!.reason)
    await this.put(market, "ratings", entry.globalId, rating)
    return this.ratings(market.documentId, config, entry.globalId)
  }

  #purchasesOf(marketId: string): LedgerEntry[] {
    const l = this.ledger(marketId)
    return [...l.applied, ...l.external]
  }

  /** Hides or shows a rating (creator or curators, when moderation is on). */
  async moderate(market: DocHandle<MarketDoc>, config: MarketplaceConfig, ratingId: string, hidden: boolean): Promise<void> {
    if (!config.quality.ratingSystem.moderationEnabled) throw new FedhubError("FORBIDDEN", "rating moderation is off in this marketplace")
    if (config.creator !== this.#self && !config.catalog.curationPolicy.curators.includes(this.#self))
      throw new FedhubError("FORBIDDEN", "only the creator and the curators moderate ratings")
    await this.put(market, "moderations", ratingId, signModeration(this.#ctx.identity, market.documentId, ratingId, hidden, this.#ctx.now()))
  }

  /** Approves (or holds back) an item as a curator. */
  async approve(market: DocHandle<MarketDoc>, config: MarketplaceConfig, globalId: string, approved: boolean): Promise<void> {
    if (config.creator !== this.#self && !config.catalog.curationPolicy.curators.includes(this.#self))
      throw new FedhubError("FORBIDDEN", "only the creator and the curators approve items")
    const payload: ItemApproval = { marketplaceId: market.documentId, itemGlobalId: globalId, approved }
    await this.put(market, "approvals", globalId, signEnvelope(this.#ctx.identity, MARKET_PURPOSE.itemApproval, payload, this.#ctx.now()))
  }

  /**
   * Buys an item as this hub: a signed purchase numbered by this hub's purchase sequence.
   * Buying an item this hub already bought returns that purchase (idempotent); one the
   * ledger would refuse (INSUFFICIENT_FUNDS, …) is refused before anything is written.
   */
  async buy(market: DocHandle<MarketDoc>, config: MarketplaceConfig, entry: CatalogEntry, opts: BuyOptions = {}): Promise<{ purchaseId: string; purchase: SignedEnvelope<Purchase>; repeated: boolean }> {
    const marketId = market.documentId
    if (entry.item.withdrawn) throw new FedhubError("INVALID_INPUT", `${entry.globalId} is withdrawn`)
    if (entry.item.originNodeId === this.#self) throw new FedhubError("INVALID_INPUT", "a hub does not buy its own item")
    const ledger = this.ledger(marketId)
    const mine = [...ledger.applied, ...ledger.external].find(e => e.purchase.payload.buyer === this.#self && e.purchase.payload.itemGlobalId === entry.globalId)
    if (mine) return { purchaseId: mine.id, purchase: mine.purchase, repeated: true }
    const method = opts.paymentMethod ?? (entry.item.pricing.currency === "credits" ? "credits" : undefined)
    if (!method) throw new FedhubError("INVALID_INPUT", `${entry.item.pricing.currency} is paid outside: give a payment method and an external reference`)
    if (!config.economics.paymentMethods.includes(method)) throw new FedhubError("INVALID_INPUT", `this marketplace does not take ${method}`)
    const own = this.#own(marketId, "purchases")
      .map(v => openSigned(v, MARKET_PURPOSE.purchase, "marketplace#Purchase", "buyer"))
      .filter(o => o.ok && o.env.signer === this.#self)
    const sequence = own.reduce((n, o) => Math.max(n, o.ok ? o.env.payload.sequence : 0), 0) + 1
    const fees = config.economics.feeStructure
    const payload: Purchase = {
      marketplaceId: marketId,
      buyer: this.#self,
      sequence,
      itemGlobalId: entry.globalId,
      itemVersion: entry.item.version,
      itemChecksum: entry.checksum,
      seller: entry.item.originNodeId,
      price: entry.item.pricing.price,
      currency: entry.item.pricing.currency,
      paymentMethod: method,
      ...(opts.externalReference === undefined ? {} : { externalReference: opts.externalReference }),
      terms: { transactionFeePercentage: fees.transactionFeePercentage, crossNodeFeePercentage: fees.crossNodeFeePercentage, revenueSharing: config.economics.revenueSharing },
    }
    const purchase = signPurchase(this.#ctx.identity, payload, this.#ctx.now())
    const id = purchaseIdOf(payload)
    const after = this.ledger(marketId, [purchase])
    const refused = after.refused.find(r => r.id === id)
    if (refused) throw new FedhubError(refused.code, refused.reason)
    await this.put(market, "purchases", id, purchase)
    return { purchaseId: id, purchase, repeated: false }
  }
}
