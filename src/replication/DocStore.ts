/**
 * Document operations over one Repo, shared by the REST API (through a running hub)
 * and the CLI's --offline mode (straight from a stopped hub's storage).
 */
import * as A from "@automerge/automerge"
import type { DocHandle, DocumentId, Repo } from "@automerge/automerge-repo"
import { FedhubError } from "../errors.ts"
import { parseDocRef } from "./docRef.ts"
import { changeLog, conflicts, diffDocs, docAt, writtenBy, type AuthorOf, type ChangeEntry, type ConflictEntry, type Heads, type ReadablePatch, type WrittenValue } from "./history.ts"
import { deleteAt, fromPlain, parsePath, setAt, toPlain } from "./docValues.ts"
import type { Identity } from "../identity/index.ts"
import { assertMayRead, assertMayWrite, nextPolicy, type PolicyLists, type PolicyState, type RefusedRecord } from "./access/policy.ts"
import type { PolicyStore } from "./PolicyStore.ts"
import type { Authorship } from "./Authorship.ts"
import { createOwnedDocument } from "./ownedDocument.ts"
import type { RefusedChange } from "./InboundGate.ts"

/** Who may do what with a document, as `share`/`unshare` change it. */
export interface ShareOptions {
  /** Node ids (or "public") that may read. */
  readers?: string[]
  /** Node ids that may write (and so read). */
  writers?: string[]
  /** Node ids that may hold and forward it without reading. */
  relays?: string[]
}

