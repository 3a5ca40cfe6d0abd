/**
 * The per-participant documents of a marketplace (catalog shards and activity documents):
 * creating this hub's own, keeping their readers in line with the marketplace's, and
 * finding and following everyone else's from the pointers in the marketplace document.
 *
 * - This hub writes a pointer only under a key it owns (`catalog["<self>/<shard>"]`,
 *   `activity[<self>]`); a pointer counts only when the document it names is owned (by
 *   its signed policy) by the node the key names and has the expected kind.
 * - A private marketplace's participants are its readers: when its policy gains a
 *   participant, each hub widens the readers of its own open shards and activity
 *   document by a new owner-signed version, so the newcomer is served them. Licensed
 *   shards keep exactly their `allowedNodes` as readers.
 * - Finding a document no peer serves (a licensed shard this hub may not read) ends at
 *   a timeout or "unavailable", and is retried when its policy or the marketplace
 *   changes, or a peer sends a sync message for it; never in a loop.
 */
import { EventEmitter } from "node:events"
import type { DocHandle, DocumentId, Repo } from "@automerge/automerge-repo"
import { getConflicts, type Patch } from "@automerge/automerge"
import { isNodeId, type Identity, type NodeId } from "../identity/index.ts"
import { mayRead, nextPolicy, PUBLIC, type Reader } from "../replication/access/policy.ts"
import type { Authorship } from "../replication/Authorship.ts"
import { createOwnedDocument } from "../replication/ownedDocument.ts"
import type { PolicyStore } from "../replication/PolicyStore.ts"
import { ACTIVITY_KIND, imm, kindOf, SHARD_KIND, str, type ActivityDoc, type MarketDoc, type ShardDoc } from "./marketDocs.ts"

/** What the member documents need of the hub. */
export interface MemberContext {
  repo: Repo
  identity: Identity
  policies: PolicyStore
  authorship: Authorship
  log: { warn: (obj: object, msg: string) => void }
  findTimeoutMs: number
}

/** A member document this hub follows. */
export interface Member<T> {
  kind: typeof SHARD_KIND | typeof ACTIVITY_KIND
  marketId: string
  /** The pointer's key: "<origin>/<shard>" for a shard, the node id for an activity document. */
  key: string
  owner: NodeId
  handle: DocHandle<T>
}

/** Events: a followed document is ready (`loaded`) or changed (`changed`, with its patches). */
interface MemberEvents {
  loaded: [member: Member<unknown>]
  changed: [member: Member<unknown>, patches: Patch[]]
  /** A pointer of the marketplace was found not to count (after looking for its document). */
  refused: [marketId: string]
}

/** A pointer in the marketplace document that does not count, and why. */
export interface RefusedPointer {
  section: "catalog" | "activity"
  key: string
  reason: string
}

export class MemberDocs {
  readonly events = new EventEmitter<MemberEvents>()
  readonly #ctx: MemberContext
  readonly #members = new Map<string, Member<unknown>>()
  readonly #finding = new Set<string>()
  /** Pointers that failed (document id → reason), retried when its policy or the marketplace changes. */
  readonly #refused = new Map<string, { marketId: string; pointer: RefusedPointer }>()
  /** When a sync message was last applied here (finds wait while documents keep arriving). */
  #progressAt = performance.now()
  /** Creating this hub's own documents: one at a time per pointer key. */
  readonly #creating = new Map<string, Promise<DocHandle<unknown>>>()

  constructor(ctx: MemberContext) {
    this.#ctx = ctx
    ctx.policies.events.on("changed", documentId => {
      const m = this.#members.get(documentId)
      if (m) return void this.events.emit("changed", m, [])
      const refused = this.#refused.get(documentId)
      if (refused) this.#retry(refused.marketId)
    })
    // a document no peer had when asked: looked for again when a peer offers it
    ctx.repo.on("doc-metrics", m => {
      if (m.type !== "receive-sync-message") return
      this.#progressAt = performance.now()
      const refused = this.#refused.get(m.documentId)
      if (refused) setImmediate(() => this.#retry(refused.marketId))
    })
  }

  get #self(): NodeId {
    return this.#ctx.identity.nodeId
  }

  /** Whether the document is a member document this hub follows. */
  has(documentId: string): boolean {
    return this.#members.has(documentId)
  }

