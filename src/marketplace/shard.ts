/**
 * Catalog shards (the pure part): which shard an item goes to, how an item is stored in
 * a shard document, and the origin-signed manifest that lets a replica verify a whole
 * shard with one ed25519 signature instead of one per item.
 *
 * - A shard document belongs to one origin and holds only its items, in CHUNKS_PER_SHARD
 *   chunks by a hash of the item id: `chunks[chunkId]` is the canonical JSON of
 *   `{ itemId: item without marketplaceId and originNodeId }` (the shard names both), as
 *   one ImmutableString. One Automerge op per chunk, not per item: measured here, a map
 *   op costs 50–150 µs to write and to load, so 1M items as 1M keys take minutes, as
 *   4,096 chunks seconds. Publishing one item rewrites its chunk (a few hundred items).
 *   Withdrawals are versions like any other.
 * - Open items go to one of SHARDS_PER_ORIGIN shards by a hash of the item id; an item
 *   licensed to some nodes only (`allowedNodes`) goes to a shard of its own allowed set,
 *   whose document policy names exactly those readers, so licensing is enforced by what
 *   hubs serve, not by what views hide.
 * - The manifest signs two digests: over the sorted `itemId, version, checksum` lines of
 *   every item in the shard (what each item is), and over the sorted `chunkId, SHA-256 of
 *   the chunk's text` lines (the exact bytes that hold them). A replica checks a shard by
 *   one signature, one SHA-256 per chunk and a schema check per item: measured here,
 *   hashing the chunks costs about 1 µs per item, re-serializing (RFC 8785) and hashing
 *   each item about 20 µs, which was most of a 1M-item sync. Since the chunk bytes are the
 *   origin's, so is every item in them and its checksum; an item's checksum is computed
 *   when first read (a purchase names it), and `verifyShard` also checks the item digest.
 *   If the manifest fails (or is missing), no item of the shard is shown: each is listed
 *   as rejected with the reason.
 */
import { createHash, hash } from "node:crypto"
import canonicalize from "canonicalize"
import { contentId, type Identity, type NodeId, signEnvelope, type SignedEnvelope } from "../identity/index.ts"
import type { MarketItem, ShardManifest } from "../schema/index.ts"
import { itemGlobalId, type Checksum, type GlobalId } from "./items.ts"
import { matches } from "./schemaCheck.ts"
import { MARKET_PURPOSE, openSigned } from "./signed.ts"

/**
 * The big-endian 16-bit word at byte `at` of SHA-256(UTF-8 of `s`): the one-shot hash as a
 * "binary" (latin1) string, one char per byte, is the cheapest output here (about a third of a Buffer's).
 */
const hashWord = (s: string, at: number): number => {
  const h = hash("sha256", s, "binary")
  return (h.charCodeAt(at) << 8) | h.charCodeAt(at + 1)
}

/** Open (unrestricted) shards per origin and marketplace. */
export const SHARDS_PER_ORIGIN = 16

/** The shard of `item`: `s<n>` by its id, or `r-<hash of its allowed nodes>` when licensed to some nodes only. */
export function shardIdFor(item: Pick<MarketItem, "itemId" | "allowedNodes">): string {
  return placeOf(item).shard
}

/** An item's shard (as `shardIdFor`) and chunk (as `chunkIdFor`) from one SHA-256 of its id (a publish places every item). */
export function placeOf(item: Pick<MarketItem, "itemId" | "allowedNodes">): { shard: string; chunk: string } {
  const h = hash("sha256", item.itemId, "binary")
  const chunk = CHUNK_IDS[((h.charCodeAt(2) << 8) | h.charCodeAt(3)) % CHUNKS_PER_SHARD]!
  if (item.allowedNodes && item.allowedNodes.length > 0) return { shard: `r-${contentId([...item.allowedNodes].sort()).slice(0, 24)}`, chunk }
  return { shard: OPEN_SHARD_IDS[((h.charCodeAt(0) << 8) | h.charCodeAt(1)) % SHARDS_PER_ORIGIN]!, chunk }
}

