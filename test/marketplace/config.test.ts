import { describe, expect, it } from "vitest"
import { createMarketplaceConfig, defaultMarketplaceConfig, marketplaceConfigProblems } from "../../src/marketplace/config.ts"
import { errorOf } from "../helpers/errors.ts"
import { alice, T0 } from "./fixtures.ts"

describe("createMarketplaceConfig", () => {
  it("fills the seed's defaults under what is given", () => {
    const c = createMarketplaceConfig({ name: "Plugins", creator: alice.nodeId, economics: { feeStructure: { listingFee: 10 } } }, T0)
    expect(c.federation.consensusMechanism).toEqual({ type: "proof_of_stake", parameters: { minimumStake: 100, votingPower: "stake_weighted", voteDeadlineHours: 168 } })
    expect(c.economics.feeStructure).toEqual({ listingFee: 10, transactionFeePercentage: 5, crossNodeFeePercentage: 2 })
    expect(c.economics.revenueSharing).toEqual({ creator: 70, marketplace: 20, network: 10 })
    expect(c.catalog.curationPolicy.qualityThresholdHalfStars).toBe(6)
    expect(c.synchronization.conflictResolution).toBe("crdt_merge")
    expect(c.metadata).toEqual({ createdAt: T0, lastModified: T0, version: "1.0.0", status: "active" })
    expect(marketplaceConfigProblems(c)).toEqual([])
  })

  it("does not share arrays with the defaults", () => {
    const a = createMarketplaceConfig({ name: "A", creator: alice.nodeId }, T0)
    a.catalog.searchCapabilities.pop()
    expect(defaultMarketplaceConfig(T0).catalog.searchCapabilities).toHaveLength(5)
  })

  it("answers a bad config with one error listing every problem", () => {
    const e = errorOf(() =>
      createMarketplaceConfig(
        {
          name: "",
          creator: alice.nodeId,
          federation: { consensusMechanism: { type: "lottery" as never } },
          economics: { feeStructure: { transactionFeePercentage: 1.5 }, paymentMethods: ["cash" as never] },
          quality: { ratingSystem: { scale: "1-10" as never } },
        },
        T0,
      ),
    )
    expect(e.code).toBe("MARKETPLACE_CONFIG_INVALID")
    const problems = e.extra?.problems as string[]
    expect(problems.length).toBeGreaterThanOrEqual(5)
    for (const path of ["/name", "/federation/consensusMechanism/type", "/economics/feeStructure/transactionFeePercentage", "/economics/paymentMethods/0", "/quality/ratingSystem/scale"])
      expect(e.detail).toContain(path)
  })

  it("lists the rules a schema cannot say", () => {
    const e = errorOf(() =>
      createMarketplaceConfig(
        {
          name: "M",
          creator: alice.nodeId,
          economics: { revenueSharing: { creator: 80 }, feeStructure: { transactionFeePercentage: 60, crossNodeFeePercentage: 50 } },
          quality: { qualityStandards: { bannedPatterns: ["(unclosed"] } },
          catalog: { categories: [{ id: "a", name: "A" }, { id: "a", name: "A again" }, { id: "b", name: "B", parentId: "zzz" }] },
        },
        T0,
      ),
    )
    const problems = e.extra?.problems as string[]
    expect(problems).toHaveLength(5)
    expect(problems.join("\n")).toMatch(/add up to 100 \(got 110\)/)
  })
})
