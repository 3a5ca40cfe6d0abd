/**
 * `npm run bench -- catalog-steps [--items N]` (default 100,000): the fresh hub's work on a
 * synced catalog, step by step, in one process and without a network: N items in 4,096
 * chunks (as 16 shards of 256 hold them), then the CPU per item (`process.cpuUsage`) of hashing the chunks, parsing, decoding (schema, chunk id),
 * verifying the manifest, the per-item hashing it no longer needs, building the search
 * index, sorting its orders and the first text query. Where a sync's time goes, per item.
 */
import { Identity } from "../src/identity/index.ts"
import { CatalogIndex } from "../src/marketplace/searchIndex.ts"
import { chunkHash, chunkIdFor, decodeChunk, encodeChunk, itemChecksum, signShardManifest, verifyChunks, type DecodedItem } from "../src/marketplace/shard.ts"
import type { MarketItem } from "../src/schema/index.ts"
import { benchItem } from "./catalog.ts"
import { printTable } from "./stats.ts"

/** Runs the steps and prints their table. */
export async function benchCatalogSteps(argv: string[]): Promise<void> {
  const at = argv.indexOf("--items")
  const n = at >= 0 ? Number(argv[at + 1]) : 100_000
  const origin = Identity.generate("bench")
  const M = "4RK8nzV8JJw4WUz37YHNteLMVRwh"
  const O = origin.nodeId
  // 16 shards × 256 chunks, as a 16-shard origin stores them (one manifest over all: the cost per item is the same)
  const byChunk = new Map<string, MarketItem[]>()
  for (let i = 0; i < n; i++) {
    const it = { ...benchItem(i), version: 1, marketplaceId: M, originNodeId: O } as MarketItem
    const c = `${chunkIdFor(it.itemId)}`
    const key = `${c}/${i % 16}`
    ;(byChunk.get(key) ?? byChunk.set(key, []).get(key)!).push(it)
  }
  const chunks = [...byChunk].map(([k, v]) => [k, encodeChunk(v)] as const)
  const rows: string[][] = []
  const cpu = <T>(label: string, f: () => T): T => {
    const c0 = process.cpuUsage()
    const r = f()
    const c = process.cpuUsage(c0)
    rows.push([label, ((c.user + c.system) / n).toFixed(2)])
    return r
  }
  process.stderr.write(`catalog-steps: ${n.toLocaleString("en-US")} items in ${chunks.length} chunks\n`)
  // the shard's manifest (one per shard in a hub; one here, over every chunk, named c000/0 … c255/15)
  const lines = chunks.flatMap(([, s]) => Object.values(JSON.parse(s) as Record<string, MarketItem>)).map(it => ({ itemId: it.itemId, version: 1, checksum: itemChecksum({ ...it, marketplaceId: M, originNodeId: O }) }))
  const hashes = cpu("SHA-256 of every chunk (the chunk digest)", () => chunks.map(([k, s]) => [k, chunkHash(s)] as const))
  const manifest = JSON.parse(JSON.stringify(signShardManifest(origin, M, "s00", 1, lines, hashes))) as unknown
  cpu("JSON.parse of the chunks (alone)", () => chunks.map(([, s]) => JSON.parse(s) as unknown))
  // as a replica holds them: the decoded items of each chunk (chunk id/shard → item id → item), read through by the verification
  const decoded = cpu("decode: parse, item schema, chunk id", () => {
    const m = new Map<string, Map<string, DecodedItem>>()
    for (const [k, s] of chunks) m.set(k, decodeChunk(s, k.slice(0, 4), M, O))
    return m
  })
  const v = cpu("verify: one signature, the chunk digest", () => verifyChunks(manifest, decoded, hashes, { marketplaceId: M, origin: O, shardId: "s00" }, {}, false))
  if (v.accepted.size !== n) throw new Error(`accepted ${v.accepted.size} of ${n}: ${v.manifestProblem}`)
  cpu("(no longer done: RFC 8785 + SHA-256 per item)", () => {
    for (const d of v.accepted.values()) itemChecksum(d.item)
  })
  const index = new CatalogIndex()
  cpu("search index: slots, value sets, text", () => index.upsertMany([...v.accepted.values()].map(d => d.item)))
  cpu("search index: sorting its five orders", () => index.warm())
  const first = cpu('first text query ("item", every item matches)', () => index.search({ text: "item", limit: 10 }))
  if (first.total !== n) throw new Error(`"item" matched ${first.total} of ${n}`)
  rows.push(["peak RSS of the process", `${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`])
  printTable(`catalog-steps: CPU per item of a fresh hub's work on ${n.toLocaleString("en-US")} synced items (µs)`, ["step", "µs per item"], rows)
}