const OPEN_SHARD_IDS = Array.from({ length: SHARDS_PER_ORIGIN }, (_, i) => `s${i.toString().padStart(2, "0")}`)

/** Chunks per shard document. */
export const CHUNKS_PER_SHARD = 256

const CHUNK_IDS = Array.from({ length: CHUNKS_PER_SHARD }, (_, i) => `c${i.toString().padStart(3, "0")}`)

/** The chunk of a shard an item id is stored in: `c000` … `c255`. */
export function chunkIdFor(itemId: string): string {
  return CHUNK_IDS[hashWord(itemId, 2) % CHUNKS_PER_SHARD]!
}

/** The hex SHA-256 of a stored chunk's text (UTF-8), as the manifest's chunk digest names it. */
export const chunkHash = (stored: string): string => hash("sha256", stored, "hex")

/** The digest over a shard's chunks (chunk id → chunkHash): SHA-256 over the lines sorted by chunk id. */
export function chunkDigest(hashes: Iterable<readonly [string, string]>): string {
  const sorted = [...hashes].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const h = createHash("sha256")
  for (const [id, sum] of sorted) h.update(`${id}\t${sum}\n`)
  return h.digest("hex")
}

/** What an item is stored as inside its chunk: the payload without the fields the shard names. */
const storedForm = (item: MarketItem): Omit<MarketItem, "marketplaceId" | "originNodeId"> => {
  const { marketplaceId: _m, originNodeId: _o, ...rest } = item
  return rest
}

/** The stored form of a chunk holding `items` (all of one chunk, each matching the item schema: RFC 8785 directly, without canonicalJson's walk). */
export function encodeChunk(items: Iterable<MarketItem>): string {
  // no prototype: an item id "__proto__" (the id pattern admits it) is a key like any other
  const out = Object.create(null) as Record<string, unknown>
  for (const item of items) out[item.itemId] = storedForm(item)
  return canonicalize(out)!
}

/**
 * An item's checksum and its stored form (RFC 8785 without marketplaceId and originNodeId)
 * from one walk, for an item matching the schema (plain JSON, integers only): its top-level
 * keys sorted (by UTF-16 code units, as RFC 8785 and Array#sort order them), each value by
 * `canonicalize`. Publishing serialized each item three times (size, checksum, chunk).
 */
export function itemForms(item: MarketItem): { checksum: Checksum; stored: string } {
  const o = item as unknown as Record<string, unknown>
  let full = "{"
  let stored = "{"
  for (const k of Object.keys(o).sort()) {
    const v = o[k]
    if (v === undefined) continue
    const part = `${JSON.stringify(k)}:${plainCanonical(v)}`
    full += full.length === 1 ? part : `,${part}`
    if (k !== "marketplaceId" && k !== "originNodeId") stored += stored.length === 1 ? part : `,${part}`
  }
  // the one-shot hash: a Hash object per item cost more than hashing its few hundred bytes
  return { checksum: hash("sha256", `${full}}`, "hex") as Checksum, stored: `${stored}}` }
}

// String.prototype.isWellFormed (Node 20; not in this lib target's types)
const wellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed()

function plainCanonical(v: unknown): string {
  switch (typeof v) {
    case "string":
      return wellFormed(v) ? JSON.stringify(v) : canonicalize(v)!
    case "number":
      // finite (the schema's numbers): RFC 8785 formats them as JSON.stringify does
      return Number.isFinite(v) ? JSON.stringify(v) : canonicalize(v)!
    case "boolean":
      return v ? "true" : "false"
    case "object": {
      if (v === null) return "null"
      if (Array.isArray(v)) {
        let out = "["
        for (let i = 0; i < v.length; i++) out += `${i === 0 ? "" : ","}${v[i] === undefined ? "null" : plainCanonical(v[i])}`
        return `${out}]`
      }
      let out = "{"
      const keys = Object.keys(v)
      if (keys.length > 1) keys.sort()
      for (const k of keys) {
        const x = (v as Record<string, unknown>)[k]
        if (x === undefined) continue
        out += `${out.length === 1 ? "" : ","}${plainCanonical(k)}:${plainCanonical(x)}`
      }
      return `${out}}`
    }
    default:
      return canonicalize(v) ?? "null"
  }
}

