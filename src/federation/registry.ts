/**
 * The local registry: what this hub knows and decided about other nodes (admin
 * trust, blocks, allowlist, highest descriptor sequence seen, observed health).
 * Private to this hub and its administrator; kept as a JSON file in the home, or (several
 * processes of one identity) as rows in PostgreSQL (`PostgresRegistryStore.ts`).
 */
import { readJsonFile, writeFileAtomic } from "../replication/jsonFile.ts"
import { FedhubError } from "../errors.ts"
import { isNodeId, type NodeId } from "../identity/index.ts"
import type { DiscoveryMethod } from "./discovery/types.ts"
import { emptyObservation, migrateObservation, type Observation } from "./reputation.ts"
import { decisionFieldsOf, mergeRemote, type DecisionField } from "./registryMerge.ts"

export type AdminLevel = "trusted" | "partner"

/** One node as this hub sees it. */
export interface RegistryNode {
  nodeId: NodeId
  url?: string
  name?: string
  adminLevel?: AdminLevel
  blocked?: boolean
  /** Added by an administrator (`peers add`): on the allowlist, dialed at start. */
  manual?: boolean
  /** Cut by an administrator (`peers disconnect`): not dialed, refused at the handshake, until `peers connect`. */
  disconnected?: boolean
  lastSequence?: number
  /** Proved possession of its key (a handshake answered our nonce). */
  provenAt?: number
  discoveredBy: DiscoveryMethod[]
  firstSeen: number
  lastSeen: number
  /** Observed uptime over time, in hourly periods (reputation.ts); old counter records are migrated on load. */
  observed: Observation
}

/**
 * True when an administrator's decision is recorded on the node: it was added by
 * hand (`manual`), given a trust level (`adminLevel`: trusted or partner), or is
 * blocked. Such nodes are never evicted. Every other node ("untouched": learned by
 * discovery or by connecting, or whose block or trust was lifted since) may be.
 */
export const isTouched = (n: RegistryNode): boolean =>
  n.manual === true || n.adminLevel !== undefined || n.blocked === true || n.disconnected === true

/** Default of `maxUntouchedPeers`. */
export const DEFAULT_MAX_UNTOUCHED_PEERS = 1000

export interface RegistryOptions {
  /**
   * Most untouched nodes kept (see `isTouched`); past it the least recently seen
   * untouched ones are evicted (default DEFAULT_MAX_UNTOUCHED_PEERS).
   */
  maxUntouchedPeers?: number
  /** Nodes that are not evicted while it holds, e.g. those with a live link. */
  isPinned?: (n: RegistryNode) => boolean
  /** Told about every eviction (to forget the nodes elsewhere, to log). */
  onEvict?: (evicted: RegistryNode[]) => void
  /** Told about every failed write, also the ones nobody awaits; `save()` still rejects with it. */
  onError?: (err: Error) => void
  /** Where the registry is kept (default: the JSON file at the path). */
  store?: RegistryStore
  /** Told about nodes another process of this identity changed or removed (shared stores only), once taken in. */
  onRemote?: (changes: RemoteChange[]) => void
}

/** A node another process changed (`after`) or removed (`after` undefined). */
export interface RemoteChange {
  nodeId: NodeId
  before?: RegistryNode
  after?: RegistryNode
}

/** What one write carries: the nodes changed (with the decision fields set), those removed and evicted. */
export interface RegistryBatch {
  changed: { node: RegistryNode; fields: DecisionField[] }[]
  /** Forgotten by an administrator (`peers remove`). */
  removed: string[]
  /** Evicted over the cap: a shared store keeps any another process touched meanwhile. */
  evicted: string[]
  /** Every node (a store that rewrites everything uses it). */
  all: () => RegistryNode[]
  directoryUrl?: string
}

/**
 * Where a registry lives: the JSON file (one process) or a shared store that merges
 * concurrent writers (PostgreSQL). `write` resolves once durable and returns the records as
 * now stored for the nodes it wrote (merged with other processes' writes), which the registry
 * takes in.
 */
