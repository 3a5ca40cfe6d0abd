/**
 * The catalog across hubs: this hub publishes, updates and withdraws its own items in
 * its own shard documents (re-signing the shard's manifest in the same change), and
 * keeps a verified view of every shard it may read, updated from document patches.
 *
 * Who may change an item: only its origin, because only the origin writes its shards
 * (the write control of docs/ACCESS.md refuses anyone else's change on every hub, and
 * lists it with the hub that relayed it). What a view shows: only items of shards whose
 * manifest verifies over exactly what the shard holds; everything else is listed as
 * rejected, with the reason.
 */
import { EventEmitter } from "node:events"
import type { Patch } from "@automerge/automerge"
import type { DocHandle } from "@automerge/automerge-repo"
import { FedhubError } from "../errors.ts"
import { canonicalJson, type Identity, type NodeId } from "../identity/index.ts"
import { assertMayWrite } from "../replication/access/policy.ts"
import type { Authorship } from "../replication/Authorship.ts"
import type { PolicyStore } from "../replication/PolicyStore.ts"
import type { MarketItem, MarketplaceConfig } from "../schema/index.ts"
import { assertValidItem, globalIdOf, type Checksum, type GlobalId } from "./items.ts"
import { imm, SHARD_KIND, str, type MarketDoc, type ShardDoc } from "./marketDocs.ts"
import type { Member, MemberDocs } from "./MemberDocs.ts"
import { chunkHash, chunkIdFor, decodeChunk, DecodedOk, encodeStoredChunk, itemForms, shardIdFor, signShardManifest, verifyDecoded, type DecodedItem, type RejectedItem, type ShardLine, type ShardVerification } from "./shard.ts"
import { openSigned, MARKET_PURPOSE } from "./signed.ts"

/** What publishing takes: an item without the fields the hub fills in. */
export type ItemInput = Omit<MarketItem, "marketplaceId" | "originNodeId" | "version"> & { version?: number }

/** A verified item as views show it (`checksum` is computed when first read). */
export interface CatalogEntry {
  globalId: GlobalId
  item: MarketItem
  readonly checksum: Checksum
  shard: string
  /** The sequence of the origin's manifest that covers it. */
  manifestSequence: number
}

/** The verified state of one shard this hub follows. */
interface ShardState {
  member: Member<ShardDoc>
  /** Every stored chunk, decoded (kept between changes: a change decodes only the chunks it touched). */
  chunks: Map<string, Map<string, DecodedItem>>
  /** chunkHash of every stored chunk, by chunk id (kept the same way). */
  hashes: Map<string, string>
  verification: ShardVerification
}

/** The entry of an accepted item version; its checksum is the decoded item's, computed when first read. */
const entryOf = (globalId: GlobalId, d: { readonly item: MarketItem; readonly checksum: Checksum }, shard: string, manifestSequence: number): CatalogEntry => ({
  globalId,
  item: d.item,
  get checksum() {
    return d.checksum
  },
  shard,
  manifestSequence,
})

/** The chunk ids a change's patches touch, or null when they replace more than chunks (then everything is decoded again). */
function touchedChunks(patches: readonly Patch[]): Set<string> | null {
  const ids = new Set<string>()
  for (const p of patches) {
    if (p.path[0] !== "chunks") continue
    if (p.path.length < 2) return null
    ids.add(String(p.path[1]))
  }
  return ids
}

const flat = (chunks: ReadonlyMap<string, ReadonlyMap<string, DecodedItem>>): Map<string, DecodedItem> => {
  const out = new Map<string, DecodedItem>()
  for (const c of chunks.values()) for (const [k, v] of c) out.set(k, v)
  return out
}

/** What the catalog needs of the hub. */
export interface CatalogContext {
  identity: Identity
  policies: PolicyStore
  authorship: Authorship
  members: MemberDocs
  flush: (ids: string[]) => Promise<void>
  now: () => number
}