/** The stored form of a chunk from its items' stored forms (`itemForms`), by item id: the same text as `encodeChunk`. */
export function encodeStoredChunk(stored: ReadonlyMap<string, string>): string {
  const ids = [...stored.keys()].sort()
  let out = ""
  for (const id of ids) out += `${out === "" ? "" : ","}${JSON.stringify(id)}:${stored.get(id)!}`
  return `{${out}}`
}

/** An item's checksum (items.ts `checksumOf`) for a payload matching the item schema (plain JSON, integers only): RFC 8785 directly, a third of the time. */
export const itemChecksum = (item: MarketItem): Checksum => createHash("sha256").update(canonicalize(item)!).digest("hex") as Checksum

/** A stored item that decoded: its payload, and its checksum computed when first read. */
export class DecodedOk {
  readonly ok = true
  #checksum: Checksum | undefined
  constructor(
    readonly item: MarketItem,
    checksum?: Checksum,
  ) {
    this.#checksum = checksum
  }

  /** SHA-256 of the item's canonical JSON (what manifests and purchases name). */
  get checksum(): Checksum {
    return (this.#checksum ??= itemChecksum(this.item))
  }
}

/** A stored item decoded back into its payload and checksum, or why it cannot be. */
export type DecodedItem = DecodedOk | { ok: false; reason: string }

/** Decodes one stored item value of the shard of `origin` in `marketplaceId` (a value of a fresh JSON.parse: it is completed in place). */
export function decodeShardItem(stored: unknown, itemId: string, marketplaceId: string, origin: string): DecodedItem {
  if (typeof stored !== "object" || stored === null || Array.isArray(stored)) return { ok: false, reason: "not an item" }
  // the value came out of this chunk's own JSON.parse: completed in place (a copy per item cost more than parsing it)
  const item = stored as MarketItem
  item.marketplaceId = marketplaceId
  item.originNodeId = origin
  if (!matches("marketplace#MarketItem", item)) return { ok: false, reason: "does not match the item schema" }
  if (item.itemId !== itemId) return { ok: false, reason: `kept under ${itemId} but is item ${item.itemId}` }
  return new DecodedOk(item)
}

/** Decodes one chunk (`chunks[chunkId]`) into its items, each checked to belong to that chunk. */
export function decodeChunk(stored: string | undefined, chunkId: string, marketplaceId: string, origin: string): Map<string, DecodedItem> {
  const out = new Map<string, DecodedItem>()
  let parsed: unknown
  try {
    parsed = stored === undefined ? undefined : JSON.parse(stored)
  } catch {
    parsed = undefined
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    out.set(`${chunkId}?`, { ok: false, reason: `chunk ${chunkId} is not a JSON object` })
    return out
  }
  const values = parsed as Record<string, unknown>
  for (const itemId of Object.keys(values)) {
    if (chunkIdFor(itemId) !== chunkId) out.set(itemId, { ok: false, reason: `kept in chunk ${chunkId}, belongs in ${chunkIdFor(itemId)}` })
    else out.set(itemId, decodeShardItem(values[itemId], itemId, marketplaceId, origin))
  }
  return out
}

/** One line of a shard's digest. */
export interface ShardLine {
  itemId: string
  version: number
  checksum: string
}

/** The digest a manifest signs: SHA-256 over the lines sorted by item id. */
export function shardDigest(lines: Iterable<ShardLine>): string {
  const sorted = [...lines].sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0))
  const h = createHash("sha256")
  for (const l of sorted) h.update(`${l.itemId}\t${l.version}\t${l.checksum}\n`)
  return h.digest("hex")
}

