/**
 * The revenue split of one sale, in integer minor units, so the parts always add
 * up exactly to the price on every replica.
 *
 * Rule: the transaction fee (to the marketplace) and, for a cross-node sale, the
 * cross-node fee (to the network) are floor(price × percent / 100); what remains
 * (net) is shared creator / marketplace / network by the largest-remainder method:
 * each share is floor(net × percent / 100), and the 0–2 units left over go one each
 * to the largest fractional remainders, ties to creator, then marketplace, then network.
 */
import { FedhubError } from "../errors.ts"
import type { FeeStructure, RevenueSharing } from "../schema/index.ts"

/** Where each minor unit of a price goes. `creator + marketplace + network === price`. */
export interface Split {
  price: number
  transactionFee: number
  crossNodeFee: number
  /** price − fees: what revenue sharing divides. */
  net: number
  /** Totals per account, fees included. */
  creator: number
  marketplace: number
  network: number
}

/** The fee percentages a split needs (FeeStructure without the listing fee). */
export type SaleFees = Pick<FeeStructure, "transactionFeePercentage" | "crossNodeFeePercentage">

const pct = (v: unknown, what: string): bigint => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 100)
    throw new FedhubError("INVALID_INPUT", `${what} is a whole percent 0-100 (got ${String(v)})`)
  return BigInt(v)
}

/**
 * Splits `price` (a non-negative safe integer of minor units) by `fees` and
 * `sharing` (which must sum to 100); `crossNode` says buyer and seller differ.
 */
export function splitPrice(price: number, fees: SaleFees, sharing: RevenueSharing, crossNode = false): Split {
  if (!Number.isSafeInteger(price) || price < 0)
    throw new FedhubError("INVALID_INPUT", `a price is a non-negative integer of minor units (got ${String(price)})`)
  const tx = pct(fees.transactionFeePercentage, "transactionFeePercentage")
  const cross = crossNode ? pct(fees.crossNodeFeePercentage, "crossNodeFeePercentage") : 0n
  if (tx + cross > 100n) throw new FedhubError("INVALID_INPUT", "the fees add up to more than 100%")
  const shares = [pct(sharing.creator, "creator"), pct(sharing.marketplace, "marketplace"), pct(sharing.network, "network")]
  if (shares[0]! + shares[1]! + shares[2]! !== 100n)
    throw new FedhubError("INVALID_INPUT", "revenue sharing must add up to 100%")
  const p = BigInt(price)
  const transactionFee = (p * tx) / 100n
  const crossNodeFee = (p * cross) / 100n
  const net = p - transactionFee - crossNodeFee
  const parts = shares.map((s) => ({ floor: (net * s) / 100n, rem: (net * s) % 100n }))
  let left = net - parts.reduce((sum, x) => sum + x.floor, 0n)
  // largest remainder first; Array.prototype.sort is stable, so ties keep creator, marketplace, network
  const order = [0, 1, 2].sort((a, b) => (parts[b]!.rem > parts[a]!.rem ? 1 : parts[b]!.rem < parts[a]!.rem ? -1 : 0))
  for (const i of order) {
    if (left === 0n) break
    parts[i]!.floor += 1n
    left -= 1n
  }
  const [c, m, n] = parts.map((x) => x.floor) as [bigint, bigint, bigint]
  return {
    price,
    transactionFee: Number(transactionFee),
    crossNodeFee: Number(crossNodeFee),
    net: Number(net),
    creator: Number(c),
    marketplace: Number(m + transactionFee),
    network: Number(n + crossNodeFee),
  }
}
