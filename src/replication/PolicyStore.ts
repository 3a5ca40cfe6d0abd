/**
 * The policy records this hub knows, per document, kept on disk (`policies.json` in
 * the home) so every access decision is made without loading the document and a
 * restart changes nothing. Records are a grow-only set per document; what they allow
 * is the pure `evaluatePolicies` of access/policy.ts, recomputed when the set grows.
 */
import { EventEmitter } from "node:events"
import { readJsonFile, writeFileAtomic } from "./jsonFile.ts"
import { FedhubError } from "../errors.ts"
import { evaluatePolicies, recordId, type EffectivePolicy, type PolicyState } from "./access/policy.ts"

interface PolicyFile {
  version: 1
  documents: Record<string, unknown[]>
}

interface StoreEvents {
  /** A document's effective policy changed (a record was added that the evaluation kept). */
  changed: [documentId: string, before: EffectivePolicy | undefined, after: EffectivePolicy | undefined]
}

/** Most records kept per document: a peer cannot grow a document's set without bound. */
const MAX_RECORDS = 1_000

export class PolicyStore {
  readonly path: string
  readonly events = new EventEmitter<StoreEvents>()
  #records = new Map<string, Map<string, unknown>>()
  #states = new Map<string, PolicyState>()
  #saving: Promise<void> = Promise.resolve()

  private constructor(path: string) {
    this.path = path
  }

  /** Opens the store at `path` (an absent file is an empty store). */
  static async open(path: string): Promise<PolicyStore> {
    const store = new PolicyStore(path)
    const file = await readJsonFile<PolicyFile>(path)
    if (file) {
      for (const [documentId, records] of Object.entries(file.documents ?? {})) {
        const set = new Map<string, unknown>()
        for (const r of Array.isArray(records) ? records : []) {
          const id = recordId(r)
          if (id) set.set(id, r)
        }
        store.#records.set(documentId, set)
      }
    }
    return store
  }

  /** Whether any record of the document is known (then the policy decides, failing closed). */
  has(documentId: string): boolean {
    return this.#records.has(documentId)
  }

  /** The evaluated records of a document, or undefined when none is known. */
  state(documentId: string): PolicyState | undefined {
    const records = this.#records.get(documentId)
    if (!records) return undefined
    let state = this.#states.get(documentId)
    if (!state) {
      state = evaluatePolicies(records.values(), { documentId })
      this.#states.set(documentId, state)
    }
    return state
  }

  /** The effective policy of a document (undefined: unknown, or no valid genesis). */
  effective(documentId: string): EffectivePolicy | undefined {
    return this.state(documentId)?.effective
  }

  /** Every record known for a document (to send to a peer that may hold it). */
  records(documentId: string): unknown[] {
    return [...(this.#records.get(documentId)?.values() ?? [])]
  }

  /**
   * Adds records (from this hub or a peer); only well-formed envelopes are kept, and a
   * document's set stays bounded. Resolves once written; returns the new state.
   */
  async add(documentId: string, records: readonly unknown[]): Promise<PolicyState> {
    // what the records allowed before this call, evaluated before the set grows
    const before = this.effective(documentId)
    const set = this.#records.get(documentId) ?? new Map<string, unknown>()
    let added = 0
    for (const r of records) {
      const id = recordId(r)
      if (!id || set.has(id)) continue
      if (set.size >= MAX_RECORDS) throw new FedhubError("RATE_LIMITED", `${documentId} already has ${MAX_RECORDS} policy records`)
      set.set(id, r)
      added++
    }
    this.#records.set(documentId, set)
    if (added === 0) return this.state(documentId)!
    this.#states.delete(documentId)
    const state = this.state(documentId)!
    await this.#save()
    if (JSON.stringify(before) !== JSON.stringify(state.effective)) this.events.emit("changed", documentId, before, state.effective)
    return state
  }

  /** Waits for the last write and writes no more: a stopped hub leaves its home alone (records added later stay in memory). */
  async close(): Promise<void> {
    this.#closed = true
    await this.#saving.catch(() => {})
  }

  #closed = false

  #save(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#saving = this.#saving
      .catch(() => {})
      .then(async () => {
        const documents: Record<string, unknown[]> = {}
        for (const [id, set] of this.#records) documents[id] = [...set.values()]
        await writeFileAtomic(this.path, JSON.stringify({ version: 1, documents } satisfies PolicyFile) + "\n")
      })
    return this.#saving
  }
}
