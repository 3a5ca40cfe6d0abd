/**
 * Ratings of one item, derived from the signed ratings a replica holds: one per
 * rating node (its latest by signed time; ties: the greater envelope id), 1–5
 * stars in halves (carried as integer half stars, 2…10), `requirePurchase`
 * enforced against the ledger, hidden by moderation. `overallRating` and
 * `ratingCount` are computed here, never stored as a racing counter.
 */
import { FedhubError } from "../errors.ts"
import { type Identity, type NodeId, signEnvelope, type SignedEnvelope } from "../identity/index.ts"
import type { MarketplaceConfig, Rating, RatingModeration } from "../schema/index.ts"
import type { LedgerEntry } from "./ledger.ts"
import { byCodeUnit, MARKET_PURPOSE, openEach, openSigned } from "./signed.ts"

/** Signs `rater`'s rating of an item: `stars` is 1–5 in steps of 0.5. */
export function signRating(rater: Identity, marketplaceId: string, itemGlobalId: string, stars: number, comment?: string, time?: number): SignedEnvelope<Rating> {
  const halfStars = stars * 2
  if (!Number.isInteger(halfStars) || halfStars < 2 || halfStars > 10)
    throw new FedhubError("RATING_INVALID", `a rating is 1 to 5 stars in halves (got ${stars})`)
  const payload: Rating = { marketplaceId, itemGlobalId, halfStars, ...(comment === undefined ? {} : { comment }) }
  return signEnvelope(rater, MARKET_PURPOSE.rating, payload, time)
}

/** Signs a moderation decision hiding (or showing again) the rating `ratingId`. */
export function signModeration(moderator: Identity, marketplaceId: string, ratingId: string, hidden: boolean, time?: number): SignedEnvelope<RatingModeration> {
  return signEnvelope(moderator, MARKET_PURPOSE.ratingModeration, { marketplaceId, ratingId, hidden }, time)
}

/** One node's counted rating. */
export interface NodeRating {
  rater: NodeId
  stars: number
  id: string
  hidden: boolean
  rating: SignedEnvelope<Rating>
}
/** The derived quality of one item. */
export interface ItemRatings {
  /** Mean stars of the visible ratings (0 when none). */
  overallRating: number
  ratingCount: number
  /** Per rater, sorted by rater; hidden ones included with hidden: true. */
  nodeRatings: NodeRating[]
  refused: { id: string; reason: string }[]
}

/** What ratingsOf needs besides the ratings: the ledger's purchases and the moderation records. */
export interface RatingContext {
  marketplaceId: string
  /** Applied and external purchases (`ledgerOf(...).applied` and `.external`). */
  purchases: readonly LedgerEntry[]
  moderations?: readonly unknown[]
}

/** The ratings of item `itemGlobalId` under `config`, from untrusted signed ratings in any order. */
export function ratingsOf(config: MarketplaceConfig, itemGlobalId: string, ratings: readonly unknown[], ctx: RatingContext): ItemRatings {
  const rs = config.quality.ratingSystem
  const origin = itemGlobalId.slice(0, itemGlobalId.indexOf(":"))
  const buyers = new Set(ctx.purchases.filter((e) => e.purchase.payload.itemGlobalId === itemGlobalId).map((e) => e.purchase.payload.buyer))
  const refused: { id: string; reason: string }[] = []
  const latest = new Map<string, { env: SignedEnvelope<Rating>; id: string }>()
  for (const r of openEach(ratings, MARKET_PURPOSE.rating, "marketplace#Rating", (id, reason) => refused.push({ id, reason }))) {
    const key = r.id
    const p = r.env.payload
    const rater = r.env.signer
    if (p.itemGlobalId !== itemGlobalId) continue // another item's rating: not this view's business
    if (p.marketplaceId !== ctx.marketplaceId) refused.push({ id: key, reason: "a rating in another marketplace" })
    else if (rater === origin) refused.push({ id: key, reason: "the origin cannot rate its own item" })
    else if (!rs.allowHalfRatings && p.halfStars % 2 !== 0) refused.push({ id: key, reason: "this marketplace takes whole stars only" })
    else if (rs.requirePurchase && !buyers.has(rater)) refused.push({ id: key, reason: "the rater has not bought the item" })
    else {
      const held = latest.get(rater)
      if (!held || r.env.time > held.env.time || (r.env.time === held.env.time && r.id > held.id)) latest.set(rater, { env: r.env, id: r.id })
    }
  }
  // moderation: the latest decision (time, then id) by the creator or a curator
  const moderators = new Set<string>([config.creator, ...config.catalog.curationPolicy.curators])
  const decision = new Map<string, { hidden: boolean; time: number; id: string }>()
  if (rs.moderationEnabled)
    for (const value of ctx.moderations ?? []) {
      const m = openSigned(value, MARKET_PURPOSE.ratingModeration, "marketplace#RatingModeration")
      if (!m.ok || !moderators.has(m.env.signer) || m.env.payload.marketplaceId !== ctx.marketplaceId) continue
      const held = decision.get(m.env.payload.ratingId)
      if (!held || m.env.time > held.time || (m.env.time === held.time && m.id > held.id))
        decision.set(m.env.payload.ratingId, { hidden: m.env.payload.hidden, time: m.env.time, id: m.id })
    }
  const nodeRatings = [...latest.entries()]
    .map(([rater, { env, id }]) => ({ rater: rater as NodeId, stars: env.payload.halfStars / 2, id, hidden: decision.get(id)?.hidden === true, rating: env }))
    .sort((a, b) => byCodeUnit(a.rater, b.rater))
  const visible = nodeRatings.filter((r) => !r.hidden)
  const halfSum = visible.reduce((s, r) => s + r.rating.payload.halfStars, 0)
  refused.sort((a, b) => byCodeUnit(a.id, b.id))
  return { overallRating: visible.length === 0 ? 0 : halfSum / 2 / visible.length, ratingCount: visible.length, nodeRatings, refused }
}