export interface RegistryStore {
  load(): Promise<{ nodes: RegistryNode[]; directoryUrl?: string }>
  write(batch: RegistryBatch): Promise<{ stored: RegistryNode[]; gone: string[] }>
  /**
   * Settles this identity's directory document once for all its processes: `decide` gets the
   * recorded URL (if any) and returns the one to use, which is recorded. Shared stores run it
   * under a lock, so processes starting together agree on one.
   */
  settleDirectory?(decide: (current: string | undefined) => Promise<string>): Promise<string>
  /** Calls `listener` with the rows other processes wrote (`rows`, unchecked) and the ids they removed. */
  onRemote?(listener: (rows: unknown[], gone: string[]) => void): void
  close?(): Promise<void>
}

interface RegistryFile {
  version: 1
  /** This hub's own directory document. */
  directoryUrl?: string
  nodes: RegistryNode[]
}

/** The registry as one JSON file, rewritten whole (atomic rename) on each write. */
export class FileRegistryStore implements RegistryStore {
  constructor(readonly path: string) {}

  async load(): Promise<{ nodes: RegistryNode[]; directoryUrl?: string }> {
    const file = await readJsonFile<RegistryFile>(this.path)
    return { nodes: file?.nodes ?? [], directoryUrl: file?.directoryUrl }
  }

  async write(batch: RegistryBatch): Promise<{ stored: RegistryNode[]; gone: string[] }> {
    const body = JSON.stringify({ version: 1, directoryUrl: batch.directoryUrl, nodes: batch.all() } satisfies RegistryFile, null, 2) + "\n"
    await writeFileAtomic(this.path, body)
    return { stored: [], gone: [] }
  }
}

export class Registry {
  readonly path: string
  /** This hub's own directory document (made on first start). */
  directoryUrl?: string
  #nodes = new Map<string, RegistryNode>()
  #saving: Promise<void> = Promise.resolve()
  #closed = false
  #queued?: Promise<void>
  readonly #opts: RegistryOptions
  #dirty = false
  readonly #store: RegistryStore
  /** Changed since the last write began: node id → decision fields set. */
  #changed = new Map<string, Set<DecisionField>>()
  #removed = new Set<string>()
  #evicted = new Set<string>()
  /** The error of the latest write, if it failed (cleared by the next good one). */
  lastSaveError?: Error
  /** Nodes evicted since this registry was opened. */
  evictedCount = 0

  private constructor(path: string, opts: RegistryOptions) {
    this.path = path
    this.#opts = opts
    this.#store = opts.store ?? new FileRegistryStore(path)
  }

  /**
   * Loads the registry file (an absent file is an empty registry; a corrupt one is an
   * error). A file already over `maxUntouchedPeers` is trimmed at the next `evictUntouched()` or `upsert`.
   */
  static async open(path: string, opts: RegistryOptions = {}): Promise<Registry> {
    const max = opts.maxUntouchedPeers ?? DEFAULT_MAX_UNTOUCHED_PEERS
    if (!Number.isInteger(max) || max < 0) throw new FedhubError("CONFIG_INVALID", `maxUntouchedPeers must be a non-negative integer, got ${String(max)}`)
    const reg = new Registry(path, opts)
    const loaded = await reg.#store.load()
    for (const n of loaded.nodes) if (isNodeId(n.nodeId)) reg.#nodes.set(n.nodeId, { ...n, observed: migrateObservation(n.observed, n.lastSeen) })
    reg.directoryUrl = loaded.directoryUrl
    reg.#store.onRemote?.((rows, gone) => reg.#takeRemote(rows as RegistryNode[], gone))
    return reg
  }