/** Signs the manifest of a shard holding `lines` (every item version there) in chunks with `chunkHashes` (chunk id → chunkHash). */
export function signShardManifest(
  origin: Identity,
  marketplaceId: string,
  shardId: string,
  sequence: number,
  lines: readonly ShardLine[],
  chunkHashes: Iterable<readonly [string, string]>,
  time?: number,
): SignedEnvelope<ShardManifest> {
  const payload: ShardManifest = {
    marketplaceId,
    shardId,
    originNodeId: origin.nodeId,
    sequence,
    count: lines.length,
    digest: shardDigest(lines),
    chunkDigest: chunkDigest(chunkHashes),
  }
  return signEnvelope(origin, MARKET_PURPOSE.shardManifest, payload, time)
}

/** An item a replica keeps out of every view, and why. */
export interface RejectedItem {
  globalId: GlobalId | null
  reason: string
  /** The hub a refused change carrying it came from, when known. */
  via?: string
}

/** A shard's decoded items as its chunks hold them: chunk id → item id → decoded item. */
export type DecodedChunks = ReadonlyMap<string, ReadonlyMap<string, DecodedItem>>

/**
 * The accepted items of a shard, read through the chunks they were decoded from: a
 * read-only map by item id without a flat copy of every item (a replica re-verifies a
 * shard on each change, and the copy was one Map entry per item each time).
 */
export class ShardItems implements ReadonlyMap<string, DecodedOk> {
  readonly #chunks: ReadonlyMap<string, ReadonlyMap<string, DecodedOk>>
  readonly #byChunkId: boolean
  readonly size: number

  /** `byChunkId`: the chunks are keyed by `chunkIdFor` (else any grouping, and a lookup tries each). */
  constructor(chunks: ReadonlyMap<string, ReadonlyMap<string, DecodedOk>>, size: number, byChunkId = true) {
    this.#chunks = chunks
    this.size = size
    this.#byChunkId = byChunkId
  }

  /** The chunks (chunk id → item id → item), as held. */
  get chunks(): ReadonlyMap<string, ReadonlyMap<string, DecodedOk>> {
    return this.#chunks
  }

  /** The item `itemId` of chunk `chunkId` (its `chunkIdFor`, known by the caller: no hash). */
  getIn(chunkId: string, itemId: string): DecodedOk | undefined {
    return this.#byChunkId ? this.#chunks.get(chunkId)?.get(itemId) : this.get(itemId)
  }

