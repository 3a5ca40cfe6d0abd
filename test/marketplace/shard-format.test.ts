import { createHash } from "node:crypto"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CHUNKS_PER_SHARD, chunkIdFor, encodeChunk, encodeStoredChunk, itemChecksum, itemForms, SHARDS_PER_ORIGIN, shardIdFor } from "../../src/marketplace/shard.ts"
import { checksumOf } from "../../src/marketplace/items.ts"
import type { MarketItem } from "../../src/schema/index.ts"
import { bob, MARKET } from "./fixtures.ts"

const word = (s: string, at: number) => createHash("sha256").update(s).digest().readUInt16BE(at)

describe("where an item is stored (the shard format)", () => {
  it("keeps an item in chunk SHA-256(id)[2..4] mod 256 and open shard SHA-256(id)[0..2] mod 16, for any id", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 130 }), id => {
        expect(chunkIdFor(id)).toBe(`c${(word(id, 2) % CHUNKS_PER_SHARD).toString().padStart(3, "0")}`)
        expect(shardIdFor({ itemId: id })).toBe(`s${(word(id, 0) % SHARDS_PER_ORIGIN).toString().padStart(2, "0")}`)
      }),
      { numRuns: 3_000 },
    )
    expect(chunkIdFor("item-1")).toBe(`c${(word("item-1", 2) % 256).toString().padStart(3, "0")}`)
  })
})

const text = fc.string({ unit: "binary", maxLength: 30 })
const anItem = fc.record(
  {
    itemId: fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/),
    version: fc.integer({ min: 1, max: 2 ** 53 - 1 }),
    type: fc.constantFrom("plugin", "persona", "dataset"),
    title: text,
    description: text,
    category: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,8}$/),
    tags: fc.uniqueArray(text, { maxLength: 4 }),
    withdrawn: fc.boolean(),
    pricing: fc.record({ model: fc.constantFrom("free", "one_time"), price: fc.nat(), currency: fc.constantFrom("credits", "EUR") }),
  },
  { requiredKeys: ["itemId", "version", "type", "title", "pricing"] },
).map(r => ({ ...r, marketplaceId: MARKET, originNodeId: bob.nodeId }) as MarketItem)

describe("what a chunk stores (one serialization per item)", () => {
  it("gives the checksum of RFC 8785 and the same chunk text as encodeChunk, for any items", () => {
    fc.assert(
      fc.property(fc.uniqueArray(anItem, { selector: i => i.itemId, maxLength: 8 }), items => {
        const stored = new Map<string, string>()
        for (const it of items) {
          const f = itemForms(it)
          expect(f.checksum).toBe(checksumOf(it))
          expect(f.checksum).toBe(itemChecksum(it))
          stored.set(it.itemId, f.stored)
        }
        expect(encodeStoredChunk(stored)).toBe(encodeChunk(items))
      }),
      { numRuns: 1_000 },
    )
  })
})
