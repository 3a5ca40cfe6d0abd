/**
 * The local registry: what this hub knows and decided about other nodes (admin
 * trust, blocks, allowlist, highest descriptor sequence seen, observed health).
 * Private to this hub and its administrator; kept as a JSON file in the home.
 */
import { readFile, rename, writeFile } from "node:fs/promises"
import { FedhubError } from "../errors.ts"
import { isNodeId, type NodeId } from "../identity/index.ts"
import type { DiscoveryMethod } from "./discovery/types.ts"

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
  lastSequence?: number
  /** Proved possession of its key (a handshake answered our nonce). */
  provenAt?: number
  discoveredBy: DiscoveryMethod[]
  firstSeen: number
  lastSeen: number
  observed: { successes: number; failures: number; uptime: number }
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
  #queued?: Promise<void>

  private constructor(path: string) {
    this.path = path
  }

  /** Loads the registry file (an absent file is an empty registry; a corrupt one is an error). */
  static async open(path: string): Promise<Registry> {
    const reg = new Registry(path)
    let text: string | undefined
    try {
      text = await readFile(path, "utf8")
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
    }
    if (text !== undefined) {
      let file: RegistryFile
      try {
        file = JSON.parse(text) as RegistryFile
      } catch (e) {
        throw new FedhubError("CONFIG_INVALID", `${path} is not JSON: ${(e as Error).message}`)
      }
      for (const n of file.nodes ?? []) if (isNodeId(n.nodeId)) reg.#nodes.set(n.nodeId, n)
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

  /** Creates or updates a node's record and saves. */
  upsert(nodeId: NodeId, patch: Partial<Omit<RegistryNode, "nodeId">> = {}, now = Date.now()): RegistryNode {
    const prev = this.#nodes.get(nodeId)
    const next: RegistryNode = {
      nodeId,
      discoveredBy: [],
      firstSeen: now,
      observed: { successes: 0, failures: 0, uptime: 0.5 },
      ...prev,
      ...patch,
      lastSeen: now,
    }
    if (patch.discoveredBy) next.discoveredBy = [...new Set([...(prev?.discoveredBy ?? []), ...patch.discoveredBy])].sort() as DiscoveryMethod[]
    this.#nodes.set(nodeId, next)
    this.save()
    return next
  }

  remove(nodeId: string): boolean {
    const had = this.#nodes.delete(nodeId)
    if (had) this.save()
    return had
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
   */
  save(): Promise<void> {
    this.#queued ??= this.#saving
      .catch(() => {})
      .then(async () => {
        this.#queued = undefined
        const body = JSON.stringify({ version: 1, directoryUrl: this.directoryUrl, nodes: this.list() } satisfies RegistryFile, null, 2) + "\n"
        const tmp = `${this.path}.${process.pid}.tmp`
        await writeFile(tmp, body, { mode: 0o600 })
        await rename(tmp, this.path)
      })
    this.#saving = this.#queued
    return this.#queued
  }
}