  get(itemId: string): DecodedOk | undefined {
    if (this.#byChunkId) return this.#chunks.get(chunkIdFor(itemId))?.get(itemId)
    for (const c of this.#chunks.values()) {
      const d = c.get(itemId)
      if (d) return d
    }
    return undefined
  }

  has(itemId: string): boolean {
    return this.get(itemId) !== undefined
  }

  *entries(): MapIterator<[string, DecodedOk]> {
    for (const c of this.#chunks.values()) yield* c
  }

  *keys(): MapIterator<string> {
    for (const c of this.#chunks.values()) yield* c.keys()
  }

  *values(): MapIterator<DecodedOk> {
    for (const c of this.#chunks.values()) yield* c.values()
  }

  [Symbol.iterator](): MapIterator<[string, DecodedOk]> {
    return this.entries()
  }

  forEach(f: (value: DecodedOk, key: string, map: ReadonlyMap<string, DecodedOk>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) f.call(thisArg, v, k, this)
  }
}

/** What a shard holds once checked. */
export interface ShardVerification {
  /** Why the manifest does not cover the shard (then no item is accepted), or null. */
  manifestProblem: string | null
  /** Accepted item versions (withdrawn ones included), by item id. */
  accepted: ReadonlyMap<string, DecodedOk> & { getIn?(chunkId: string, itemId: string): DecodedOk | undefined }
  rejected: RejectedItem[]
  /** The manifest's sequence, when it verified. */
  sequence: number | null
}

/** Where a shard belongs: the checks that tie its manifest to the document. */
export interface ShardContext {
  marketplaceId: string
  origin: NodeId | string
  shardId: string
}

/** Decodes every chunk of a shard. */
export function decodeShard(chunks: Readonly<Record<string, string>>, ctx: ShardContext): Map<string, DecodedItem> {
  const out = new Map<string, DecodedItem>()
  for (const [chunkId, stored] of Object.entries(chunks)) for (const [k, v] of decodeChunk(stored, chunkId, ctx.marketplaceId, ctx.origin)) out.set(k, v)
  return out
}

/**
 * Checks a shard's stored chunks against its origin's signed manifest, fully: the
 * signature, the chunk digest, and the item digest (one hash per item). Items that fail
 * to decode are rejected; the rest are accepted only if both digests match.
 */
export function verifyShard(manifest: unknown, chunks: Readonly<Record<string, string>>, ctx: ShardContext): ShardVerification {
  const hashes = Object.entries(chunks).map(([id, stored]) => [id, chunkHash(stored)] as const)
  const decoded = new Map(Object.entries(chunks).map(([id, stored]) => [id, decodeChunk(stored, id, ctx.marketplaceId, ctx.origin)] as const))
  return verifyChunks(manifest, decoded, hashes, ctx, { items: true })
}

/**
 * `verifyShard` over items decoded already (one map, any grouping) and the hashes of the
 * chunks they came from. The item digest is checked only with `check.items` (the chunk
 * digest binds the same items' bytes).
 */
export function verifyDecoded(
  manifest: unknown,
  items: ReadonlyMap<string, DecodedItem>,
  chunkHashes: Iterable<readonly [string, string]>,
  ctx: ShardContext,
  check: { items?: boolean } = {},
): ShardVerification {
  return verifyChunks(manifest, new Map([["", items]]), chunkHashes, ctx, check, false)
}

/**
 * `verifyShard` over the decoded chunks (`decodeChunk` of each, by chunk id: a replica
 * decodes and hashes only the chunks a change touched) and the hashes of every chunk. The
 * accepted items are read through the chunks (`ShardItems`), not copied.
 */
export function verifyChunks(
  manifest: unknown,
  chunks: DecodedChunks,
  chunkHashes: Iterable<readonly [string, string]>,
  ctx: ShardContext,
  check: { items?: boolean } = {},
  byChunkId = true,
): ShardVerification {
  let size = 0
  const rejected: RejectedItem[] = []
  for (const c of chunks.values())
    for (const [itemId, d] of c) {
      if (d.ok) size++
      else rejected.push({ globalId: `${ctx.origin}:${itemId}` as GlobalId, reason: d.reason })
    }
  const decoded = (): ShardItems => new ShardItems(chunks as ReadonlyMap<string, ReadonlyMap<string, DecodedOk>>, size, byChunkId)
  const fail = (manifestProblem: string): ShardVerification => {
    const out = [...rejected]
    for (const c of chunks.values()) for (const d of c.values()) if (d.ok) out.push({ globalId: itemGlobalId(d.item), reason: `not covered by the origin's manifest: ${manifestProblem}` })
    return { manifestProblem, accepted: new Map(), rejected: out, sequence: null }
  }
  if (manifest === undefined) return size === 0 && rejected.length === 0 ? { manifestProblem: null, accepted: decoded(), rejected, sequence: null } : fail("the shard has no manifest")
  const m = openSigned(manifest, MARKET_PURPOSE.shardManifest, "marketplace#ShardManifest", "originNodeId")
  if (!m.ok) return fail(m.reason)
  const p = m.env.payload
  if (p.originNodeId !== ctx.origin) return fail(`signed by ${p.originNodeId}, not the shard's origin ${ctx.origin}`)
  if (p.marketplaceId !== ctx.marketplaceId || p.shardId !== ctx.shardId) return fail(`a manifest of shard ${p.marketplaceId}/${p.shardId}`)
  if (rejected.length > 0) return fail(`${rejected.length} item(s) do not decode`)
  const differ = () => fail(`the shard's ${size} item(s) differ from the ${p.count} the origin signed (sequence ${p.sequence})`)
  if (p.count !== size || p.chunkDigest !== chunkDigest(chunkHashes)) return differ()
  const accepted = decoded()
  if (check.items) {
    const lines = [...accepted].map(([itemId, d]) => ({ itemId, version: d.item.version, checksum: d.checksum }))
    if (p.digest !== shardDigest(lines)) return differ()
  }
  return { manifestProblem: null, accepted, rejected, sequence: p.sequence }
}
