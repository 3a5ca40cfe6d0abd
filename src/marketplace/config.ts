/**
 * Marketplace configuration: the seed's defaults, filled in under what the caller
 * gives, then checked (schema, then the rules a schema cannot say), answering a
 * bad config with ONE error that lists every problem.
 */
import { FedhubError } from "../errors.ts"
import type { MarketplaceConfig } from "../schema/index.ts"
import { schemaProblems } from "./schemaCheck.ts"

/** Every field optional, at every depth (arrays are replaced, not merged). */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T

/** What `createMarketplaceConfig` needs: at least a name and a creator. */
export type MarketplaceConfigInput = DeepPartial<MarketplaceConfig> & Pick<MarketplaceConfig, "name" | "creator">

/** The seed's defaults (integers only: its qualityThreshold 3.0 is 6 half stars). */
export function defaultMarketplaceConfig(now: number): Omit<MarketplaceConfig, "name" | "creator"> {
  return {
    description: "",
    visibility: "private",
    federation: {
      governanceModel: "distributed",
      consensusMechanism: {
        type: "proof_of_stake",
        parameters: { minimumStake: 100, votingPower: "stake_weighted", voteDeadlineHours: 168 },
      },
      disputeResolution: { mechanism: "arbitration", arbitrators: [], timeoutDays: 30, defaultOutcome: "refund_buyer" },
    },
    catalog: {
      categories: [],
      searchCapabilities: ["text_search", "category_filter", "rating_filter", "price_filter", "node_filter"],
      curationPolicy: { requiresApproval: false, qualityThresholdHalfStars: 6, moderationLevel: "community", curators: [] },
    },
    economics: {
      feeStructure: { listingFee: 0, transactionFeePercentage: 5, crossNodeFeePercentage: 2 },
      revenueSharing: { creator: 70, marketplace: 20, network: 10 },
      currencySupport: ["USD", "EUR", "credits"],
      paymentMethods: ["stripe", "paypal", "crypto", "credits"],
      crossNodePayments: true,
    },
    quality: {
      ratingSystem: { scale: "1-5", allowHalfRatings: true, requirePurchase: false, moderationEnabled: true },
      verificationProcess: { automated: true, humanReview: true, requiredChecks: ["security", "quality", "compliance"] },
      qualityStandards: { requiredFields: [], allowedLicenses: [], maxSizeBytes: 10_000_000, bannedPatterns: [] },
      trustMetrics: { calculateTrust: true, trustFactors: ["ratings", "sales", "node_reputation", "verification"] },
    },
    synchronization: { syncFrequency: 60, conflictResolution: "crdt_merge", dataConsistency: "eventual" },
    metadata: { createdAt: now, lastModified: now, version: "1.0.0", status: "active" },
  }
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype

/** `over` laid on `under`: plain objects merge key by key, anything else replaces. */
function merge(under: unknown, over: unknown): unknown {
  if (over === undefined) return structuredClone(under)
  if (!isPlain(under) || !isPlain(over)) return structuredClone(over)
  const out: Record<string, unknown> = {}
  for (const k of new Set([...Object.keys(under), ...Object.keys(over)])) out[k] = merge(under[k], over[k])
  return out
}

/** The rules a schema cannot say: shares and fees add up, patterns compile, categories form a tree. */
export function configRuleProblems(c: MarketplaceConfig): string[] {
  const out: string[] = []
  const rs = c.economics.revenueSharing
  if (rs.creator + rs.marketplace + rs.network !== 100)
    out.push(`/economics/revenueSharing must add up to 100 (got ${rs.creator + rs.marketplace + rs.network})`)
  const fs = c.economics.feeStructure
  if (fs.transactionFeePercentage + fs.crossNodeFeePercentage > 100)
    out.push("/economics/feeStructure: transaction and cross-node fees add up to more than 100%")
  if (!c.economics.currencySupport.includes("credits") && c.economics.paymentMethods.includes("credits"))
    out.push('/economics/paymentMethods holds "credits" but /economics/currencySupport does not')
  c.quality.qualityStandards.bannedPatterns.forEach((p, i) => {
    try {
      new RegExp(p, "iu")
    } catch (e) {
      out.push(`/quality/qualityStandards/bannedPatterns/${i} is not a valid regular expression: ${(e as Error).message}`)
    }
  })
  const ids = new Set<string>()
  c.catalog.categories.forEach((cat, i) => {
    if (ids.has(cat.id)) out.push(`/catalog/categories/${i}: category id "${cat.id}" is used twice`)
    ids.add(cat.id)
  })
  c.catalog.categories.forEach((cat, i) => {
    if (cat.parentId !== undefined && !ids.has(cat.parentId))
      out.push(`/catalog/categories/${i}: parent "${cat.parentId}" is not a category`)
  })
  if (c.federation.disputeResolution.mechanism === "arbitration" && c.federation.disputeResolution.arbitrators.includes(c.creator))
    out.push("/federation/disputeResolution/arbitrators: the creator cannot arbitrate its own marketplace's disputes")
  if (c.metadata.lastModified < c.metadata.createdAt) out.push("/metadata/lastModified is before /metadata/createdAt")
  return out
}

/** Every problem of a complete config ([] when it is valid): schema first, then the rules. */
export function marketplaceConfigProblems(config: unknown): string[] {
  const schema = schemaProblems("marketplace", config)
  return schema.length > 0 ? schema : configRuleProblems(config as MarketplaceConfig)
}

/**
 * Fills the seed's defaults under `input` (time `now` for the metadata) and checks
 * the result; throws MARKETPLACE_CONFIG_INVALID listing every problem (extra.problems).
 */
export function createMarketplaceConfig(input: MarketplaceConfigInput, now: number): MarketplaceConfig {
  const config = merge(defaultMarketplaceConfig(now), input)
  const problems = marketplaceConfigProblems(config)
  if (problems.length > 0)
    throw new FedhubError("MARKETPLACE_CONFIG_INVALID", `${problems.length} problem(s): ${problems.join("; ")}`, { problems })
  return config as MarketplaceConfig
}
