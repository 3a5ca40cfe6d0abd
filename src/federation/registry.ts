/**
 * The local registry: what this hub knows and decided about other nodes (admin
 * trust, blocks, allowlist, highest descriptor sequence seen, observed health).
 * Private to this hub and its administrator; kept as a JSON file in the home.
 */
import { readJsonFile, writeFileAtomic } from "../replication/jsonFile.ts"
import { FedhubError } from "../errors.ts"
import { isNodeId, type NodeId } from "../identity/index.ts"
import type { DiscoveryMethod } from "./discovery/types.ts"
import { emptyObservation, migrateObservation, type Observation } from "./reputation.ts"

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
}

interface RegistryFile {
  version: 1
  /** This hub's own directory document. */
  directoryUrl?: string
  nodes: RegistryNode[]
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
  /** The error of the latest write, if it failed (cleared by the next good one). */
  lastSaveError?: Error
  /** Nodes evicted since this registry was opened. */
  evictedCount = 0

  private constructor(path: string, opts: RegistryOptions) {
    this.path = path
    this.#opts = opts
  }

  /**
   * Loads the registry file (an absent file is an empty registry; a corrupt one is an
   * error). A file already over `maxUntouchedPeers` is trimmed at the next `evictUntouched()` or `upsert`.
   */
  static async open(path: string, opts: RegistryOptions = {}): Promise<Registry> {
    const max = opts.maxUntouchedPeers ?? DEFAULT_MAX_UNTOUCHED_PEERS
    if (!Number.isInteger(max) || max < 0) throw new FedhubError("CONFIG_INVALID", `maxUntouchedPeers must be a non-negative integer, got ${String(max)}`)
    const reg = new Registry(path, opts)
    const file = await readJsonFile<RegistryFile>(path)
    if (file) {
      for (const n of file.nodes ?? []) if (isNodeId(n.nodeId)) reg.#nodes.set(n.nodeId, { ...n, observed: migrateObservation(n.observed, n.lastSeen) })
      reg.directoryUrl = file.directoryUrl
    }
    return reg
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
    this.#dirty = true
    this.evictUntouched()
    return next
  }

  /** Forgets a node in memory (the caller awaits `save()`); false if it was not known. */
  remove(nodeId: string): boolean {
    const had = this.#nodes.delete(nodeId)
    if (had) this.#dirty = true
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
        const body = JSON.stringify({ version: 1, directoryUrl: this.directoryUrl, nodes: this.list() } satisfies RegistryFile, null, 2) + "\n"
        try {
          await writeFileAtomic(this.path, body)
          this.lastSaveError = undefined
        } catch (e) {
          this.#dirty = true
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
  }
}
