/**
 * The verified actor bindings and signed heads this hub knows, per document
 * (docs/ACCESS.md §2, §3): what attributes each change to its author here, and what
 * this hub forwards with the changes it sends on. Kept in an append-only file
 * (`<home>/signatures.jsonl`, one record a line), rewritten without stale records when
 * it has grown to several times what is kept; a torn last line is ignored.
 */
import { appendFile } from "node:fs/promises"
import { FedhubError, toFedhubError, type ErrorCode } from "../errors.ts"
import type { NodeId } from "../identity/index.ts"
import { readOptionalFile, writeFileAtomic } from "./jsonFile.ts"
import { ACTOR_BINDING_PURPOSE, verifyBinding, type ActorBindingRecord } from "./access/actorBinding.ts"
import { HEADS_PURPOSE, recordCacheKey, verifyHeads, type SignedHeadsRecord } from "./access/signedHeads.ts"
import { recordId, type RefusedRecord } from "./access/policy.ts"
import type { RecordLog } from "./recordLog.ts"

/** Signed heads kept per (document, actor): the newest ones (only the latest applied is ever needed). */
const HEADS_PER_ACTOR = 16
/** Bindings kept per (document, node) that name no signed change yet (those that do are all kept, up to MAX_ACTORS). */
const BINDINGS_PER_NODE = 16
/** Actors kept per document. */
const MAX_ACTORS = 4096

/** One line of the file. */
type Line = { d: string; b: unknown } | { d: string; h: unknown }

interface DocSignatures {
  /** actor → its binding */
  bindings: Map<string, ActorBindingRecord>
  /** actor → its signed heads, oldest first */
  heads: Map<string, SignedHeadsRecord[]>
  /** change hash → the newest record naming it */
  byHash: Map<string, SignedHeadsRecord>
}

/** What `add` kept and refused. */
export interface AddedSignatures {
  added: number
  refused: RefusedRecord[]
}

export class SignatureStore {
  readonly path: string | undefined
  #docs = new Map<string, DocSignatures>()
  /** `recordCacheKey`s of every record kept: verified once, never again (attributeChanges' cache). */
  readonly verified = new Set<string>()
  #lines = 0
  #writing: Promise<void> = Promise.resolve()
  #closed = false

  /** With it, records live in this shared log (several processes of one identity) instead of the file. */
  readonly #log?: RecordLog

  private constructor(path: string | undefined, log?: RecordLog) {
    this.path = path
    this.#log = log
  }

  /**
   * Opens the store at `path` (absent: empty; undefined: in memory only), or on a shared
   * `log` (whose lines other processes append too). Lines that do not verify are dropped.
   */
  static async open(path: string | undefined, opts: { log?: RecordLog } = {}): Promise<SignatureStore> {
    const store = new SignatureStore(path, opts.log)
    const take = (line: Line | null): void => {
      if (typeof line?.d !== "string") return
      if ("b" in line) store.#keep(line.d, [line.b], [])
      else if ("h" in line) store.#keep(line.d, [], [line.h])
    }
    if (opts.log) {
      for (const line of await opts.log.load()) take(line as Line)
      opts.log.onRemote?.(lines => lines.forEach(l => take(l as Line)))
      return store
    }
    const text = path ? await readOptionalFile(path) : undefined
    for (const raw of text?.split("\n") ?? []) {
      if (raw.trim() === "") continue
      let line: Line
      try {
        line = JSON.parse(raw) as Line
      } catch {
        continue // a torn last line after a crash
      }
      store.#lines++
      take(line)
    }
    return store
  }

  /** Whether any binding of the document is known. */
  has(documentId: string): boolean {
    return this.#docs.has(documentId)
  }

  /** The node an actor of the document is bound to, if a valid binding is known. */
  authorOf(documentId: string, actor: string): NodeId | undefined {
    return this.#docs.get(documentId)?.bindings.get(actor)?.signer
  }

  /** The binding of an actor. */
  binding(documentId: string, actor: string): ActorBindingRecord | undefined {
    return this.#docs.get(documentId)?.bindings.get(actor)
  }

