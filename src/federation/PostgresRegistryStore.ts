/**
 * The registry shared by the processes of one identity on PostgreSQL: one row per node in
 * `registry` (the record as JSON text, checked against schemas/registry-node.schema.json on
 * every read). A write takes the identity's registry lock for its transaction, reads the rows
 * it touches, merges each with this process's record (registryMerge.ts: decisions by latest
 * write, observations by union and max), writes them back and NOTIFYs the node ids in the same
 * transaction; every other process reads exactly those rows and takes them in. A row that is not
 * JSON or not a registry node is skipped and reported, never fatal.
 */
import { rename } from "node:fs/promises"
import type pg from "pg"
import { readJsonFile } from "../replication/jsonFile.ts"
import { isNodeId } from "../identity/index.ts"
import { isValid, schemaProblems } from "../schema/validate.ts"
import { encodeMessage, type ClusterBus } from "../replication/storage/ClusterBus.ts"
import { readMeta, withSharedLock, writeMeta } from "../replication/storage/sharedMeta.ts"
import { isTouched, type RegistryBatch, type RegistryNode, type RegistryStore } from "./registry.ts"
import { DECISION_FIELDS, mergeWrite, toRow } from "./registryMerge.ts"
import { migrateObservation } from "./reputation.ts"

/** The kind of the notification a write sends. */
const KIND = "registry"
/** Node ids per notification (each ~55 bytes; PostgreSQL's payload limit is 8000 bytes). */
const IDS_PER_NOTIFY = 100
/** The `meta` name of the identity's directory document. */
export const DIRECTORY_META = "directory"

export interface PostgresRegistryStoreOptions {
  /** Told about each row skipped on read (not JSON, not a registry node, or under another node's id). */
  onCorrupt?: (nodeId: string, reason: string) => void
  /** Told about a failed read of another process's rows (the bus keeps delivering). */
  onError?: (err: Error) => void
  /**
   * The home's `registry.json` from before the registry moved into the database: imported once
   * at open (its decisions and observations merged in, its directory recorded if none is), then
   * renamed to `registry.json.imported`.
   */
  legacyFile?: string
}

export class PostgresRegistryStore implements RegistryStore {
  readonly #pool: pg.Pool
  readonly #schema: string
  readonly #t: string
  readonly #bus?: ClusterBus
  readonly #opts: PostgresRegistryStoreOptions
  #closed = false
  /** Rows skipped as corrupt since open. */
  skipped = 0

  constructor(pool: pg.Pool, schema: string, bus?: ClusterBus, opts: PostgresRegistryStoreOptions = {}) {
    this.#pool = pool
    this.#schema = schema
    this.#t = `"${schema}".registry`
    this.#bus = bus
    this.#opts = opts
  }

