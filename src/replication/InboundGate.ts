/**
 * The check every message from a hub passes before automerge-repo sees it: known
 * message types with well-formed fields, sync data measured against the limits
 * (operations, nesting depth), and a budget of documents this hub does not hold
 * that one peer may create or request. Both network adapters run it, so it holds
 * for links we accepted and links we dialed alike.
 */
import * as A from "@automerge/automerge"
import { cbor, isValidDocumentId, type DocHandle, type Message, type PeerId, type Repo } from "@automerge/automerge-repo"
import { FedhubError } from "../errors.ts"
import { depthInDoc, inspectSyncMessage, type Backend, type ChangeLimits } from "./inspectChanges.ts"
import { MAX_POLICY_RECORDS_PER_FRAME, POLICY_FRAME } from "./PolicyAnnouncer.ts"
import type { PolicyStore } from "./PolicyStore.ts"
import { mayRead, mayWrite, recordId } from "./access/policy.ts"
import { accepted, attributeChanges, refuseNonWriters, type Attribution, type ChangeMeta, type SignedHeadsRecord } from "./access/signedHeads.ts"
import { MAX_SIGNATURE_RECORDS_PER_FRAME, SIGNATURES_FRAME } from "./SignatureAnnouncer.ts"
import type { SignatureStore } from "./SignatureStore.ts"
import { verifyEphemeral, type SignedEphemeralMessage } from "./access/ephemeralSignature.ts"
import { isNodeId } from "../identity/index.ts"
import { SequenceGuard } from "./SequenceGuard.ts"
import { noteArrived } from "./createRepo.ts"

/**
 * What to do with a message that passed: hand the Repo the message rebuilt from its known
 * fields only (nothing else a peer put in a frame reaches automerge-repo), or answer
 * `doc-unavailable` ourselves.
 */
export type GateVerdict = { deliver: Message } | "unavailable" | "consumed"

/**
 * The interface the adapters call; throws a FedhubError to refuse the message.
 * `agreed` is what the link's negotiation agreed (undefined: nothing was negotiated).
 */
export interface InboundCheck {
  check(from: PeerId, message: Message, agreed?: LinkAgreement): Promise<GateVerdict>
}

/** What a link's negotiation agreed, as the gate needs it. */
export interface LinkAgreement {
  capabilities: readonly string[]
}

/** The capability each message type needs on a link: automerge-repo's sync protocol is `sync`. */
const NEEDS: Record<string, string> = {
  sync: "sync",
  request: "sync",
  "doc-unavailable": "sync",
  ephemeral: "sync",
  "remote-heads-changed": "sync",
  "remote-subscription-change": "sync",
  [POLICY_FRAME]: "sync",
  [SIGNATURES_FRAME]: "sync",
}

export interface GateLimits extends ChangeLimits {
  newDocsPerMinute: number
  newDocsTotal: number
}

export interface InboundGateOptions {
  limits: GateLimits
  /** Whether this hub holds a document (the DocIndex), without loading it. */
  holds: (documentId: string) => boolean
  /** Whether this hub forwards requests for documents it does not hold (a relay). */
  relays: boolean
  /** Where policy records peers send (`fedhub-policy` frames) are verified and kept. */
  policies?: PolicyStore
  /**
   * Where bindings and signed heads (`fedhub-signatures` frames) are verified and kept; with
   * it, every change to a document with a policy must be attributed to a writer (ACCESS.md §3).
   */
  signatures?: SignatureStore
  /** Whether a peer is refused a document without loading it (its policy): answered unavailable, nothing loaded. */
  withholds?: (from: PeerId, documentId: string) => boolean
}

/** A change refused for its author, as reported (ACCESS.md §6). */
export interface RefusedChange {
  documentId: string
  hash: string
  actor: string
  /** The node its actor is bound to, when known. */
  author?: string
  reason: Exclude<Attribution, { ok: true }>["reason"] | "equivocation"
  /** The hub that sent it (the relay, when it is not the author). */
  from: string
  at: number
}

