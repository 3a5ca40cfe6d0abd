import { createHash } from "node:crypto"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CHUNKS_PER_SHARD, chunkIdFor, SHARDS_PER_ORIGIN, shardIdFor } from "../../src/marketplace/shard.ts"

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