/** A document's policy as the API and CLI show it. */
export interface PolicyView {
  documentId: string
  owner?: string
  version?: number
  admins: string[]
  writers: string[]
  readers: string[]
  relays: string[]
  /** More than one concurrent version not yet merged by an admin (rule 4). */
  conflict: boolean
  heads: string[]
  refused: Omit<RefusedRecord, "record">[]
  /** True for a document created before policies (legacy `fedhub:acl`, or shared with every hub). */
  legacy: boolean
  /** Changes this hub refused for their author (from a running hub's API). */
  refusedChanges?: RefusedChange[]
}

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
  /** Deepest nesting a write may give a document (the peers' limit too: README "Limits"). */
  readonly #maxDepth: number

  readonly #identity: Identity | undefined
  readonly #policies: PolicyStore | undefined
  readonly #authorship: Authorship | undefined
  readonly #nameOf: (nodeId: string) => string | undefined

  /**
   * `author` is written into every change message this store makes. With `identity`,
   * `policies` and `authorship`, documents are created under an owner-signed policy
   * (private to this hub unless shared) and written under this hub's bound actor; without
   * them, with no policy.
   */
  constructor(
    repo: Repo,
    opts: {
      findTimeoutMs?: number
      author: string
      maxDepth?: number
      identity?: Identity
      policies?: PolicyStore
      authorship?: Authorship
      /** The name of a node, for logs that show authors. */
      nameOf?: (nodeId: string) => string | undefined
    },
  ) {
    this.#nameOf = opts.nameOf ?? (() => undefined)
    this.repo = repo
    this.#identity = opts.identity
    this.#policies = opts.policies
    this.#authorship = opts.authorship
    this.#maxDepth = opts.maxDepth ?? 64
    this.#findTimeoutMs = opts.findTimeoutMs ?? 5_000
    this.#author = opts.author
  }

  /**
   * Creates a document from plain JSON (strings become ImmutableString unless `text`).
   * Like every write here, it resolves once the change is on disk: an acknowledged
   * write survives a crash.
   */
  async create(content: unknown = {}, opts: { text?: boolean } & ShareOptions = {}): Promise<DocSummary> {
    if (typeof content !== "object" || content === null || Array.isArray(content))
      throw new FedhubError("INVALID_INPUT", "a document's content must be a JSON object")
    if (ACL_KEY in content) throw new FedhubError("INVALID_INPUT", `${ACL_KEY} is reserved (sharing is the document's policy: the share option)`)
    const initial = fromPlain(content, { text: opts.text, maxDepth: this.#maxDepth }) as AnyDoc
    const message = this.#message("create")
    const identity = this.#identity
    const policies = this.#policies
    const authorship = this.#authorship
    if (!identity || !policies || !authorship) {
      // one first change that carries the content and our message (repo.create would add an empty one)
      const doc = Object.keys(initial).length === 0 ? A.emptyChange(A.init<AnyDoc>(), { message }) : A.change(A.init<AnyDoc>(), { message }, d => Object.assign(d, initial))
      return this.#durable(this.repo.import<AnyDoc>(A.save(doc)))
    }
    // the lists are checked (node ids or "public") when the record is built
    const lists = { readers: opts.readers, writers: opts.writers, relays: opts.relays } as Partial<PolicyLists>
    return this.#durable(await createOwnedDocument<AnyDoc>({ repo: this.repo, identity, policies, authorship }, initial, lists, message))
  }

  /** The document's policy (or that it has none: a legacy document). */
  async policy(ref: string): Promise<PolicyView> {
    const { documentId } = parseDocRef(ref)
    const state = this.#policies?.state(documentId)
    if (!state) return { documentId, admins: [], writers: [], readers: [], relays: [], conflict: false, heads: [], refused: [], legacy: true }
    return policyView(state)
  }

  /** Grants more: adds readers, writers or relays (a new policy version signed by this hub, which must be an admin). */
  async share(ref: string, add: ShareOptions): Promise<PolicyView> {
    return this.#changePolicy(ref, { add: add as Partial<PolicyLists> })
  }

  /** Takes rights away: removes nodes from readers, writers and relays. Running syncs with them stop at once. */
  async unshare(ref: string, nodes: string[]): Promise<PolicyView> {
    return this.#changePolicy(ref, { remove: { readers: nodes as PolicyLists["readers"], writers: nodes as PolicyLists["writers"], relays: nodes as PolicyLists["relays"] } })
  }

  async #changePolicy(ref: string, changes: Parameters<typeof nextPolicy>[2]): Promise<PolicyView> {
    const { documentId } = parseDocRef(ref)
    const state = this.#policies?.state(documentId)
    if (!state || !this.#identity || !this.#policies)
      throw new FedhubError("POLICY_INVALID", `${documentId} has no policy (a document from before policies); its sharing cannot change`)
    // the new version vouches for the document as this hub holds it (ACCESS.md §1, documentHeads)
    const held = this.repo.handles[documentId]
    const documentHeads = held?.isReady() ? A.getHeads(held.doc()) : undefined
    const record = nextPolicy(this.#identity, state, { ...changes, documentHeads })
    return policyView(await this.#policies.add(documentId, [record]))
  }

  /**
   * Finds a document by URL or id; DOC_NOT_FOUND if neither storage nor any peer has it,
   * NOT_A_READER when its policy does not let this hub read it (it only relays it).
   */
  async find(ref: string): Promise<DocHandle<AnyDoc>> {
    const { documentId } = parseDocRef(ref)
    const policies = this.#policies
    if (this.#identity && policies?.has(documentId)) assertMayRead(policies.effective(documentId), this.#identity.nodeId)
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
    this.#beforeWrite(handle)
    handle.change(d => setAt(d, segments, converted), { message: this.#message(opts.message ?? `put ${segments.join(".")}`) })
    return this.#durable(this.#signed(handle))
  }

  /** Deletes the value at a path. */
  async del(ref: string, path: string | (string | number)[], opts: { message?: string } = {}): Promise<DocSummary> {
    const handle = await this.find(ref)
    const segments = parsePath(path)
    this.#beforeWrite(handle)
    handle.change(d => deleteAt(d, segments), { message: this.#message(opts.message ?? `delete ${segments.join(".")}`) })
    return this.#durable(this.#signed(handle))
  }

  /** A line per change, newest first. */
  async log(ref: string, limit?: number): Promise<ChangeEntry[]> {
    const handle = await this.find(ref)
    return changeLog(handle.doc(), { limit, authorOf: this.#authorOf(handle.documentId) })
  }

  /** Who wrote what: every value now with its writers' nodes; `by` keeps one node's. */
  async writtenBy(ref: string, by?: string): Promise<WrittenValue[]> {
    const handle = await this.find(ref)
    return writtenBy(handle.doc(), this.#authorOf(handle.documentId), by)
  }

  /**
   * The author of each actor of a governed document: the node its verified binding names
   * (every change of it was checked on receipt). Other documents' changes are unattributed.
   */
  #authorOf(documentId: string): AuthorOf {
    const store = this.#authorship?.store
    if (!store || !this.#policies?.has(documentId)) return () => undefined
    return actor => {
      const nodeId = store.authorOf(documentId, actor)
      return nodeId === undefined ? undefined : { nodeId, name: this.#nameOf(nodeId) }
    }
  }

  /** Readable patches that take the document from heads `a` to heads `b`. */
  async diff(ref: string, a: Heads, b: Heads): Promise<ReadablePatch[]> {
    return diffDocs((await this.find(ref)).doc(), a, b)
  }

  /** Every field holding concurrent values (Rule 4: no silent last-writer-wins). */
  async conflicts(ref: string): Promise<ConflictEntry[]> {
    return conflicts((await this.find(ref)).doc())
  }

  /** NOT_A_WRITER when the policy does not let this hub write (peers would refuse it); then our bound actor. */
  #beforeWrite(handle: DocHandle<AnyDoc>): void {
    const policies = this.#policies
    if (!this.#identity || !policies?.has(handle.documentId)) return
    assertMayWrite(policies.effective(handle.documentId), this.#identity.nodeId)
    this.#authorship?.adopt(handle)
  }

  /** Signs the change just made (governed documents): its heads travel with it. */
  #signed(handle: DocHandle<AnyDoc>): DocHandle<AnyDoc> {
    if (this.#policies?.has(handle.documentId)) this.#authorship?.signLatest(handle)
    return handle
  }

  async #durable(handle: DocHandle<AnyDoc>): Promise<DocSummary> {
    await this.repo.flush([handle.documentId])
    return summarize(handle)
  }

  #message(what: string): string {
    return `${what} (by ${this.#author})`
  }
}

const policyView = (state: PolicyState): PolicyView => ({
  documentId: state.documentId,
  owner: state.effective?.owner,
  version: state.effective?.version,
  admins: state.effective?.admins ?? [],
  writers: state.effective?.writers ?? [],
  readers: state.effective?.readers ?? [],
  relays: state.effective?.relays ?? [],
  conflict: state.conflict,
  heads: state.heads,
  refused: state.refused.map(({ id, code, reason }) => ({ id, code, reason })),
  legacy: false,
})

const summarize = (handle: DocHandle<AnyDoc>): DocSummary => {
  const doc = handle.doc()
  return { url: handle.url, documentId: handle.documentId, heads: A.getHeads(doc), content: toPlain(doc) }
}