export class CatalogService {
  /** `changed`: the verified catalog of a marketplace changed here. */
  readonly events = new EventEmitter<{
    changed: [marketId: string]
    /** The verified versions a shard change added or replaced, and the items it no longer holds. */
    items: [marketId: string, upserted: CatalogEntry[], removed: GlobalId[]]
  }>()
  readonly #ctx: CatalogContext
  readonly #shards = new Map<string, ShardState>()
  /** The shard this hub is writing (its change event brings nothing to decode: the writer knows the result). */
  #writing: string | undefined
  /** Verified entries per marketplace, rebuilt on the first read after a change. */
  readonly #entries = new Map<string, Map<GlobalId, CatalogEntry>>()

  constructor(ctx: CatalogContext) {
    this.#ctx = ctx
    ctx.members.events.on("loaded", m => {
      if (m.kind !== SHARD_KIND) return
      this.#verify(m as Member<ShardDoc>)
      this.events.emit("changed", m.marketId)
    })
    ctx.members.events.on("changed", (m, patches) => {
      if (m.kind !== SHARD_KIND || m.handle.documentId === this.#writing) return
      this.#verify(m as Member<ShardDoc>, patches)
      this.events.emit("changed", m.marketId)
    })
  }

  get #self(): NodeId {
    return this.#ctx.identity.nodeId
  }