  async load(): Promise<{ nodes: RegistryNode[]; directoryUrl?: string }> {
    if (this.#opts.legacyFile) await this.#importLegacy(this.#opts.legacyFile)
    const { rows } = await this.#pool.query<{ node_id: string; row: string }>(`SELECT node_id, row FROM ${this.#t}`)
    return { nodes: rows.flatMap(r => this.#check(r)), directoryUrl: await readMeta(this.#pool, this.#schema, DIRECTORY_META) }
  }

  async write(batch: RegistryBatch): Promise<{ stored: RegistryNode[]; gone: string[] }> {
    if (batch.changed.length === 0 && batch.removed.length === 0 && batch.evicted.length === 0) return { stored: [], gone: [] }
    const client = await this.#pool.connect()
    let broken: Error | undefined
    try {
      await client.query("BEGIN")
      // one writer of this identity's registry at a time: a read-merge-write never loses another's
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`fedhub-registry:${this.#schema}`])
      const ids = batch.changed.map(c => c.node.nodeId as string)
      const held = new Map((await this.#read(client, ids)).map(n => [n.nodeId as string, n]))
      const merged = batch.changed.map(c => toRow(mergeWrite(held.get(c.node.nodeId), c.node, c.fields)))
      if (merged.length > 0)
        await client.query(
          `INSERT INTO ${this.#t} (node_id, touched, row) SELECT * FROM unnest($1::text[], $2::boolean[], $3::text[])
           ON CONFLICT (node_id) DO UPDATE SET touched = EXCLUDED.touched, row = EXCLUDED.row`,
          [merged.map(n => n.nodeId), merged.map(isTouched), merged.map(n => JSON.stringify(n))],
        )
      const gone: string[] = []
      if (batch.removed.length > 0)
        gone.push(...(await client.query<{ node_id: string }>(`DELETE FROM ${this.#t} WHERE node_id = ANY($1) RETURNING node_id`, [batch.removed])).rows.map(r => r.node_id))
      let kept: RegistryNode[] = []
      if (batch.evicted.length > 0) {
        // a node another process touched (blocked, trusted, added) since this one chose to evict it stays
        const evicted = (await client.query<{ node_id: string }>(`DELETE FROM ${this.#t} WHERE node_id = ANY($1) AND NOT touched RETURNING node_id`, [batch.evicted])).rows.map(r => r.node_id)
        gone.push(...evicted)
        const deleted = new Set(evicted)
        kept = await this.#read(client, batch.evicted.filter(id => !deleted.has(id)))
      }
      const announced = [...ids, ...gone]
      if (this.#bus && announced.length > 0) {
        const payloads: string[] = []
        for (let i = 0; i < announced.length; i += IDS_PER_NOTIFY)
          payloads.push(encodeMessage({ o: this.#bus.origin, k: KIND, ids: announced.slice(i, i + IDS_PER_NOTIFY) }))
        await client.query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", [this.#bus.channel, payloads])
      }
      await client.query("COMMIT")
      return { stored: [...merged, ...kept], gone }
    } catch (e) {
      await client.query("ROLLBACK").catch((err: unknown) => (broken = err as Error))
      throw e
    } finally {
      client.release(broken)
    }
  }

  async settleDirectory(decide: (current: string | undefined) => Promise<string>): Promise<string> {
    return withSharedLock(this.#pool, this.#schema, "directory", async client => {
      const current = await readMeta(client, this.#schema, DIRECTORY_META)
      const url = await decide(current)
      if (url !== current) await writeMeta(client, this.#schema, DIRECTORY_META, url)
      return url
    })
  }

  onRemote(listener: (rows: unknown[], gone: string[]) => void): void {
    this.#bus?.on(KIND, async m => {
      if (this.#closed || !Array.isArray(m.ids)) return
      const ids = m.ids.filter((x): x is string => typeof x === "string").slice(0, IDS_PER_NOTIFY)
      try {
        const rows = await this.#read(this.#pool, ids)
        const present = new Set(rows.map(n => n.nodeId as string))
        listener(rows, ids.filter(id => !present.has(id) && !this.#skippedIds.has(id)))
      } catch (e) {
        this.#opts.onError?.(e as Error)
      }
    })
    // the listening connection was lost for a while: every row is read again (removals meanwhile are seen at the next start)
    this.#bus?.on("resync", async () => {
      if (this.#closed) return
      try {
        listener((await this.load()).nodes, [])
      } catch (e) {
        this.#opts.onError?.(e as Error)
      }
    })
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  /** Merges a registry.json into the table (only the decisions it sets: it never clears one another process made). */
  async #importLegacy(path: string): Promise<void> {
    let file: { directoryUrl?: unknown; nodes?: unknown } | undefined
    try {
      file = await readJsonFile<{ directoryUrl?: unknown; nodes?: unknown }>(path)
    } catch (e) {
      this.#opts.onCorrupt?.("registry.json", `not imported: ${(e as Error).message}`)
      return
    }
    if (!file) return
    const changed: RegistryBatch["changed"] = []
    for (const raw of Array.isArray(file.nodes) ? (file.nodes as Partial<RegistryNode>[]) : []) {
      if (typeof raw !== "object" || raw === null || !isNodeId(raw.nodeId)) continue
      const node = toRow({ discoveredBy: [], firstSeen: 0, lastSeen: 0, ...raw, nodeId: raw.nodeId, observed: migrateObservation(raw.observed, raw.lastSeen) })
      if (!isValid("registry-node", node)) {
        this.#skip(raw.nodeId, `not imported from registry.json: ${schemaProblems("registry-node", node).slice(0, 3).join("; ")}`)
        continue
      }
      changed.push({ node, fields: DECISION_FIELDS.filter(f => node[f] !== undefined) })
    }
    await this.write({ changed, removed: [], evicted: [], all: () => [] })
    if (typeof file.directoryUrl === "string")
      await this.#pool.query(`INSERT INTO "${this.#schema}".meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [DIRECTORY_META, file.directoryUrl])
    await rename(path, `${path}.imported`)
  }

  /** Ids whose row was skipped on the latest read (not "gone": the row is there, unreadable). */
  #skippedIds = new Set<string>()

  async #read(client: pg.ClientBase | pg.Pool, ids: string[]): Promise<RegistryNode[]> {
    if (ids.length === 0) return []
    const { rows } = await client.query<{ node_id: string; row: string }>(`SELECT node_id, row FROM ${this.#t} WHERE node_id = ANY($1)`, [ids])
    return rows.flatMap(r => this.#check(r))
  }

  /** The row as a registry node, or nothing (reported) when it is not one. */
  #check(r: { node_id: string; row: string }): RegistryNode[] {
    let value: unknown
    try {
      value = JSON.parse(r.row)
    } catch (e) {
      return this.#skip(r.node_id, `not JSON: ${(e as Error).message}`)
    }
    if (!isValid("registry-node", value)) return this.#skip(r.node_id, schemaProblems("registry-node", value).slice(0, 3).join("; "))
    if (value.nodeId !== r.node_id) return this.#skip(r.node_id, `the row holds ${value.nodeId}`)
    this.#skippedIds.delete(r.node_id)
    return [value as unknown as RegistryNode]
  }

  #skip(nodeId: string, reason: string): [] {
    this.skipped++
    this.#skippedIds.add(nodeId)
    this.#opts.onCorrupt?.(nodeId, reason)
    return []
  }
}
