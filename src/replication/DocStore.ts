/**
 * Document operations over one Repo, shared by the REST API (through a running hub)
 * and the CLI's --offline mode (straight from a stopped hub's storage).
 */
import * as A from "@automerge/automerge"
import type { DocHandle, Repo } from "@automerge/automerge-repo"
import { FedhubError } from "../errors.ts"
import { parseDocRef } from "./docRef.ts"
import { changeLog, conflicts, diffDocs, docAt, type ChangeEntry, type ConflictEntry, type Heads, type ReadablePatch } from "./history.ts"
import { deleteAt, fromPlain, parsePath, setAt, toPlain } from "./docValues.ts"

export interface DocSummary {
  url: string
  documentId: string
  heads: Heads
  content: unknown
}

type AnyDoc = Record<string, unknown>

/** The root key holding a document's access list (node ids); absent = every federated hub. */
export const ACL_KEY = "fedhub:acl"

/** The node ids a document's ACL admits, or undefined when it has none. */
export function aclOf(doc: unknown): string[] | undefined {
  const acl = (doc as Record<string, unknown> | undefined)?.[ACL_KEY]
  return Array.isArray(acl) ? acl.map(String) : undefined
}

export class DocStore {
  readonly repo: Repo
  readonly #findTimeoutMs: number
  readonly #author: string
  readonly #nodeId: string | undefined
  /** Deepest nesting a write may give a document (the peers' limit too: README "Limits"). */
  readonly #maxDepth: number

  /**
   * `author` is written into every change message this store makes; `nodeId`, the
   * hub whose storage this is, joins every ACL it creates.
   */
  constructor(repo: Repo, opts: { findTimeoutMs?: number; author: string; nodeId?: string; maxDepth?: number }) {
    this.repo = repo
    this.#maxDepth = opts.maxDepth ?? 64
    this.#findTimeoutMs = opts.findTimeoutMs ?? 5_000
    this.#author = opts.author
    this.#nodeId = opts.nodeId
  }

  /**
   * Creates a document from plain JSON (strings become ImmutableString unless `text`).
   * Like every write here, it resolves once the change is on disk: an acknowledged
   * write survives a crash.
   */
  async create(content: unknown = {}, opts: { text?: boolean; acl?: string[] } = {}): Promise<DocSummary> {
    if (typeof content !== "object" || content === null || Array.isArray(content))
      throw new FedhubError("INVALID_INPUT", "a document's content must be a JSON object")
    if (ACL_KEY in content) throw new FedhubError("INVALID_INPUT", `${ACL_KEY} is set with the acl option, not in content`)
    const initial = fromPlain(content, { text: opts.text, maxDepth: this.#maxDepth }) as AnyDoc
    if (opts.acl) initial[ACL_KEY] = [...new Set([...(this.#nodeId ? [this.#nodeId] : []), ...opts.acl])].sort().map(id => new A.ImmutableString(id))
    const options = { message: this.#message("create") }
    // one first change that carries the content and our message (repo.create would add an empty one)
    const doc =
      Object.keys(initial).length === 0
        ? A.emptyChange(A.init<AnyDoc>(), options)
        : A.change(A.init<AnyDoc>(), options, d => Object.assign(d, initial))
    return this.#durable(this.repo.import<AnyDoc>(A.save(doc)))
  }

  /** Finds a document by URL or id; DOC_NOT_FOUND if neither storage nor any peer has it. */
  async find(ref: string): Promise<DocHandle<AnyDoc>> {
    const { documentId } = parseDocRef(ref)
    try {
      return await this.repo.find<AnyDoc>(documentId, { signal: AbortSignal.timeout(this.#findTimeoutMs) })
    } catch (e) {
      const msg = (e as Error).message ?? String(e)
      throw new FedhubError("DOC_NOT_FOUND", `document ${documentId} is not here and no peer has it (${msg})`)
    }
  }

  /** The document now, or as it was at `heads`. */
  async show(ref: string, heads?: Heads): Promise<DocSummary> {
    const handle = await this.find(ref)
    const doc = handle.doc()
    return { ...summarize(handle), content: heads ? docAt(doc, heads) : toPlain(doc), heads: heads ?? A.getHeads(doc) }
  }

  /** Sets one value at a path (a local write; sync carries it to peers). */
  async put(ref: string, path: string | (string | number)[], value: unknown, opts: { text?: boolean; message?: string } = {}): Promise<DocSummary> {
    const handle = await this.find(ref)
    const segments = parsePath(path)
    if (segments.length - 1 > this.#maxDepth)
      throw new FedhubError("TOO_DEEP", `a path of ${segments.length} segments nests deeper than ${this.#maxDepth} levels, this hub's limit`)
    const converted = fromPlain(value, { text: opts.text, maxDepth: this.#maxDepth, atDepth: segments.length })
    handle.change(d => setAt(d, segments, converted), { message: this.#message(opts.message ?? `put ${segments.join(".")}`) })
    return this.#durable(handle)
  }

  /** Deletes the value at a path. */
  async del(ref: string, path: string | (string | number)[], opts: { message?: string } = {}): Promise<DocSummary> {
    const handle = await this.find(ref)
    const segments = parsePath(path)
    handle.change(d => deleteAt(d, segments), { message: this.#message(opts.message ?? `delete ${segments.join(".")}`) })
    return this.#durable(handle)
  }

  /** A line per change, newest first. */
  async log(ref: string, limit?: number): Promise<ChangeEntry[]> {
    return changeLog((await this.find(ref)).doc(), { limit })
  }

  /** Readable patches that take the document from heads `a` to heads `b`. */
  async diff(ref: string, a: Heads, b: Heads): Promise<ReadablePatch[]> {
    return diffDocs((await this.find(ref)).doc(), a, b)
  }

  /** Every field holding concurrent values (Rule 4: no silent last-writer-wins). */
  async conflicts(ref: string): Promise<ConflictEntry[]> {
    return conflicts((await this.find(ref)).doc())
  }

  async #durable(handle: DocHandle<AnyDoc>): Promise<DocSummary> {
    await this.repo.flush([handle.documentId])
    return summarize(handle)
  }

  #message(what: string): string {
    return `${what} (by ${this.#author})`
  }
}

const summarize = (handle: DocHandle<AnyDoc>): DocSummary => {
  const doc = handle.doc()
  return { url: handle.url, documentId: handle.documentId, heads: A.getHeads(doc), content: toPlain(doc) }
}
