/**
 * automerge-repo storage on PostgreSQL: one row per storage key (`[documentId, kind, name]`,
 * kinds `incremental`, `snapshot`, `sync-state`), so a document's chunks and snapshots are
 * its rows and automerge-repo's own compaction (save a snapshot, remove the chunks it covers)
 * is plain inserts and deletes. Nothing is cached: memory holds only what a Repo loaded.
 */
import pg from "pg"
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import { FedhubError } from "../../errors.ts"
import { migrate } from "./migrations.ts"

export interface PostgresStorageOptions {
  /** A libpq connection URL (`postgresql://user:pass@host:5432/db`, or `?host=/socket/dir`). */
  url: string
  /** The schema holding the tables (one per hub identity when several share a database). */
  schema?: string
  /** Connections in the pool. */
  poolSize?: number
  /** The node id this storage belongs to: recorded on first open, and refused when another opens it. */
  owner?: string
  /** Errors of idle pool connections (a server restart); without it they would crash the process. */
  onError?: (err: Error) => void
}

export const DEFAULT_SCHEMA = "fedhub"

/** Document content kinds (sync states are per peer, not content). */
const CONTENT_KINDS = ["incremental", "snapshot"]

const toBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

export class PostgresStorageAdapter implements StorageAdapterInterface {
  readonly pool: pg.Pool
  readonly schema: string
  readonly #t: string

  private constructor(pool: pg.Pool, schema: string) {
    this.pool = pool
    this.schema = schema
    this.#t = `"${schema}".chunks`
  }

  /** Connects, applies the migrations it lacks, and checks (or records) the owner. */
  static async open(opts: PostgresStorageOptions): Promise<PostgresStorageAdapter> {
    const schema = opts.schema ?? DEFAULT_SCHEMA
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10 })
    pool.on("error", err => opts.onError?.(err))
    try {
      const client = await pool.connect().catch(e => {
        throw new FedhubError("CONFIG_INVALID", `cannot connect to PostgreSQL (storage.url): ${(e as Error).message}`)
      })
      try {
        await migrate(client, schema)
        if (opts.owner) await claimOwner(client, schema, opts.owner)
      } finally {
        client.release()
      }
    } catch (e) {
      await pool.end().catch(() => {})
      throw e
    }
    return new PostgresStorageAdapter(pool, schema)
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    const { rows } = await this.pool.query<{ data: Buffer }>(`SELECT data FROM ${this.#t} WHERE key = $1`, [key])
    return rows[0] ? toBytes(rows[0].data) : undefined
  }

  /**
   * Set when other processes of this identity share the database (ClusterBus): saving a
   * document's content NOTIFYs them in the same statement, so a committed chunk is announced
   * exactly when it becomes readable, and never lost between the two.
   */
  announce?: { channel: string; origin: string }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    const upsert = `INSERT INTO ${this.#t} (key, data) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data`
    if (this.announce && CONTENT_KINDS.includes(key[1] ?? "")) {
      const note = JSON.stringify({ o: this.announce.origin, k: "chunk", key })
      await this.pool.query(`WITH s AS (${upsert} RETURNING 1) SELECT pg_notify($3, $4) FROM s`, [key, toBuffer(data), this.announce.channel, note])
      return
    }
    await this.pool.query(upsert, [key, toBuffer(data)])
  }

  async remove(key: StorageKey): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.#t} WHERE key = $1`, [key])
  }

  async loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    const { rows } = await this.pool.query<{ key: string[]; data: Buffer }>(
      `SELECT key, data FROM ${this.#t} WHERE ${prefixWhere(keyPrefix)} ORDER BY seq`,
      prefixArgs(keyPrefix),
    )
    return rows.map(r => ({ key: r.key, data: toBytes(r.data) }))
  }

  async removeRange(keyPrefix: StorageKey): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.#t} WHERE ${prefixWhere(keyPrefix)}`, prefixArgs(keyPrefix))
  }

  /** The documents with content stored, read from keys without loading any content. */
  async documentIds(): Promise<string[]> {
    const { rows } = await this.pool.query<{ doc: string }>(`SELECT DISTINCT doc FROM ${this.#t} WHERE key[2] = ANY($1)`, [CONTENT_KINDS])
    return rows.map(r => r.doc)
  }

  /** Closes the pool (after the Repo has flushed). */
  async close(): Promise<void> {
    await this.pool.end()
  }

}

// an empty prefix matches every row; else the document column narrows it through its index
const prefixWhere = (keyPrefix: StorageKey): string => (keyPrefix.length === 0 ? "true" : "doc = $1 AND key[1:$2] = $3::text[]")
const prefixArgs = (keyPrefix: StorageKey): unknown[] => (keyPrefix.length === 0 ? [] : [keyPrefix[0], keyPrefix.length, keyPrefix])

/** Records the owning node id on first open; a database another node owns is refused. */
async function claimOwner(client: pg.ClientBase, schema: string, owner: string): Promise<void> {
  await client.query(`INSERT INTO "${schema}".meta (name, value) VALUES ('owner', $1) ON CONFLICT (name) DO NOTHING`, [owner])
  const { rows } = await client.query<{ value: string }>(`SELECT value FROM "${schema}".meta WHERE name = 'owner'`)
  if (rows[0]?.value !== owner)
    throw new FedhubError(
      "CONFIG_INVALID",
      `the PostgreSQL schema ${schema} holds the storage of node ${rows[0]?.value}, not ${owner}; give this hub its own database or storage.schema`,
    )
}
