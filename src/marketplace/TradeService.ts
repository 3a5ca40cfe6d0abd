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
import type { ItemApproval, MarketplaceConfig, Purchase } from "../schema/index.ts"
import type { CatalogEntry } from "./CatalogService.ts"
import { ledgerOf, purchaseIdOf, signPurchase, type Ledger } from "./ledger.ts"
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

  /** The ledger every replica holding the same records computes. */
  ledger(marketId: string): Ledger {
    return ledgerOf(this.#own(marketId, "purchases"))
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

  #purchasesOf(marketId: string) {
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
    const after = ledgerOf([...this.#own(marketId, "purchases"), purchase])
    const refused = after.refused.find(r => r.id === id)
    if (refused) throw new FedhubError(refused.code, refused.reason)
    await this.put(market, "purchases", id, purchase)
    return { purchaseId: id, purchase, repeated: false }
  }
}
