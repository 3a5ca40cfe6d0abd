import { describe, expect, it } from "vitest"
import { signEnvelope } from "../../src/identity/index.ts"
import { createMarketplaceConfig } from "../../src/marketplace/config.ts"
import { ledgerOf, signPurchase } from "../../src/marketplace/ledger.ts"
import { ratingsOf, signModeration, signRating } from "../../src/marketplace/ratings.ts"
import { alice, bob, carol, dave, MARKET, purchase, T0 } from "./fixtures.ts"

const ITEM = `${bob.nodeId}:item-1`
const cfg = (requirePurchase = false, allowHalfRatings = true) =>
  createMarketplaceConfig({ name: "M", creator: alice.nodeId, quality: { ratingSystem: { requirePurchase, allowHalfRatings } } }, T0)
const noPurchases = { marketplaceId: MARKET, purchases: [] }

describe("ratingsOf", () => {
  it("derives overallRating and ratingCount from one rating per node, the latest", () => {
    const r = ratingsOf(cfg(), ITEM, [
      signRating(carol, MARKET, ITEM, 2, undefined, T0),
      signRating(carol, MARKET, ITEM, 4.5, "better now", T0 + 10),
      signRating(dave, MARKET, ITEM, 3.5, undefined, T0 + 1),
      signRating(dave, MARKET, ITEM, 3.5, undefined, T0 + 1),
    ], noPurchases)
    expect(r.ratingCount).toBe(2)
    expect(r.overallRating).toBe(4)
    expect(r.nodeRatings.find((n) => n.rater === carol.nodeId)?.stars).toBe(4.5)
  })

  it("refuses a rating out of range, in whole-star marketplaces a half, and the origin's own", () => {
    expect(() => signRating(carol, MARKET, ITEM, 5.5)).toThrow(/RATING_INVALID/)
    const outOfRange = signEnvelope(carol, "fedhub/market-rating/v1", { marketplaceId: MARKET, itemGlobalId: ITEM, halfStars: 11 }, T0)
    const r = ratingsOf(cfg(false, false), ITEM, [outOfRange, signRating(dave, MARKET, ITEM, 2.5), signRating(bob, MARKET, ITEM, 5)], noPurchases)
    expect(r.ratingCount).toBe(0)
    const reasons = r.refused.map((x) => x.reason).join("\n")
    for (const re of [/halfStars/, /whole stars/, /cannot rate its own/]) expect(reasons).toMatch(re)
    expect(r.refused).toHaveLength(3)
  })

  it("enforces requirePurchase against the ledger", () => {
    const ledger = ledgerOf([signPurchase(carol, purchase(carol, bob, 1, 100), T0)], { [carol.nodeId]: 100 })
    const r = ratingsOf(cfg(true), ITEM, [signRating(carol, MARKET, ITEM, 5), signRating(dave, MARKET, ITEM, 1)], { marketplaceId: MARKET, purchases: ledger.applied })
    expect(r.ratingCount).toBe(1)
    expect(r.refused).toEqual([expect.objectContaining({ reason: "the rater has not bought the item" })])
  })

  it("hides a rating a moderator hid, ignoring moderation by others", () => {
    const rating = signRating(carol, MARKET, ITEM, 1, "spam", T0)
    const id = ratingsOf(cfg(), ITEM, [rating], noPurchases).nodeRatings[0]!.id
    const byCreator = signModeration(alice, MARKET, id, true, T0 + 1)
    const byStranger = signModeration(dave, MARKET, id, false, T0 + 2)
    const r = ratingsOf(cfg(), ITEM, [rating, signRating(dave, MARKET, ITEM, 5)], { ...noPurchases, moderations: [byCreator, byStranger] })
    expect(r.ratingCount).toBe(1)
    expect(r.overallRating).toBe(5)
    expect(r.nodeRatings.find((n) => n.rater === carol.nodeId)?.hidden).toBe(true)
  })
})