/** Refused changes remembered for reports (the newest). */
const MAX_REFUSED_CHANGES = 1_000

/** Message types automerge-repo 2.5 exchanges between peers. */
const TYPES: ReadonlySet<string> = new Set([
  "sync",
  "request",
  "doc-unavailable",
  "ephemeral",
  "remote-heads-changed",
  "remote-subscription-change",
  POLICY_FRAME,
  SIGNATURES_FRAME,
])

/** Peers whose budget is remembered; past it the longest-known one is forgotten. */
const MAX_BUDGETED_PEERS = 10_000

/** How many not-yet-applied created objects are remembered per document. */
const MAX_PENDING_OBJECTS = 200_000

/** Counts, per peer, the documents it made this hub create or look for: a sliding minute and a running total. */
export class PeerBudget {
  readonly #perMinute: number
  readonly #total: number
  #peers = new Map<string, { times: number[]; total: number }>()

  constructor(perMinute: number, total: number) {
    this.#perMinute = perMinute
    this.#total = total
  }

  /** Takes one from the peer's budget; throws RATE_LIMITED when it is spent. */
  take(peer: string, now = Date.now()): void {
    let entry = this.#peers.get(peer)
    if (!entry) {
      this.#peers.set(peer, (entry = { times: [], total: 0 }))
      // one entry per peer seen, bounded: strangers do not grow this map without end
      if (this.#peers.size > MAX_BUDGETED_PEERS) this.#peers.delete(this.#peers.keys().next().value!)
    }
    while (entry.times.length > 0 && entry.times[0]! <= now - 60_000) entry.times.shift()
    if (entry.total >= this.#total)
      throw new FedhubError("RATE_LIMITED", `${peer} already made this hub take ${entry.total} new documents, its total limit`)
    if (entry.times.length >= this.#perMinute)
      throw new FedhubError("RATE_LIMITED", `${peer} asked for over ${this.#perMinute} new documents in a minute`)
    entry.times.push(now)
    entry.total++
  }
}

export class InboundGate implements InboundCheck {
  readonly #opts: InboundGateOptions
  readonly #budget: PeerBudget
  #repo?: Repo
  /** Requests for documents this hub does not hold that it answered itself (not forwarded). */
  unheldRequestsAnswered = 0
  /** Objects created by messages that passed but may not be applied yet, per document. */
  #pending = new Map<string, Map<string, number>>()
  readonly #guard = new SequenceGuard()

  constructor(opts: InboundGateOptions) {
    this.#opts = opts
    this.#budget = new PeerBudget(opts.limits.newDocsPerMinute, opts.limits.newDocsTotal)
  }

  /** The Repo whose replicas the checks measure against (the gate is built before it, for its adapters). */
  attach(repo: Repo): void {
    this.#repo = repo
  }

  async check(from: PeerId, message: Message, agreed?: LinkAgreement): Promise<GateVerdict> {
    const { type } = message
    if (!TYPES.has(type)) throw new FedhubError("MALFORMED_FRAME", `unknown message type ${JSON.stringify(type).slice(0, 80)}`)
    const needed = NEEDS[type]!
    if (agreed && !agreed.capabilities.includes(needed))
      throw new FedhubError("FORBIDDEN", `'${type}' needs capability ${needed}, which this link did not agree`)
    const { senderId, targetId } = message
    if (type === "remote-subscription-change") return { deliver: subscription(message) }
    const documentId = (message as { documentId?: unknown }).documentId
    if (typeof documentId !== "string" || !isValidDocumentId(documentId))
      throw new FedhubError("MALFORMED_FRAME", `'${type}' without a valid documentId`)
    const base = { senderId, targetId, documentId }
    if (type === POLICY_FRAME) return this.#policy(documentId, message)
    if (type === SIGNATURES_FRAME) return this.#signatures(documentId, message)
    if (type === "doc-unavailable") return { deliver: { type, ...base } }
    if (type === "remote-heads-changed") return { deliver: { type, ...base, newHeads: remoteHeads(message) } as Message }
    const data = (message as { data?: unknown }).data
    if (!(data instanceof Uint8Array)) throw new FedhubError("MALFORMED_FRAME", `'${type}' without data bytes`)
    if (type === "ephemeral") return { deliver: this.#ephemeral(from, ephemeral(message, base, data)) }
    const repo = this.#repo
    if (!repo) throw new FedhubError("INTERNAL", "the inbound gate has no Repo yet")
    const held = repo.handles[documentId] !== undefined || this.#opts.holds(documentId)
    if (!held) {
      // a hub does not go looking for documents it does not hold on a stranger's behalf
      if (type === "request" && !this.#opts.relays) {
        this.unheldRequestsAnswered++
        return "unavailable"
      }
      this.#budget.take(from)
    }
    // the policy decides without the document in memory: a peer it refuses loads nothing by
    // asking (a message carrying changes is still inspected, so their refusal is reported)
    if (held && this.#opts.withholds?.(from, documentId) && (type === "request" || carriesNoChanges(data))) return "unavailable"
    const doc = held ? await this.#replica(documentId) : undefined
    const pending = this.#pending.get(documentId)
    const governed = this.#opts.signatures !== undefined && this.#opts.policies?.has(documentId) === true
    const measure = inspectSyncMessage(
      data,
      this.#opts.limits,
      obj => pending?.get(obj) ?? (doc ? depthInDoc(doc, obj) : undefined),
      {
        ...(governed ? { onDocument: (backend: Backend) => this.#attributeDocument(from, documentId, doc, backend) } : {}),
        keepDocument: doc === undefined,
      },
    )
    try {
      if (doc) this.#sequences(from, documentId, doc, measure.metas)
      if (governed) this.#attribute(from, documentId, doc, measure.metas)
    } catch (e) {
      if (measure.document) A.free(measure.document)
      throw e
    }
    if (measure.created.size > 0) this.#remember(documentId, measure.created)
    this.#guard.passed(documentId, measure.metas)
    return { deliver: { type, ...base, data: measure.document ? this.#preload(documentId, data, measure.document, measure.documentBytes) : data } as Message }
  }

  /**
   * A whole document for a replica that has nothing yet, already loaded (and checked) by
   * the gate: given to the waiting handle as it is, and the message passed on without it,
   * so Automerge does not load the same bytes a second time. Otherwise freed, and the
   * message passed on whole.
   */
  #preload(documentId: string, data: Uint8Array, loaded: A.Doc<unknown>, bytes: Uint8Array | undefined): Uint8Array {
    const handle = this.#repo?.handles[documentId as never] as DocHandle<unknown> | undefined
    // only a handle still waiting for its first copy, and only a document with content
    const heads = A.getHeads(loaded)
    if (!handle || !handle.inState(["requesting"]) || heads.length === 0) {
      A.free(loaded)
      return data
    }
    // stored as the bytes it loaded from, not saved again (storage/DocSaves.ts)
    if (bytes) noteArrived(this.#repo!, documentId, bytes, heads)
    handle.update(() => loaded)
    return A.encodeSyncMessage({ ...A.decodeSyncMessage(data), changes: [] })
  }

  /**
   * Ephemeral messages are signed by their origin (or vouched for by the hub of a local
   * client) and come only from nodes that may read the document (issue 12, item 3).
   */
  #ephemeral(from: PeerId, m: Message): Message {
    const e = m as SignedEphemeralMessage
    const policy = this.#opts.policies?.has(e.documentId) ? this.#opts.policies.effective(e.documentId) : undefined
    const known = this.#opts.policies?.has(e.documentId) === true
    const reads = (node: string) => !known || mayRead(policy, node)
    const signer = verifyEphemeral(e, e.fedhubSig, node => isNodeId(node) && reads(node))
    if (!reads(signer) || !reads(from)) throw new FedhubError("FORBIDDEN", `${signer} may not send ephemeral messages on ${e.documentId}`)
    return m
  }

  /** Keeps the records of a `fedhub-policy` frame (each verified when the policy is evaluated). */
  async #policy(documentId: string, message: Message): Promise<GateVerdict> {
    const records = (message as { records?: unknown }).records
    if (!Array.isArray(records) || records.length > MAX_POLICY_RECORDS_PER_FRAME)
      throw new FedhubError("MALFORMED_FRAME", `'${POLICY_FRAME}' needs a list of at most ${MAX_POLICY_RECORDS_PER_FRAME} records`)
    const state = await this.#opts.policies?.add(documentId, records)
    if (state && state.refused.length > 0) this.policyRecordsRefused += state.refused.filter(r => records.some(x => recordId(x) === r.id)).length
    return "consumed"
  }

  /** Policy records peers sent that do not verify (kept out of every decision). */
  policyRecordsRefused = 0
  /** Bindings and signed heads peers sent that do not verify (never kept). */
  signatureRecordsRefused = 0
  /** Changes refused for their author, by reason. */
  readonly changesRefused: Record<string, number> = {}
  #refusedChanges: RefusedChange[] = []

  /** The newest changes refused for their author, of one document or all. */
  refusedChanges(documentId?: string): RefusedChange[] {
    return documentId === undefined ? [...this.#refusedChanges] : this.#refusedChanges.filter(r => r.documentId === documentId)
  }

  /** Keeps the bindings and signed heads of a `fedhub-signatures` frame that verify (of documents with a policy). */
  async #signatures(documentId: string, message: Message): Promise<GateVerdict> {
    const { bindings, heads } = message as { bindings?: unknown; heads?: unknown }
    for (const list of [bindings, heads])
      if (!Array.isArray(list) || list.length > MAX_SIGNATURE_RECORDS_PER_FRAME)
        throw new FedhubError("MALFORMED_FRAME", `'${SIGNATURES_FRAME}' needs lists of at most ${MAX_SIGNATURE_RECORDS_PER_FRAME} bindings and heads`)
    const store = this.#opts.signatures
    // kept only for documents whose changes are checked: strangers cannot grow the store with other ids
    if (!store || !this.#opts.policies?.has(documentId)) return "consumed"
    const { refused } = await store.add(documentId, bindings as unknown[], heads as unknown[])
    this.signatureRecordsRefused += refused.length
    return "consumed"
  }

  /**
   * A whole document in a sync message: every actor's changes are covered when the
   * signed heads of each bound actor name its latest change there — checked as the sum,
   * over actors, of the highest covered sequence number equalling the document's number
   * of changes (an actor's changes are numbered 1..n). Only when that does not hold is
   * every change listed and attributed one by one (and the refused ones reported).
   */
  #attributeDocument(from: PeerId, documentId: string, doc: A.Doc<unknown> | undefined, backend: Backend): void {
    const store = this.#opts.signatures!
    const policy = this.#opts.policies!.effective(documentId)
    let covered = 0
    let writers = true
    for (const binding of store.bindings(documentId)) {
      const actor = binding.payload.actorId
      let seq = 0
      for (const record of store.headsOf(documentId, actor)) {
        if (record.signer !== binding.signer) continue
        for (const h of record.payload.heads) {
          const meta = backend.getChangeMetaByHash(h)
          if (meta && meta.actor === actor && meta.seq > seq) seq = meta.seq
        }
      }
      if (seq > 0 && !mayWrite(policy, binding.signer)) writers = false
      covered += seq
    }
    if (writers && covered === backend.stats().numChanges) return
    const metas = backend.getChangesMeta([]).map(c => ({ hash: c.hash, actor: c.actor, deps: c.deps }))
    this.#attribute(from, documentId, doc, metas)
  }

  /**
   * Refuses the message when a change in it reuses the actor and sequence number of a
   * change the replica holds: an equivocation by the actor's author, reported like a
   * refused author (Automerge could not apply it anyway).
   */
  #sequences(from: PeerId, documentId: string, doc: A.Doc<unknown>, metas: readonly (ChangeMeta & { seq: number })[]): void {
    const backend = A.getBackend(doc)
    const fresh = metas.filter(c => backend.getChangeMetaByHash(c.hash) === null)
    const twins = this.#guard.duplicates(documentId, backend, fresh)
    if (twins.length === 0) return
    const at = Date.now()
    const refused = twins.map(t => ({ documentId, hash: t.hash, actor: t.actor, author: this.#opts.signatures?.authorOf(documentId, t.actor), reason: "equivocation" as const, from, at }))
    this.changesRefused.equivocation = (this.changesRefused.equivocation ?? 0) + refused.length
    this.#keepRefused(refused)
    const first = refused[0]!
    throw new FedhubError(
      "EQUIVOCATION",
      `${refused.length} change(s) to ${documentId} refused, first ${first.hash.slice(0, 12)} ${first.author ? `by ${first.author}` : `by actor ${first.actor}`}: an equivocation, sequence ${twins[0]!.seq} of its actor is already ${twins[0]!.held.slice(0, 12)} (sent by ${from})`,
      { documentId, from, changes: refused.slice(0, 10).map(r => ({ hash: r.hash, actor: r.actor, author: r.author, reason: r.reason })) },
    )
  }

  #keepRefused(refused: readonly RefusedChange[]): void {
    this.#refusedChanges.push(...refused)
    if (this.#refusedChanges.length > MAX_REFUSED_CHANGES) this.#refusedChanges.splice(0, this.#refusedChanges.length - MAX_REFUSED_CHANGES)
  }

  /**
   * Refuses the message unless every change in it that the replica does not hold is
   * attributed to a writer under the document's policy, or vouched for by an admin.
   */
  #attribute(from: PeerId, documentId: string, doc: A.Doc<unknown> | undefined, metas: readonly ChangeMeta[]): void {
    const backend = doc ? A.getBackend(doc) : undefined
    const fresh = backend ? metas.filter(c => backend.getChangeMetaByHash(c.hash) === null) : metas
    if (fresh.length === 0) return
    const store = this.#opts.signatures!
    const policy = this.#opts.policies!.effective(documentId)
    const bindings = [...new Set(fresh.map(c => c.actor))].flatMap(a => store.binding(documentId, a) ?? [])
    const heads = new Set<SignedHeadsRecord>()
    for (const c of fresh) {
      const r = store.headsNaming(documentId, c.hash)
      if (r) heads.add(r)
    }
    const report = refuseNonWriters(
      attributeChanges({ documentId, changes: fresh, signedHeads: heads, bindings, verified: store.verified, vouched: policy?.vouched }),
      policy,
    )
    const refused = report.results.filter(r => !accepted(r)) as Exclude<Attribution, { ok: true }>[]
    if (refused.length === 0) return
    const at = Date.now()
    for (const r of refused) this.changesRefused[r.reason] = (this.changesRefused[r.reason] ?? 0) + 1
    this.#keepRefused(refused.map(r => ({ documentId, hash: r.hash, actor: r.actor, author: r.author, reason: r.reason, from, at })))
    const first = refused[0]!
    const who = first.author ? `by ${first.author}` : `by unbound actor ${first.actor}`
    throw new FedhubError(
      first.reason === "not-a-writer" ? "NOT_A_WRITER" : "CHANGE_UNATTRIBUTED",
      `${refused.length} change(s) to ${documentId} refused, first ${first.hash.slice(0, 12)} ${who}: ${first.reason} (sent by ${from})`,
      { documentId, from, changes: refused.slice(0, 10).map(r => ({ hash: r.hash, actor: r.actor, author: r.author, reason: r.reason })) },
    )
  }

  /** Our replica of a held document (loaded from storage if needed), or undefined while it has none. */
  async #replica(documentId: string): Promise<A.Doc<unknown> | undefined> {
    const repo = this.#repo!
    let handle: DocHandle<unknown> | undefined = repo.handles[documentId as never]
    if (!handle) {
      try {
        handle = await repo.find(documentId as never, { allowableStates: ["ready", "unavailable", "requesting"] })
      } catch {
        return undefined
      }
    }
    return handle.isReady() ? handle.doc() : undefined
  }

  #remember(documentId: string, created: Map<string, number>): void {
    let pending = this.#pending.get(documentId)
    if (!pending || pending.size + created.size > MAX_PENDING_OBJECTS) this.#pending.set(documentId, (pending = new Map()))
    for (const [obj, depth] of created) pending.set(obj, depth)
    // a bounded number of documents keep pending objects; the oldest is forgotten first
    if (this.#pending.size > 1_000) this.#pending.delete(this.#pending.keys().next().value!)
  }
}

/** Whether a sync message carries no changes (decoding it loads no document). */
const carriesNoChanges = (data: Uint8Array): boolean => {
  try {
    return A.decodeSyncMessage(data).changes.length === 0
  } catch {
    return false // undecodable: left to the inspection, which refuses it with its reason
  }
}

const isStringList = (v: unknown, max: number): v is string[] =>
  Array.isArray(v) && v.length <= max && v.every(x => typeof x === "string" && x.length <= 256)

function subscription(message: Message): Message {
  const m = message as { add?: unknown; remove?: unknown }
  for (const list of [m.add, m.remove])
    if (list !== undefined && !isStringList(list, 10_000))
      throw new FedhubError("MALFORMED_FRAME", "'remote-subscription-change' needs lists of storage ids")
  return {
    type: "remote-subscription-change",
    senderId: message.senderId,
    targetId: message.targetId,
    ...(m.add !== undefined ? { add: m.add } : {}),
    ...(m.remove !== undefined ? { remove: m.remove } : {}),
  } as Message
}

function remoteHeads(message: Message): Record<string, { heads: string[]; timestamp: number }> {
  const raw = (message as { newHeads?: unknown }).newHeads
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || Object.keys(raw).length > 1_000)
    throw new FedhubError("MALFORMED_FRAME", "'remote-heads-changed' needs newHeads")
  const out: Record<string, { heads: string[]; timestamp: number }> = Object.create(null) as Record<string, { heads: string[]; timestamp: number }>
  for (const [storageId, value] of Object.entries(raw as Record<string, unknown>)) {
    const v = value as { heads?: unknown; timestamp?: unknown } | null
    if (!v || !isStringList(v.heads, 1_000) || typeof v.timestamp !== "number" || !Number.isFinite(v.timestamp))
      throw new FedhubError("MALFORMED_FRAME", "'remote-heads-changed' entries need heads and a timestamp")
    out[storageId] = { heads: v.heads, timestamp: v.timestamp }
  }
  return out
}

/** An ephemeral message with its data checked to be one CBOR value (automerge-repo decodes it). */
function ephemeral(message: Message, base: { senderId: PeerId; targetId: PeerId; documentId: string }, data: Uint8Array): Message {
  const m = message as { count?: unknown; sessionId?: unknown }
  if (typeof m.count !== "number" || !Number.isSafeInteger(m.count) || typeof m.sessionId !== "string" || m.sessionId.length > 256)
    throw new FedhubError("MALFORMED_FRAME", "'ephemeral' needs a count and a sessionId")
  try {
    cbor.decode(data)
  } catch (e) {
    throw new FedhubError("MALFORMED_FRAME", `'ephemeral' data is not one CBOR value: ${(e as Error).message}`)
  }
  const sig = (message as { fedhubSig?: unknown }).fedhubSig
  return { type: "ephemeral", ...base, count: m.count, sessionId: m.sessionId, data, ...(sig !== undefined ? { fedhubSig: sig } : {}) } as unknown as Message
}
