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
import { globalIdOf, validateItem, type Checksum, type GlobalId } from "./items.ts"
import { imm, SHARD_KIND, str, type MarketDoc, type ShardDoc } from "./marketDocs.ts"
import type { Member, MemberDocs } from "./MemberDocs.ts"
import { chunkHash, chunkIdFor, decodeChunk, DecodedOk, encodeStoredChunk, itemForms, placeOf, shardIdFor, ShardItems, signShardManifest, verifyChunks, type DecodedItem, type RejectedItem, type ShardLine, type ShardVerification } from "./shard.ts"
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

/** The accepted item `itemId` of chunk `chunkId`: through the chunk when the accepted items are read through chunks (no hash), else by id. */
const heldIn = (accepted: ShardVerification["accepted"], chunkId: string, itemId: string): DecodedOk | undefined =>
  accepted.getIn ? accepted.getIn(chunkId, itemId) : accepted.get(itemId)

/** Whether two plain JSON values (decoded items) are equal, without serializing or hashing them. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) if (!Object.hasOwn(b, k) || !sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  return true
}

/** What a publish did: how many item versions it wrote, and the manifest of each shard it changed. */
export interface PublishResult {
  published: number
  shards: { shard: string; documentId: string; manifestSequence: number; items: number }[]
  /** The published versions' entries, in input order (built on demand: a publish of 1M items needs none). */
  entries(): CatalogEntry[]
}

