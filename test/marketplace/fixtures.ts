/** Shared builders for the marketplace tests: a few identities and record makers. */
import { Identity } from "../../src/identity/index.ts"
import type { Purchase } from "../../src/schema/index.ts"

export const alice = Identity.generate("alice")
export const bob = Identity.generate("bob")
export const carol = Identity.generate("carol")
export const dave = Identity.generate("dave")
export const MARKET = "2uZ8fxkEMSPdBLcXhT5VGqpeWbY1"
export const T0 = 1_760_000_000_000

/** A credits purchase by `buyer` of `seller`'s item, with the seed's fee terms. */
export const purchase = (buyer: Identity, seller: Identity, sequence: number, price: number, extra: Partial<Purchase> = {}): Purchase => ({
  marketplaceId: MARKET,
  buyer: buyer.nodeId,
  sequence,
  itemGlobalId: `${seller.nodeId}:item-1`,
  itemVersion: 1,
  itemChecksum: "a".repeat(64),
  seller: seller.nodeId,
  price,
  currency: "credits",
  paymentMethod: "credits",
  terms: { transactionFeePercentage: 5, crossNodeFeePercentage: 2, revenueSharing: { creator: 70, marketplace: 20, network: 10 } },
  ...extra,
})
