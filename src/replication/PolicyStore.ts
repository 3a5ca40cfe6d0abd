/**
 * The policy records this hub knows, per document, kept in a record log (`policies.jsonl`
 * in the home, one record a line, or PostgreSQL when several processes share an identity)
 * so every access decision is made without loading the document and a restart changes
 * nothing. Records are a grow-only set per document; what they allow is the pure
 * `evaluatePolicies` of access/policy.ts, recomputed when the set grows.
 */
import { EventEmitter } from "node:events"
import { rm } from "node:fs/promises"
import { readJsonFile } from "./jsonFile.ts"
import { JsonlFileLog, type RecordLog } from "./recordLog.ts"
import { FedhubError } from "../errors.ts"
import { evaluatePolicies, recordId, type EffectivePolicy, type PolicyState } from "./access/policy.ts"

/** The whole-file format before the log (`policies.json`): read once, moved into the log. */
interface LegacyPolicyFile {
  version: 1
  documents: Record<string, unknown[]>
}

/** One line of the log: a record of a document. */
interface PolicyLine {
  d: string
  r: unknown
}

export interface PolicyStoreOptions {
  /** Where records are kept; default the JSONL file beside `path` (`policies.jsonl` for `policies.json`). */
  log?: RecordLog
}

/** The log file of a store opened at `path`: `x.json` keeps its lines in `x.jsonl`. */
export const policyLogPath = (path: string): string => path.replace(/\.json$/, "") + ".jsonl"

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
  readonly #log: RecordLog
  #saving: Promise<void> = Promise.resolve()

  private constructor(path: string, log: RecordLog) {
    this.path = path
    this.#log = log
  }

  /**
   * Opens the store at `path` (nothing there: an empty store). A `policies.json` of the
   * whole-file format is moved into the log once; a log holding many lines it no longer
   * needs (a torn tail, duplicates) is compacted.
   */
  static async open(path: string, opts: PolicyStoreOptions = {}): Promise<PolicyStore> {
    const file = opts.log ? undefined : new JsonlFileLog(policyLogPath(path))
    const log: RecordLog = opts.log ?? file!
    const store = new PolicyStore(path, log)
    let lines = 0
    for (const line of await log.load()) {
      const l = line as Partial<PolicyLine> | null
      if (typeof l?.d === "string") store.#keep(l.d, [l.r])
      lines++
    }
    const legacy = file ? await readJsonFile<LegacyPolicyFile>(path) : undefined
    if (legacy) for (const [documentId, records] of Object.entries(legacy.documents ?? {})) store.#keep(documentId, Array.isArray(records) ? records : [])
    const kept = store.#count()
    if (log.rewrite && (legacy || (file?.ignored ?? 0) > 0 || lines > kept)) {
      await log.rewrite(store.#lines())
      if (legacy) await rm(path, { force: true })
    }
    log.onRemote?.(remote => store.#remote(remote))
    return store
  }

  /** Keeps well-formed records not held yet (up to the cap); returns the lines to append. */
  #keep(documentId: string, records: readonly unknown[], limit = false): PolicyLine[] {
    const set = this.#records.get(documentId) ?? new Map<string, unknown>()
    const added: PolicyLine[] = []
    for (const r of records) {
      const id = recordId(r)
      if (!id || set.has(id)) continue
      if (set.size >= MAX_RECORDS) {
        if (limit) throw new FedhubError("RATE_LIMITED", `${documentId} already has ${MAX_RECORDS} policy records`)
        continue
      }
      set.set(id, r)
      added.push({ d: documentId, r })
    }
    if (set.size > 0 || this.#records.has(documentId)) this.#records.set(documentId, set)
    if (added.length > 0) this.#states.delete(documentId)
    return added
  }

  #count(): number {
    let n = 0
    for (const set of this.#records.values()) n += set.size
    return n
  }

  #lines(): PolicyLine[] {
    const out: PolicyLine[] = []
    for (const [d, set] of this.#records) for (const r of set.values()) out.push({ d, r })
    return out
  }

  /** Records another process of this identity added: kept as if added here, `changed` told. */
  #remote(lines: unknown[]): void {
    const byDoc = new Map<string, unknown[]>()
    for (const line of lines) {
      const l = line as Partial<PolicyLine> | null
      if (typeof l?.d === "string") byDoc.set(l.d, [...(byDoc.get(l.d) ?? []), l.r])
    }
    for (const [documentId, records] of byDoc) {
      const before = this.#records.has(documentId) ? this.effective(documentId) : undefined
      if (this.#keep(documentId, records).length === 0) continue
      const after = this.effective(documentId)
      if (JSON.stringify(before) !== JSON.stringify(after)) this.events.emit("changed", documentId, before, after)
    }
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
    if (!this.#records.has(documentId)) this.#records.set(documentId, new Map())
    const added = this.#keep(documentId, records, true)
    if (added.length === 0) return this.state(documentId)!
    const state = this.state(documentId)!
    await this.#save(added)
    if (JSON.stringify(before) !== JSON.stringify(state.effective)) this.events.emit("changed", documentId, before, state.effective)
    return state
  }

  /** Waits for the last write and writes no more: a stopped hub leaves its home alone (records added later stay in memory). */
  async close(): Promise<void> {
    this.#closed = true
    await this.#saving.catch(() => {})
    await this.#log.close()
  }

  #closed = false

  /** Appends the new lines (the log groups concurrent appends into one sync). */
  #save(lines: PolicyLine[]): Promise<void> {
    if (this.#closed) return Promise.resolve()
    const write = this.#log.append(lines)
    this.#saving = Promise.allSettled([this.#saving, write]).then(() => {})
    return write
  }
}