  /** Every binding of the document. */
  bindings(documentId: string): ActorBindingRecord[] {
    return [...(this.#docs.get(documentId)?.bindings.values() ?? [])]
  }

  /** The newest signed heads naming change `hash`. */
  headsNaming(documentId: string, hash: string): SignedHeadsRecord | undefined {
    return this.#docs.get(documentId)?.byHash.get(hash)
  }

  /** The signed heads kept for an actor, oldest first. */
  headsOf(documentId: string, actor: string): SignedHeadsRecord[] {
    return this.#docs.get(documentId)?.heads.get(actor) ?? []
  }

  /**
   * Verifies and keeps bindings and signed heads of a document (from a peer or this hub),
   * one ed25519 verification per record not seen before; what does not verify is refused.
   */
  async add(documentId: string, bindings: readonly unknown[], heads: readonly unknown[]): Promise<AddedSignatures> {
    const result = this.#keep(documentId, bindings, heads)
    if (result.lines.length > 0) await this.#append(result.lines)
    return { added: result.lines.length, refused: result.refused }
  }

  /** Keeps a record this hub just signed (valid by construction) without waiting for the disk. */
  keepOwn(documentId: string, record: ActorBindingRecord | SignedHeadsRecord, kind: "binding" | "heads"): void {
    // signed here a moment ago: not checked against the schema and verified again (that was half a write's cost)
    const result = kind === "binding" ? this.#keep(documentId, [record], [], true) : this.#keep(documentId, [], [record], true)
    if (result.lines.length > 0) this.#append(result.lines).catch(() => {}) // re-signed on demand if lost
  }

  /** Waits for pending writes. */
  async flush(): Promise<void> {
    await this.#writing.catch(() => {})
  }

  /** Waits for pending writes, then keeps later records in memory only (the home may be going away). */
  async close(): Promise<void> {
    await this.flush()
    this.#closed = true
    await this.#log?.close()
  }

  #keep(documentId: string, bindings: readonly unknown[], heads: readonly unknown[], own = false): { lines: Line[]; refused: RefusedRecord[] } {
    const lines: Line[] = []
    const refused: RefusedRecord[] = []
    const refuse = (record: unknown, e: unknown): void => {
      const err = toFedhubError(e)
      refused.push({ id: recordId(record), code: err.code as ErrorCode, reason: err.detail, record })
    }
    let doc = this.#docs.get(documentId)
    const docOf = (): DocSignatures => {
      if (!doc) this.#docs.set(documentId, (doc = { bindings: new Map(), heads: new Map(), byHash: new Map() }))
      return doc
    }
    for (const record of bindings) {
      try {
        const b = own ? (record as ActorBindingRecord) : (this.#seen<ActorBindingRecord>(record, ACTOR_BINDING_PURPOSE, documentId) ?? verifyBinding(record, { documentId }))
        const d = docOf()
        if (d.bindings.has(b.payload.actorId)) continue
        if (d.bindings.size >= MAX_ACTORS) throw new FedhubError("RATE_LIMITED", `${documentId} already has ${MAX_ACTORS} actors`)
        // past the cap a node's bindings that name no signed change make room; the ones its
        // changes need are kept (every run of a hub writes under a new epoch), up to MAX_ACTORS
        const idle = [...d.bindings.values()].filter(x => x.signer === b.signer && !d.heads.has(x.payload.actorId))
        const ofNode = [...d.bindings.values()].filter(x => x.signer === b.signer).length
        if (ofNode >= BINDINGS_PER_NODE && idle.length > 0) d.bindings.delete(idle.reduce((a, x) => (x.payload.epoch < a.payload.epoch ? x : a)).payload.actorId)
        d.bindings.set(b.payload.actorId, b)
        this.verified.add(recordCacheKey(recordId(b)!, b.sig))
        lines.push({ d: documentId, b })
      } catch (e) {
        refuse(record, e)
      }
    }
    for (const record of heads) {
      try {
        const h = own ? (record as SignedHeadsRecord) : (this.#seen<SignedHeadsRecord>(record, HEADS_PURPOSE, documentId) ?? verifyHeads(record, documentId))
        const d = docOf()
        const list = d.heads.get(h.payload.actor) ?? []
        if (list.some(x => x.sig === h.sig)) continue
        if (!d.heads.has(h.payload.actor) && d.heads.size >= MAX_ACTORS)
          throw new FedhubError("RATE_LIMITED", `${documentId} already has signed heads of ${MAX_ACTORS} actors`)
        list.push(h)
        if (list.length > HEADS_PER_ACTOR) {
          const old = list.shift()!
          for (const hash of old.payload.heads) if (d.byHash.get(hash) === old) d.byHash.delete(hash)
        }
        d.heads.set(h.payload.actor, list)
        for (const hash of h.payload.heads) d.byHash.set(hash, h)
        this.verified.add(recordCacheKey(recordId(h)!, h.sig))
        lines.push({ d: documentId, h })
      } catch (e) {
        refuse(record, e)
      }
    }
    return { lines, refused }
  }

  /** A record of this purpose and document verified before (its cache key is known): returned typed without a second verification. */
  #seen<T>(record: unknown, purpose: string, documentId: string): T | undefined {
    const r = record as { sig?: unknown; purpose?: unknown; payload?: { documentId?: unknown } } | null
    const sig = r?.sig
    if (typeof sig !== "string" || r?.purpose !== purpose || r.payload?.documentId !== documentId) return undefined
    const id = recordId(record)
    return id !== undefined && this.verified.has(recordCacheKey(id, sig)) ? (record as T) : undefined
  }

  #append(lines: Line[]): Promise<void> {
    if (this.#log) return this.#closed ? Promise.resolve() : (this.#writing = this.#log.append(lines))
    const path = this.path
    if (!path || this.#closed) return Promise.resolve()
    this.#writing = this.#writing
      .catch(() => {})
      .then(async () => {
        this.#lines += lines.length
        if (this.#lines > 4 * this.#kept() + 1_000) await this.#compact()
        else await appendFile(path, lines.map(l => JSON.stringify(l)).join("\n") + "\n", { mode: 0o600 })
      })
    return this.#writing
  }

  #kept(): number {
    let n = 0
    for (const d of this.#docs.values()) {
      n += d.bindings.size
      for (const list of d.heads.values()) n += list.length
    }
    return n
  }

  /** Rewrites the file with what is kept (records dropped by the caps leave it). */
  async #compact(): Promise<void> {
    const out: string[] = []
    for (const [d, doc] of this.#docs) {
      for (const b of doc.bindings.values()) out.push(JSON.stringify({ d, b }))
      for (const list of doc.heads.values()) for (const h of list) out.push(JSON.stringify({ d, h }))
    }
    await writeFileAtomic(this.path!, out.join("\n") + (out.length > 0 ? "\n" : ""))
    this.#lines = out.length
  }
}