  /** The followed member documents of a marketplace, of one kind. */
  of<T>(marketId: string, kind: Member<T>["kind"]): Member<T>[] {
    return [...this.#members.values()].filter(m => m.marketId === marketId && m.kind === kind) as Member<T>[]
  }

  /** The pointers of a marketplace that do not count. */
  refused(marketId: string): RefusedPointer[] {
    return [...this.#refused.values()].filter(r => r.marketId === marketId).map(r => r.pointer)
  }

  /** The readers this hub's open member documents of the marketplace should have: its readers, or its participants. */
  readersFor(marketId: string): Reader[] {
    const p = this.#ctx.policies.effective(marketId)
    if (!p) return []
    if (p.readers.includes(PUBLIC)) return [PUBLIC]
    return [...new Set<NodeId>([p.owner, ...p.admins, ...p.writers, ...(p.readers as NodeId[])])].filter(n => n !== this.#self).sort()
  }

  /**
   * This hub's own shard `shardId` (licensed to `allowed` when given) or activity document
   * (`shardId` undefined) in `market`: found from its pointer, or created and pointed to.
   */
  async own<T>(market: DocHandle<MarketDoc>, kind: Member<T>["kind"], shardId?: string, allowed?: readonly NodeId[]): Promise<DocHandle<T>> {
    const key = kind === SHARD_KIND ? `${this.#self}/${shardId}` : this.#self
    const section = kind === SHARD_KIND ? "catalog" : "activity"
    const pointed = str(market.doc()[section]?.[key])
    if (pointed && this.#members.get(pointed)?.owner === this.#self) return this.#members.get(pointed)!.handle as DocHandle<T>
    const busy = this.#creating.get(`${market.documentId}|${key}`)
    if (busy) return busy as Promise<DocHandle<T>>
    const run = this.#create<T>(market, kind, key, section, shardId, allowed)
    this.#creating.set(`${market.documentId}|${key}`, run as Promise<DocHandle<unknown>>)
    try {
      return await run
    } finally {
      this.#creating.delete(`${market.documentId}|${key}`)
    }
  }

  async #create<T>(market: DocHandle<MarketDoc>, kind: Member<T>["kind"], key: string, section: "catalog" | "activity", shardId?: string, allowed?: readonly NodeId[]): Promise<DocHandle<T>> {
    const marketId = market.documentId
    const base = { kind: imm(kind), marketplace: imm(marketId) }
    const initial = (kind === SHARD_KIND
      ? ({ ...base, origin: imm(this.#self), shard: imm(shardId!), chunks: {} } satisfies ShardDoc)
      : ({ ...base, node: imm(this.#self) } satisfies ActivityDoc)) as unknown as T & object
    const readers = allowed ? allowed.filter(n => n !== this.#self) : this.readersFor(marketId)
    const handle = await createOwnedDocument<T & object>(this.#ctx, initial, { readers }, `${kind === SHARD_KIND ? `catalog shard ${shardId}` : "activity"} of ${this.#self} in ${marketId}`)
    const member: Member<T> = { kind, marketId, key, owner: this.#self, handle: handle as DocHandle<T> }
    this.#follow(member)
    this.#ctx.authorship.adopt(market)
    market.change(
      d => {
        d[section] ??= {}
        d[section][key] = imm(handle.documentId)
      },
      { message: `point ${section} ${key} to ${handle.documentId} (by ${this.#self})` },
    )
    this.#ctx.authorship.signLatest(market)
    await this.#ctx.repo.flush([handle.documentId, marketId])
    return handle as DocHandle<T>
  }

  /** Follows every member document the marketplace points to (new pointers since the last call). */
  track(market: DocHandle<MarketDoc>): void {
    const doc = market.doc()
    const marketId = market.documentId
    for (const [section, kind] of [["catalog", SHARD_KIND], ["activity", ACTIVITY_KIND]] as const)
      for (const [key, docId] of pointersOf(doc[section])) {
        if (!docId || this.#members.has(docId) || this.#finding.has(docId)) continue
        const owner = section === "catalog" ? key.slice(0, key.indexOf("/")) : key
        const pointer = { section, key, reason: "" }
        if (!isNodeId(owner)) {
          this.#refused.set(docId, { marketId, pointer: { ...pointer, reason: `${key} does not name a node` } })
          continue
        }
        void this.#find(marketId, kind, key, owner, docId, pointer)
      }
    this.#keepReaders(marketId)
  }

  async #find(marketId: string, kind: Member<unknown>["kind"], key: string, owner: NodeId, docId: string, pointer: RefusedPointer): Promise<void> {
    const known = this.#ctx.policies.effective(docId)
    if (known && !mayRead(known, this.#self)) {
      this.#refused.set(docId, { marketId, pointer: { ...pointer, reason: "this hub is not one of its readers" } })
      return
    }
    this.#finding.add(docId)
    let stop: (() => void) | undefined
    try {
      const handle = await this.#ctx.repo.find<Record<string, unknown>>(docId as DocumentId, { signal: this.#findSignal(clear => (stop = clear)) })
      const policy = this.#ctx.policies.effective(docId)
      const doc = handle.doc()
      const why =
        policy?.owner !== owner ? `owned by ${policy?.owner ?? "nobody known"}, not ${owner}` :
        kindOf(doc) !== kind ? `not a ${kind} document` :
        str(doc.marketplace) !== marketId ? "a document of another marketplace" :
        kind === SHARD_KIND && `${str(doc.origin)}/${str(doc.shard)}` !== key ? `holds shard ${str(doc.origin)}/${str(doc.shard)}` :
        undefined
      if (why) {
        this.#refused.set(docId, { marketId, pointer: { ...pointer, reason: why } })
        return void this.events.emit("refused", marketId)
      }
      this.#refused.delete(docId)
      this.#follow({ kind, marketId, key, owner, handle })
    } catch (e) {
      this.#refused.set(docId, { marketId, pointer: { ...pointer, reason: `not available to this hub (${(e as Error).message})` } })
      this.events.emit("refused", marketId)
    } finally {
      stop?.()
      this.#finding.delete(docId)
    }
  }

  /**
   * Aborts a find once no sync message has been applied here for `findTimeoutMs` (or after
   * ten times that in all): a hub loading a large catalog's shards one after another is busy
   * for longer than the timeout, and a find given up then asked the origin for the whole
   * shard again (the bytes on the wire doubled). `onStop` gets the function that clears its timer.
   */
  #findSignal(onStop: (stop: () => void) => void): AbortSignal {
    const timeout = this.#ctx.findTimeoutMs
    const controller = new AbortController()
    const started = performance.now()
    let timer: ReturnType<typeof setTimeout>
    const check = () => {
      const now = performance.now()
      const idle = now - Math.max(this.#progressAt, started)
      if (idle >= timeout || now - started >= 10 * timeout) controller.abort(new DOMException(`no progress for ${Math.round(idle)} ms`, "TimeoutError"))
      else timer = setTimeout(check, timeout - idle)
    }
    timer = setTimeout(check, timeout)
    onStop(() => clearTimeout(timer))
    return controller.signal
  }

  #follow<T>(member: Member<T>): void {
    if (this.#members.has(member.handle.documentId)) return
    this.#members.set(member.handle.documentId, member as Member<unknown>)
    member.handle.on("change", ({ patches }) => this.events.emit("changed", member as Member<unknown>, patches))
    this.events.emit("loaded", member as Member<unknown>)
  }

  #retry(marketId: string): void {
    const market = this.#ctx.repo.handles[marketId as DocumentId] as DocHandle<MarketDoc> | undefined
    if (!market?.isReady()) return
    for (const [docId, r] of this.#refused) if (r.marketId === marketId) this.#refused.delete(docId)
    this.track(market)
  }

  /** Widens the readers of this hub's own open member documents to the marketplace's. */
  #keepReaders(marketId: string): void {
    const want = this.readersFor(marketId)
    for (const m of this.#members.values()) {
      if (m.marketId !== marketId || m.owner !== this.#self) continue
      if (m.kind === SHARD_KIND && m.key.slice(m.key.indexOf("/") + 1).startsWith("r-")) continue
      const state = this.#ctx.policies.state(m.handle.documentId)
      const have = new Set<string>(state?.effective?.readers ?? [])
      const missing = want.filter(r => !have.has(r))
      if (!state?.effective || missing.length === 0) continue
      void this.#ctx.policies
        .add(m.handle.documentId, [nextPolicy(this.#ctx.identity, state, { add: { readers: missing } })])
        .catch(e => this.#ctx.log.warn({ documentId: m.handle.documentId, err: (e as Error).message }, "could not widen a member document's readers"))
    }
  }
}

/**
 * Every document a section points to, concurrent values included: one node running twice
 * (a restored backup beside the original) creates two activity documents and points to
 * both at once; Automerge shows one, and following only it would hide the other's records.
 */
function pointersOf(section: MarketDoc["catalog"] | undefined): [key: string, docId: string][] {
  if (!section) return []
  return Object.keys(section).flatMap(key => {
    const values = Object.values(getConflicts(section, key) ?? { one: section[key] })
    return values.flatMap(v => (str(v) ? [[key, str(v)!] as [string, string]] : []))
  })
}