  /**
   * Settles this hub's directory document (see RegistryStore.settleDirectory): with a file,
   * `decide` runs on the URL of the file and the result is saved with the next write.
   */
  async settleDirectory(decide: (current: string | undefined) => Promise<string>): Promise<string> {
    if (this.#store.settleDirectory) {
      this.directoryUrl = await this.#store.settleDirectory(decide)
      return this.directoryUrl
    }
    const url = await decide(this.directoryUrl)
    if (url !== this.directoryUrl) {
      this.directoryUrl = url
      this.#dirty = true
    }
    return url
  }

  /** Takes in rows another process wrote (already checked by the store) and removals, then tells `onRemote`. */
  #takeRemote(rows: RegistryNode[], gone: string[]): void {
    if (this.#closed) return
    const changes: RemoteChange[] = []
    for (const row of rows) {
      // forgotten here since (removed, evicted) and not written yet: the write that deletes it is on its way
      if (this.#removed.has(row.nodeId) || this.#evicted.has(row.nodeId)) continue
      const before = this.#nodes.get(row.nodeId)
      const after = mergeRemote(before, row, [...(this.#changed.get(row.nodeId) ?? [])])
      this.#nodes.set(row.nodeId, after)
      changes.push({ nodeId: row.nodeId, before, after })
    }
    for (const id of gone) {
      const before = this.#nodes.get(id)
      // a node this process links with, or changed and has not written yet, stays (its next write brings it back)
      if (!before || this.#changed.has(id) || this.#opts.isPinned?.(before)) continue
      this.#nodes.delete(id)
      changes.push({ nodeId: id as NodeId, before })
    }
    if (changes.length > 0) this.#opts.onRemote?.(changes)
  }

  get(nodeId: string): RegistryNode | undefined {
    return this.#nodes.get(nodeId)
  }

  list(): RegistryNode[] {
    return [...this.#nodes.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId))
  }

  /** True while changes made with upsert/remove have not been written yet. */
  get dirty(): boolean {
    return this.#dirty
  }

  /**
   * Creates or updates a node's record in memory (no I/O: the caller awaits `save()`),
   * then evicts the least recently seen untouched nodes past `maxUntouchedPeers`.
   */
  upsert(nodeId: NodeId, patch: Partial<Omit<RegistryNode, "nodeId">> = {}, now = Date.now()): RegistryNode {
    const prev = this.#nodes.get(nodeId)
    const next: RegistryNode = {
      nodeId,
      discoveredBy: [],
      firstSeen: now,
      observed: emptyObservation(),
      ...prev,
      ...patch,
      lastSeen: now,
    }
    if (patch.discoveredBy) next.discoveredBy = [...new Set([...(prev?.discoveredBy ?? []), ...patch.discoveredBy])].sort() as DiscoveryMethod[]
    this.#nodes.set(nodeId, next)
    this.#mark(nodeId, decisionFieldsOf(patch))
    this.evictUntouched()
    return next
  }

  /** Changes observations of a known node (no I/O, lastSeen unchanged); false if it is not known. */
  observe(nodeId: string, observed: Observation): boolean {
    const node = this.#nodes.get(nodeId)
    if (!node) return false
    node.observed = observed
    this.#mark(nodeId, [])
    return true
  }

  #mark(nodeId: string, fields: DecisionField[]): void {
    const set = this.#changed.get(nodeId) ?? new Set()
    for (const f of fields) set.add(f)
    this.#changed.set(nodeId, set)
    this.#removed.delete(nodeId)
    this.#evicted.delete(nodeId)
    this.#dirty = true
  }

  /** Forgets a node in memory (the caller awaits `save()`); false if it was not known. */
  remove(nodeId: string): boolean {
    const had = this.#nodes.delete(nodeId)
    if (had) {
      this.#changed.delete(nodeId)
      this.#removed.add(nodeId)
      this.#dirty = true
    }
    return had
  }

  /**
   * Evicts untouched, unpinned nodes, least recently seen first, until at most
   * `maxUntouchedPeers` untouched nodes remain; returns the evicted ones (the caller saves).
   */
  evictUntouched(): RegistryNode[] {
    const max = this.#opts.maxUntouchedPeers ?? DEFAULT_MAX_UNTOUCHED_PEERS
    if (this.#nodes.size <= max) return []
    const untouched = [...this.#nodes.values()].filter(n => !isTouched(n))
    let excess = untouched.length - max
    if (excess <= 0) return []
    const pinned = this.#opts.isPinned
    untouched.sort((a, b) => a.lastSeen - b.lastSeen || a.nodeId.localeCompare(b.nodeId))
    const evicted: RegistryNode[] = []
    for (const n of untouched) {
      if (excess <= 0) break
      if (pinned?.(n)) continue // asked lazily: usually only the oldest one or two are
      this.#nodes.delete(n.nodeId)
      this.#changed.delete(n.nodeId)
      this.#evicted.add(n.nodeId)
      evicted.push(n)
      excess--
    }
    if (evicted.length === 0) return evicted
    this.#dirty = true
    this.evictedCount += evicted.length
    this.#opts.onEvict?.(evicted)
    return evicted
  }

  /** Nodes an administrator blocked. */
  blocked(): Set<string> {
    return new Set(this.list().filter(n => n.blocked).map(n => n.nodeId))
  }

  /** Highest descriptor sequence seen per node (older ones are replays). */
  sequences(): Map<string, number> {
    return new Map(this.list().flatMap(n => (n.lastSequence === undefined ? [] : [[n.nodeId, n.lastSequence] as [string, number]])))
  }

  /**
   * Writes the file (atomic rename); resolves once a write that includes every change
   * made before the call is done. Calls made while a write is waiting coalesce into it.
   * A failed write rejects (FedhubError INTERNAL naming the file) and is also reported
   * once to `onError`, so a caller that does not await still leaves a trace; the
   * changes stay dirty and the next `save()` writes them again.
   */
  save(): Promise<void> {
    if (this.#closed) return Promise.resolve() // the hub stopped: later changes stay in memory
    if (this.#queued) return this.#queued
    const write = this.#saving
      .catch(() => {})
      .then(async () => {
        this.#queued = undefined
        this.#dirty = false
        const changed = this.#changed
        const removed = this.#removed
        const evicted = this.#evicted
        this.#changed = new Map()
        this.#removed = new Set()
        this.#evicted = new Set()
        const batch: RegistryBatch = {
          changed: [...changed].flatMap(([id, fields]) => {
            const node = this.#nodes.get(id)
            return node ? [{ node, fields: [...fields] }] : []
          }),
          removed: [...removed],
          evicted: [...evicted],
          all: () => this.list(),
          directoryUrl: this.directoryUrl,
        }
        try {
          const { stored, gone } = await this.#store.write(batch)
          this.lastSaveError = undefined
          // what the database holds now (other processes' decisions merged in); changes made meanwhile stay pending
          if (stored.length > 0 || gone.length > 0) this.#takeRemote(stored, gone)
        } catch (e) {
          this.#dirty = true
          for (const [id, fields] of changed) if (!this.#removed.has(id) && !this.#evicted.has(id)) this.#mark(id, [...fields, ...(this.#changed.get(id) ?? [])])
          for (const id of removed) if (!this.#nodes.has(id)) this.#removed.add(id)
          for (const id of evicted) if (!this.#nodes.has(id)) this.#evicted.add(id)
          const err = new FedhubError("INTERNAL", `could not write the registry ${this.path}: ${(e as Error).message}`, { cause: (e as NodeJS.ErrnoException).code })
          this.lastSaveError = err
          throw err
        }
      })
    // reported here once per failed write; the promise handed out still rejects for whoever awaits it
    void write.catch((e: unknown) => this.#opts.onError?.(e as Error))
    this.#queued = write
    this.#saving = write
    return write
  }

  /**
   * Writes what is pending, then stops writing: work still running when the hub stops (a
   * discovery run, a late link event) must not write into a home that may be going away.
   */
  async close(): Promise<void> {
    await this.save()
    this.#closed = true
    await this.#store.close?.()
  }
}