/** An item to write, with its chunk (placeOf) known. */
interface Placed {
  item: MarketItem
  chunk: string
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
    /** The verified versions a shard change added or replaced (their payloads: no entry object per item), the items it no longer holds, and whether this hub wrote it. */
    items: [marketId: string, upserted: MarketItem[], removed: GlobalId[], local: boolean]
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
   * Re-checks a shard against its manifest (one signature, one hash per chunk touched):
   * only the chunks a change touched are decoded again, the rest come from the last check.
   */
  #verify(m: Member<ShardDoc>, patches?: readonly Patch[]): void {
    const doc = m.handle.doc()
    const shardId = m.key.slice(m.key.indexOf("/") + 1)
    const ctx = { marketplaceId: m.marketId, origin: m.owner, shardId }
    const held = this.#shards.get(m.handle.documentId)
    const touched = patches && held ? touchedChunks(patches) : null
    const fresh = touched === null || !held
    // a shallow copy of the chunk maps (256 entries): the last verification keeps reading its own
    const chunks = fresh ? new Map<string, Map<string, DecodedItem>>() : new Map(held.chunks)
    const hashes = fresh ? new Map<string, string>() : new Map(held.hashes)
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
    const verification = verifyChunks(parsed, chunks, hashes, ctx)
    this.#shards.set(m.handle.documentId, { member: m, chunks, hashes, verification })
    this.#entries.delete(m.marketId)
    this.#delta(m, held?.verification, verification)
  }

  /**
   * Tells the index what a shard change did: upserts for new or changed versions, removals
   * for items gone. Chunks are compared first: a chunk map both verifications share (no
   * change touched it) holds the same decoded items, so only re-decoded chunks are compared
   * item by item (by version, then by content: a deep comparison, not two checksums).
   */
  #delta(m: Member<ShardDoc>, before: ShardVerification | undefined, after: ShardVerification) {
    const upserted: MarketItem[] = []
    const removed: GlobalId[] = []
    const b = before?.accepted instanceof ShardItems ? before.accepted : undefined
    const a = after.accepted instanceof ShardItems ? after.accepted : undefined
    if (a && (b || !before || before.accepted.size === 0)) {
      for (const [chunkId, items] of a.chunks) {
        const old = b?.chunks.get(chunkId)
        if (old === items) continue
        for (const [itemId, d] of items) {
          const o = old?.get(itemId)
          if (o === d) continue
          if (!o || o.item.version !== d.item.version || !sameJson(o.item, d.item)) upserted.push(d.item)
        }
      }
      if (b) for (const [chunkId, items] of b.chunks) {
        const now = a.chunks.get(chunkId)
        if (now === items) continue
        for (const itemId of items.keys()) if (!now?.has(itemId)) removed.push(globalIdOf(m.owner, itemId))
      }
    } else {
      // one side failed verification (an empty plain map): everything it holds is new or gone
      for (const [itemId, d] of after.accepted) {
        const o = before?.accepted.get(itemId)
        if (!o || (o !== d && (o.item.version !== d.item.version || !sameJson(o.item, d.item)))) upserted.push(d.item)
      }
      for (const itemId of before?.accepted.keys() ?? []) if (!after.accepted.has(itemId)) removed.push(globalIdOf(m.owner, itemId))
    }
    if (upserted.length > 0 || removed.length > 0) this.events.emit("items", m.marketId, upserted, removed, false)
  }

  /** The verified entry of `globalId` in a marketplace (its greatest version), found through its origin's shards without building a view. */
  entry(marketId: string, globalId: string): CatalogEntry | undefined {
    const colon = globalId.indexOf(":")
    if (colon < 0) return undefined
    const origin = globalId.slice(0, colon)
    const itemId = globalId.slice(colon + 1)
    const chunkId = chunkIdFor(itemId)
    let best: CatalogEntry | undefined
    for (const s of this.#shards.values()) {
      if (s.member.marketId !== marketId || s.member.owner !== origin) continue
      const d = heldIn(s.verification.accepted, chunkId, itemId)
      if (d && (!best || best.item.version < d.item.version)) best = entryOf(globalId as GlobalId, d, s.member.key.slice(s.member.key.indexOf("/") + 1), s.verification.sequence ?? 0)
    }
    return best
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
   * Answers counts and the shards written; `entries()` builds the published entries when asked.
   */
  async publish(market: DocHandle<MarketDoc>, config: MarketplaceConfig, inputs: readonly ItemInput[]): Promise<PublishResult> {
    const marketId = market.documentId
    assertMayWrite(this.#ctx.policies.effective(marketId), this.#self)
    // this hub's verified shards of the marketplace: an item's held version is looked up in its chunk of each
    const mine = [...this.#shards.values()].filter(s => s.member.marketId === marketId && s.member.owner === this.#self)
    const heldOf = (itemId: string, chunkId: string): { item: MarketItem; shard: string } | undefined => {
      let best: { item: MarketItem; shard: string } | undefined
      for (const s of mine) {
        const d = heldIn(s.verification.accepted, chunkId, itemId)
        if (d && (!best || best.item.version < d.item.version)) best = { item: d.item, shard: s.member.key.slice(s.member.key.indexOf("/") + 1) }
      }
      return best
    }
    const byShard = new Map<string, { put: Placed[]; drop: string[] }>()
    const slot = (shard: string) => byShard.get(shard) ?? byShard.set(shard, { put: [], drop: [] }).get(shard)!
    const failures: string[] = []
    const seen = new Set<string>()
    const order: Placed[] = []
    for (const input of inputs) {
      const id = (input as { itemId?: unknown }).itemId
      const itemId = typeof id === "string" ? id : ""
      if (seen.has(itemId)) {
        failures.push(`${String(id)}: listed twice`)
        continue
      }
      seen.add(itemId)
      const place = placeOf({ itemId })
      const current = mine.length > 0 ? heldOf(itemId, place.chunk) : undefined
      const version = input.version ?? (current ? current.item.version + 1 : 1)
      if (current && version <= current.item.version) {
        failures.push(`${String(id)}: version ${version} is not newer than the held version ${current.item.version}`)
        continue
      }
      // Object.assign, not a spread with extra keys: the spread made a dictionary-mode object here
      // (about 500 bytes and 9 µs an item against 150 bytes and 2 µs); an own "__proto__" key
      // (JSON.parse makes one) would set the prototype through assign, so that input is spread
      const fields = { marketplaceId: marketId, originNodeId: this.#self, version }
      const item = (Object.hasOwn(input, "__proto__") ? { ...input, ...fields } : Object.assign({}, input, fields)) as MarketItem
      const check = validateItem(config, item, marketId)
      if (!check.ok) {
        for (const f of check.failures) failures.push(`${String(id)}: ${f}`)
        continue
      }
      if (failures.length > 0) continue
      // an item whose licence changed moves shard: it leaves the old one in the same publish
      const shard = item.allowedNodes && item.allowedNodes.length > 0 ? shardIdFor(item) : place.shard
      const placed = { item, chunk: place.chunk }
      slot(shard).put.push(placed)
      order.push(placed)
      if (current && current.shard !== shard) slot(current.shard).drop.push(itemId)
    }
    if (failures.length > 0) {
      const replayed = failures.every(f => /is not newer than/.test(f))
      throw new FedhubError(replayed ? "VERSION_REPLAYED" : "ITEM_INVALID", `${failures.length} failure(s): ${failures.slice(0, 20).join("; ")}`, { failures })
    }
    const touched: string[] = []
    const shards: PublishResult["shards"] = []
    for (const [shardId, { put, drop }] of byShard) {
      const allowed = shardId.startsWith("r-") ? (put[0]?.item.allowedNodes as NodeId[] | undefined) : undefined
      const handle = await this.#ctx.members.own<ShardDoc>(market, SHARD_KIND, shardId, allowed)
      const r = this.#write(handle, marketId, shardId, put, drop)
      // the inputs of a shard written are not needed any more (a 1M publish holds them all otherwise)
      put.length = 0
      touched.push(handle.documentId)
      shards.push({ shard: shardId, documentId: handle.documentId, ...r })
    }
    await this.#ctx.flush(touched)
    const self = this.#self
    return {
      published: order.length,
      shards,
      entries: () => order.map(p => this.entry(marketId, globalIdOf(self, p.item.itemId))).filter((e): e is CatalogEntry => e !== undefined),
    }
  }

  /**
   * One change to one of our shards: the chunks touched (each item written serialized
   * once, for its checksum and its stored form) and the manifest over the result. The
   * writer knows what the change holds, so nothing is decoded again.
   */
  #write(handle: DocHandle<ShardDoc>, marketId: string, shardId: string, put: readonly Placed[], drop: readonly string[]): { manifestSequence: number; items: number } {
    const prior = this.#shards.get(handle.documentId)
    const held: ReadonlyMap<string, ReadonlyMap<string, DecodedItem>> = prior?.chunks ?? new Map<string, Map<string, DecodedItem>>()
    const edits = new Map<string, { put: MarketItem[]; drop: Set<string> }>()
    const edit = (chunkId: string) => edits.get(chunkId) ?? edits.set(chunkId, { put: [], drop: new Set() }).get(chunkId)!
    for (const itemId of drop) edit(chunkIdFor(itemId)).drop.add(itemId)
    for (const p of put) edit(p.chunk).put.push(p.item)
    // the chunks after the change: untouched ones keep their decoded items (so the index sees them unchanged)
    const chunks = new Map<string, Map<string, DecodedItem>>()
    for (const [chunkId, items] of held) chunks.set(chunkId, items as Map<string, DecodedItem>)
    const texts = new Map<string, string | undefined>()
    let removed = 0
    for (const [chunkId, e] of edits) {
      const next = new Map<string, DecodedItem>()
      const stored = new Map<string, string>()
      for (const item of e.put) {
        const forms = itemForms(item)
        next.set(item.itemId, new DecodedOk(item, forms.checksum))
        stored.set(item.itemId, forms.stored)
      }
      // the items the chunk keeps (only those that decode: an interrupted write's leftovers are dropped)
      for (const [itemId, d] of held.get(chunkId) ?? []) {
        if (next.has(itemId)) continue
        if (e.drop.has(itemId)) {
          if (d.ok) removed++
          continue
        }
        if (!d.ok) continue
        next.set(itemId, d)
        stored.set(itemId, itemForms(d.item).stored)
      }
      if (next.size === 0) {
        chunks.delete(chunkId)
        texts.set(chunkId, undefined)
      } else {
        chunks.set(chunkId, next)
        texts.set(chunkId, encodeStoredChunk(stored))
      }
    }
    // every item version the shard holds after the change, for the manifest's item digest
    const lines: ShardLine[] = []
    for (const items of chunks.values()) for (const [itemId, d] of items) if (d.ok) lines.push({ itemId, version: d.item.version, checksum: d.checksum })
    const hashes = new Map(prior?.hashes ?? [])
    for (const [id, text] of texts) {
      if (text === undefined) hashes.delete(id)
      else hashes.set(id, chunkHash(text))
    }
    const sequence = (prior?.verification.sequence ?? 0) + 1
    const manifest = signShardManifest(this.#ctx.identity, marketId, shardId, sequence, lines, hashes, this.#ctx.now())
    this.#ctx.authorship.adopt(handle)
    this.#writing = handle.documentId
    try {
      handle.change(
        d => {
          d.chunks ??= {}
          for (const [id, text] of texts) {
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
    if (prior) {
      const clean = prior.verification.manifestProblem === null && prior.verification.rejected.length === 0 && prior.verification.accepted instanceof ShardItems
      if (!clean) {
        // the shard held items that did not verify (an interrupted write): check the result as a replica would
        this.#verify(prior.member)
      } else {
        const verification: ShardVerification = { manifestProblem: null, accepted: new ShardItems(chunks as Map<string, Map<string, DecodedOk>>, lines.length), rejected: [], sequence }
        this.#shards.set(handle.documentId, { member: prior.member, chunks, hashes, verification })
        this.#entries.delete(marketId)
        // what changed is what was written: the new versions, and the items moved out
        const upserted = put.map(p => p.item)
        const gone = removed > 0 ? drop.filter(id => prior.verification.accepted.has(id)).map(id => globalIdOf(this.#self, id)) : []
        if (upserted.length > 0 || gone.length > 0) this.events.emit("items", marketId, upserted, gone, true)
      }
      this.events.emit("changed", marketId)
    }
    return { manifestSequence: sequence, items: lines.length }
  }

  /** Withdraws this hub's item: a new version with `withdrawn: true`. */
  async withdraw(market: DocHandle<MarketDoc>, config: MarketplaceConfig, itemId: string): Promise<CatalogEntry> {
    const current = this.#ownItem(market.documentId, itemId)
    if (current.withdrawn) throw new FedhubError("INVALID_INPUT", `${itemId} is withdrawn already`)
    const { marketplaceId: _m, originNodeId: _o, version: _v, ...rest } = current
    const [entry] = (await this.publish(market, config, [{ ...rest, withdrawn: true }])).entries()
    return entry!
  }

  /** A new version of this hub's item with `changes` applied (fields set to null are removed). */
  async update(market: DocHandle<MarketDoc>, config: MarketplaceConfig, itemId: string, changes: Record<string, unknown>): Promise<CatalogEntry> {
    const current = this.#ownItem(market.documentId, itemId)
    const { marketplaceId: _m, originNodeId: _o, version: _v, ...rest } = current
    const next: Record<string, unknown> = { ...rest, ...changes, itemId }
    for (const [k, v] of Object.entries(changes)) if (v === null) delete next[k]
    const [entry] = (await this.publish(market, config, [next as ItemInput])).entries()
    return entry!
  }

  #ownItem(marketId: string, itemId: string): MarketItem {
    const entry = this.entry(marketId, globalIdOf(this.#self, itemId))
    if (entry) return entry.item
    const anyOrigin = [...this.entries(marketId).values()].find(e => e.item.itemId === itemId)
    if (anyOrigin) throw new FedhubError("NOT_ORIGIN", `only the origin ${anyOrigin.item.originNodeId} may change ${anyOrigin.globalId}`)
    throw new FedhubError("NOT_FOUND", `this hub has published no item ${itemId} in ${marketId}`)
  }

  /** Whether an item is shown under the curation policy: origin is a curator, or approved by one (latest decision wins). */
  static approvedBy(config: MarketplaceConfig, approvals: readonly unknown[], marketId: string): (entry: Pick<CatalogEntry, "item" | "globalId">) => boolean {
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
