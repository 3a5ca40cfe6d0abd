/**
 * The check every message from a hub passes before automerge-repo sees it: known
 * message types with well-formed fields, sync data measured against the limits
 * (operations, nesting depth), and a budget of documents this hub does not hold
 * that one peer may create or request. Both network adapters run it, so it holds
 * for links we accepted and links we dialed alike.
 */
import * as A from "@automerge/automerge"
import { isValidDocumentId, type DocHandle, type Message, type PeerId, type Repo } from "@automerge/automerge-repo"
import { FedhubError } from "../errors.ts"
import { depthInDoc, inspectSyncMessage, type ChangeLimits } from "./inspectChanges.ts"

/** What to do with a message that passed: hand it to the Repo, or answer `doc-unavailable` ourselves. */
export type GateVerdict = "pass" | "unavailable"

/** The interface the adapters call; throws a FedhubError to refuse the message. */
export interface InboundCheck {
  check(from: PeerId, message: Message): Promise<GateVerdict>
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
}

/** Message types automerge-repo 2.5 exchanges between peers. */
const TYPES: ReadonlySet<string> = new Set([
  "sync",
  "request",
  "doc-unavailable",
  "ephemeral",
  "remote-heads-changed",
  "remote-subscription-change",
])

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
    if (!entry) this.#peers.set(peer, (entry = { times: [], total: 0 }))
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
  /** Objects created by messages that passed but may not be applied yet, per document. */
  #pending = new Map<string, Map<string, number>>()

  constructor(opts: InboundGateOptions) {
    this.#opts = opts
    this.#budget = new PeerBudget(opts.limits.newDocsPerMinute, opts.limits.newDocsTotal)
  }

  /** The Repo whose replicas the checks measure against (the gate is built before it, for its adapters). */
  attach(repo: Repo): void {
    this.#repo = repo
  }

  async check(from: PeerId, message: Message): Promise<GateVerdict> {
    const { type } = message
    if (!TYPES.has(type)) throw new FedhubError("MALFORMED_FRAME", `unknown message type ${JSON.stringify(type).slice(0, 80)}`)
    if (type === "remote-subscription-change") return checkSubscription(message)
    const documentId = (message as { documentId?: unknown }).documentId
    if (typeof documentId !== "string" || !isValidDocumentId(documentId))
      throw new FedhubError("MALFORMED_FRAME", `'${type}' without a valid documentId`)
    if (type !== "sync" && type !== "request") return "pass"
    const data = (message as { data?: unknown }).data
    if (!(data instanceof Uint8Array)) throw new FedhubError("MALFORMED_FRAME", `'${type}' without sync data`)
    const repo = this.#repo
    if (!repo) throw new FedhubError("INTERNAL", "the inbound gate has no Repo yet")
    const held = repo.handles[documentId] !== undefined || this.#opts.holds(documentId)
    if (!held) {
      // a hub does not go looking for documents it does not hold on a stranger's behalf
      if (type === "request" && !this.#opts.relays) return "unavailable"
      this.#budget.take(from)
    }
    const doc = held ? await this.#replica(documentId) : undefined
    const pending = this.#pending.get(documentId)
    const measure = inspectSyncMessage(data, this.#opts.limits, obj => pending?.get(obj) ?? (doc ? depthInDoc(doc, obj) : undefined))
    if (measure.created.size > 0) this.#remember(documentId, measure.created)
    return "pass"
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

function checkSubscription(message: Message): GateVerdict {
  const m = message as { add?: unknown; remove?: unknown }
  for (const list of [m.add, m.remove])
    if (list !== undefined && !(Array.isArray(list) && list.length <= 10_000 && list.every(x => typeof x === "string")))
      throw new FedhubError("MALFORMED_FRAME", "'remote-subscription-change' needs lists of storage ids")
  return "pass"
}
