/**
 * Layer 4, marketplace: the pure core (config, join votes, items and shard
 * manifests, the revenue split and ledger, ratings). No network, no Repo: every
 * decision is a function of signed records, the same on every replica.
 */
export * from "./config.ts"
export * from "./items.ts"
export * from "./ledger.ts"
export * from "./ratings.ts"
export * from "./shard.ts"
export { MARKET_PURPOSE, openSigned, type Opened } from "./signed.ts"
export * from "./split.ts"
export * from "./votes.ts"
export * from "./disputes.ts"
export * from "./grants.ts"
export * from "./marketLedger.ts"
export * from "./metadata.ts"