  /**
   * Re-checks a shard against its manifest (one signature, one hash per item): only the
   * items a change touched are decoded again, the rest come from the last check.
   */
  #verify(m: Member<ShardDoc>, patches?: readonly Patch[]): void {
    const doc = m.handle.doc()
    const shardId = m.key.slice(m.key.indexOf("/") + 1)
    const ctx = { marketplaceId: m.marketId, origin: m.owner, shardId }
    const held = this.#shards.get(m.handle.documentId)
    const touched = patches && held ? touchedChunks(patches) : null
    const fresh = touched === null || !held
    const chunks = fresh ? new Map<string, Map<string, DecodedItem>>() : held.chunks
    const hashes = fresh ? new Map<string, string>() : held.hashes
    for (const id of touched ?? Object.keys(doc.chunks ?? {})) {
      const v = doc.chunks?.[id]
      if (v === undefined) {
        chunks.delete(id)
        hashes.delete(id)
        continue
      }
      const text = str(v)
      chunks.set(id, decodeChunk(text, id, ctx.marketplaceId, ctx.origin))
      hashes.set(id, text === undefined ? "" : chunkHash(text))
    }
    const manifest = str(doc.manifest)
    let parsed: unknown
    try {
      parsed = manifest === undefined ? undefined : JSON.parse(manifest)
    } catch {
      parsed = null
    }
    const before = held?.verification.accepted
    const verification = verifyDecoded(parsed, flat(chunks), hashes, ctx)
    this.#shards.set(m.handle.documentId, { member: m, chunks, hashes, verification })
    this.#entries.delete(m.marketId)
    this.#delta(m, before, verification)
  }

  /** Tells the index what a shard change did: upserts for new or changed versions, removals for items gone. */
  #delta(m: Member<ShardDoc>, before: ShardVerification["accepted"] | undefined, after: ShardVerification) {
    const shard = m.key.slice(m.key.indexOf("/") + 1)
    const upserted: CatalogEntry[] = []
    const removed: GlobalId[] = []
    for (const [itemId, a] of after.accepted) {
      const b = before?.get(itemId)
      // a chunk no change touched keeps its decoded items: only a new or re-decoded one can differ
      if (!b || (b !== a && (b.item.version !== a.item.version || b.checksum !== a.checksum)))
        upserted.push(entryOf(globalIdOf(a.item.originNodeId, itemId), a, shard, after.sequence ?? 0))
    }
    for (const itemId of before?.keys() ?? []) if (!after.accepted.has(itemId)) removed.push(globalIdOf(m.owner, itemId))
    if (upserted.length > 0 || removed.length > 0) this.events.emit("items", m.marketId, upserted, removed)
  }

  /** How many verified item versions the marketplace's shards hold (withdrawn ones included), without building a view. */
  count(marketId: string): number {
    let n = 0
    for (const s of this.#shards.values()) if (s.member.marketId === marketId) n += s.verification.accepted.size
    return n
  }

  /** Every verified item version of a marketplace (withdrawn ones included), by global id. */
  entries(marketId: string): Map<GlobalId, CatalogEntry> {
    const cached = this.#entries.get(marketId)
    if (cached) return cached
    const out = new Map<GlobalId, CatalogEntry>()
    for (const s of this.#shards.values()) {
      if (s.member.marketId !== marketId) continue
      const shard = s.member.key.slice(s.member.key.indexOf("/") + 1)
      for (const [itemId, d] of s.verification.accepted) {
        const globalId = globalIdOf(d.item.originNodeId, itemId)
        const held = out.get(globalId)
        if (!held || held.item.version < d.item.version) out.set(globalId, entryOf(globalId, d, shard, s.verification.sequence ?? 0))
      }
    }
    this.#entries.set(marketId, out)
    return out
  }

  /** Items kept out of every view: failed shards, refused pointers, and changes refused for their author (with the hub that sent them). */
  rejected(marketId: string, refusedChanges: (docId: string) => { from: string; reason: string; author?: string }[]): RejectedItem[] {
    const out: RejectedItem[] = []
    for (const s of this.#shards.values()) {
      if (s.member.marketId !== marketId) continue
      out.push(...s.verification.rejected)
      for (const r of refusedChanges(s.member.handle.documentId))
        out.push({ globalId: null, reason: `a change to shard ${s.member.key} by ${r.author ?? "an unknown author"} was refused: ${r.reason}`, via: r.from })
    }
    for (const p of this.#ctx.members.refused(marketId))
      if (p.section === "catalog") out.push({ globalId: null, reason: `shard ${p.key}: ${p.reason}` })
    return out
  }

  /** The shard documents this hub follows in a marketplace, with how each verified. */
  shards(marketId: string): { key: string; documentId: string; owner: string; items: number; manifestSequence: number | null; problem: string | null }[] {
    return [...this.#shards.values()]
      .filter(s => s.member.marketId === marketId)
      .map(s => ({
        key: s.member.key,
        documentId: s.member.handle.documentId,
        owner: s.member.owner,
        items: s.verification.accepted.size,
        manifestSequence: s.verification.sequence,
        problem: s.verification.manifestProblem,
      }))
      .sort((a, b) => (a.key < b.key ? -1 : 1))
  }

  /**
   * Publishes new items or new versions of this hub's items (one change and one manifest
   * per shard touched). Every item is checked against the marketplace's schema and
   * quality rules first; ITEM_INVALID lists every failure of every item, and nothing is written.
   */
  async publish(market: DocHandle<MarketDoc>, config: MarketplaceConfig, inputs: readonly ItemInput[]): Promise<CatalogEntry[]> {
    const marketId = market.documentId
    assertMayWrite(this.#ctx.policies.effective(marketId), this.#self)
    const held = this.entries(marketId)
    const items: MarketItem[] = []
    const failures: string[] = []
    const seen = new Set<string>()
    for (const input of inputs) {
      const id = (input as { itemId?: unknown }).itemId
      const gid = globalIdOf(this.#self, typeof id === "string" ? id : "")
      if (seen.has(gid)) {
        failures.push(`${String(id)}: listed twice`)
        continue
      }
      seen.add(gid)
      const current = held.get(gid)?.item
      const version = input.version ?? (current ? current.version + 1 : 1)
      if (current && version <= current.version) {
        failures.push(`${String(id)}: version ${version} is not newer than the held version ${current.version}`)
        continue
      }
      const item = { ...input, marketplaceId: marketId, originNodeId: this.#self, version } as MarketItem
      try {
        items.push(assertValidItem(config, item, marketId))
      } catch (e) {
        const listed = (e as FedhubError).extra?.failures as string[] | undefined
        failures.push(...(listed ?? [(e as Error).message]).map(f => `${String(id)}: ${f}`))
      }
    }
    if (failures.length > 0) {
      const replayed = failures.every(f => /is not newer than/.test(f))
      throw new FedhubError(replayed ? "VERSION_REPLAYED" : "ITEM_INVALID", `${failures.length} failure(s): ${failures.slice(0, 20).join("; ")}`, { failures })
    }
    // an item whose licence changed moves shard: it leaves the old one in the same publish
    const byShard = new Map<string, { put: MarketItem[]; drop: string[] }>()
    const slot = (shard: string) => byShard.get(shard) ?? byShard.set(shard, { put: [], drop: [] }).get(shard)!
    for (const item of items) {
      const shard = shardIdFor(item)
      slot(shard).put.push(item)
      const before = held.get(globalIdOf(this.#self, item.itemId))
      if (before && before.shard !== shard) slot(before.shard).drop.push(item.itemId)
    }
    const touched: string[] = []
    for (const [shardId, { put, drop }] of byShard) {
      const allowed = shardId.startsWith("r-") ? (put[0]?.allowedNodes as NodeId[] | undefined) : undefined
      const handle = await this.#ctx.members.own<ShardDoc>(market, SHARD_KIND, shardId, allowed)
      this.#write(handle, marketId, shardId, put, drop)
      touched.push(handle.documentId)
    }
    await this.#ctx.flush(touched)
    const now = this.entries(marketId)
    return items.map(i => now.get(globalIdOf(this.#self, i.itemId))!).filter(Boolean)
  }

  /** One change to one of our shards: the chunks touched and the manifest over the result. */
  #write(handle: DocHandle<ShardDoc>, marketId: string, shardId: string, put: readonly MarketItem[], drop: readonly string[]): void {
    const held = this.#shards.get(handle.documentId)?.chunks ?? new Map<string, Map<string, DecodedItem>>()
    // every item the shard holds that decodes (also when the last write was interrupted), by chunk
    const byChunk = new Map<string, Map<string, MarketItem>>()
    for (const [chunkId, items] of held) {
      const m = new Map<string, MarketItem>()
      for (const [itemId, d] of items) if (d.ok) m.set(itemId, d.item)
      byChunk.set(chunkId, m)
    }
    const touched = new Set<string>()
    const chunk = (itemId: string) => {
      const id = chunkIdFor(itemId)
      touched.add(id)
      return byChunk.get(id) ?? byChunk.set(id, new Map()).get(id)!
    }
    for (const itemId of drop) chunk(itemId).delete(itemId)
    for (const item of put) chunk(item.itemId).set(item.itemId, item)
    // one serialization per item written (its checksum and stored form); the held ones keep their checksum
    const lines: ShardLine[] = []
    const texts = new Map<string, string>()
    for (const [chunkId, items] of byChunk) {
      const write = touched.has(chunkId)
      const stored = new Map<string, string>()
      for (const [itemId, item] of items) {
        const known = held.get(chunkId)?.get(itemId)
        if (!write && known?.ok) {
          lines.push({ itemId, version: item.version, checksum: known.checksum })
          continue
        }
        const forms = itemForms(item)
        lines.push({ itemId, version: item.version, checksum: forms.checksum })
        stored.set(itemId, forms.stored)
      }
      // the stored text of every chunk written
      if (write && items.size > 0) texts.set(chunkId, encodeStoredChunk(stored))
    }
    const hashes = new Map(this.#shards.get(handle.documentId)?.hashes ?? [])
    for (const id of touched) {
      const text = texts.get(id)
      if (text === undefined) hashes.delete(id)
      else hashes.set(id, chunkHash(text))
    }
    const sequence = (this.#shards.get(handle.documentId)?.verification.sequence ?? 0) + 1
    const manifest = signShardManifest(this.#ctx.identity, marketId, shardId, sequence, lines, hashes, this.#ctx.now())
    this.#ctx.authorship.adopt(handle)
    this.#writing = handle.documentId
    try {
      handle.change(
      d => {
        d.chunks ??= {}
        for (const id of touched) {
          const text = texts.get(id)
          if (text === undefined) delete d.chunks[id]
          else d.chunks[id] = imm(text)
        }
        d.manifest = imm(canonicalJson(manifest))
      },
      { message: `publish ${put.length} item(s)${drop.length ? `, move ${drop.length} out` : ""} in shard ${shardId} (by ${this.#self})` },
      )
    } finally {
      this.#writing = undefined
    }
    this.#ctx.authorship.signLatest(handle)
    // what the change holds, known without decoding it again
    const sums = new Map(lines.map(l => [l.itemId, l.checksum as Checksum]))
    const chunks = new Map<string, Map<string, DecodedItem>>()
    const accepted = new Map<string, DecodedOk>()
    for (const [chunkId, items] of byChunk) {
      if (items.size === 0) continue
      const kept = touched.has(chunkId) ? undefined : held.get(chunkId)
      const decoded = new Map<string, DecodedItem>()
      for (const [itemId, item] of items) {
        // an untouched chunk keeps its decoded items (so the index sees them unchanged)
        const k = kept?.get(itemId)
        const d = k?.ok ? k : new DecodedOk(item, sums.get(itemId)!)
        decoded.set(itemId, d)
        accepted.set(itemId, d)
      }
      chunks.set(chunkId, decoded)
    }
    const prior = this.#shards.get(handle.documentId)
    if (prior) {
      const verification = { manifestProblem: null, accepted, rejected: [], sequence }
      this.#shards.set(handle.documentId, { member: prior.member, chunks, hashes, verification })
      this.#entries.delete(marketId)
      this.#delta(prior.member, prior.verification.accepted, verification)
      this.events.emit("changed", marketId)
    }
  }

  /** Withdraws this hub's item: a new version with `withdrawn: true`. */
  async withdraw(market: DocHandle<MarketDoc>, config: MarketplaceConfig, itemId: string): Promise<CatalogEntry> {
    const current = this.#ownItem(market.documentId, itemId)
    if (current.withdrawn) throw new FedhubError("INVALID_INPUT", `${itemId} is withdrawn already`)
    const { marketplaceId: _m, originNodeId: _o, version: _v, ...rest } = current
    const [entry] = await this.publish(market, config, [{ ...rest, withdrawn: true }])
    return entry!
  }

  /** A new version of this hub's item with `changes` applied (fields set to null are removed). */
  async update(market: DocHandle<MarketDoc>, config: MarketplaceConfig, itemId: string, changes: Record<string, unknown>): Promise<CatalogEntry> {
    const current = this.#ownItem(market.documentId, itemId)
    const { marketplaceId: _m, originNodeId: _o, version: _v, ...rest } = current
    const next: Record<string, unknown> = { ...rest, ...changes, itemId }
    for (const [k, v] of Object.entries(changes)) if (v === null) delete next[k]
    const [entry] = await this.publish(market, config, [next as ItemInput])
    return entry!
  }

  #ownItem(marketId: string, itemId: string): MarketItem {
    const gid = globalIdOf(this.#self, itemId)
    const entry = this.entries(marketId).get(gid)
    if (entry) return entry.item
    const anyOrigin = [...this.entries(marketId).values()].find(e => e.item.itemId === itemId)
    if (anyOrigin) throw new FedhubError("NOT_ORIGIN", `only the origin ${anyOrigin.item.originNodeId} may change ${anyOrigin.globalId}`)
    throw new FedhubError("NOT_FOUND", `this hub has published no item ${itemId} in ${marketId}`)
  }

  /** Whether an item is shown under the curation policy: origin is a curator, or approved by one (latest decision wins). */
  static approvedBy(config: MarketplaceConfig, approvals: readonly unknown[], marketId: string): (entry: CatalogEntry) => boolean {
    if (!config.catalog.curationPolicy.requiresApproval) return () => true
    const curators = new Set<string>([config.creator, ...config.catalog.curationPolicy.curators])
    const decision = new Map<string, { approved: boolean; time: number; id: string }>()
    for (const value of approvals) {
      const o = openSigned(value, MARKET_PURPOSE.itemApproval, "marketplace#ItemApproval")
      if (!o.ok || !curators.has(o.env.signer) || o.env.payload.marketplaceId !== marketId) continue
      const held = decision.get(o.env.payload.itemGlobalId)
      if (!held || o.env.time > held.time || (o.env.time === held.time && o.id > held.id))
        decision.set(o.env.payload.itemGlobalId, { approved: o.env.payload.approved, time: o.env.time, id: o.id })
    }
    return entry => curators.has(entry.item.originNodeId) || decision.get(entry.globalId)?.approved === true
  }
}
