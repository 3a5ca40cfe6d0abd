/**
 * The PostgreSQL schema of a hub's storage, as numbered migrations applied in order, each
 * once, in one transaction under an advisory lock (several hub processes may start at
 * once). `migrations` records what is applied; a database newer than this code is refused.
 */
import type pg from "pg"
import { FedhubError } from "../../errors.ts"

/** One step of the schema: its number and the SQL it runs (`$schema` is the quoted schema name). */
export interface Migration {
  version: number
  description: string
  sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "chunks (automerge-repo storage keys) and the hub that owns the database",
    sql: `
      CREATE TABLE $schema.chunks (
        key text[] PRIMARY KEY,
        doc text GENERATED ALWAYS AS (key[1]) STORED,
        seq bigserial NOT NULL,
        data bytea NOT NULL
      );
      CREATE INDEX chunks_doc_seq ON $schema.chunks (doc, seq);
      CREATE TABLE $schema.meta (name text PRIMARY KEY, value text NOT NULL);
    `,
  },
  {
    version: 2,
    description: "several processes of one identity: record logs (policies, signatures), used handshake nonces, pending challenges",
    sql: `
      CREATE TABLE $schema.records (
        seq bigserial PRIMARY KEY,
        log text NOT NULL,
        origin text NOT NULL,
        line text NOT NULL
      );
      CREATE INDEX records_log_seq ON $schema.records (log, seq);
      CREATE TABLE $schema.nonces (nonce text PRIMARY KEY, until_ms bigint NOT NULL);
      CREATE INDEX nonces_until ON $schema.nonces (until_ms);
      CREATE TABLE $schema.challenges (server_nonce text PRIMARY KEY, transcript text NOT NULL, expires_ms bigint NOT NULL);
      CREATE INDEX challenges_expires ON $schema.challenges (expires_ms);
    `,
  },
  {
    version: 3,
    description: "the registry shared by the processes of one identity: one row per node (JSON text, merged by the writer under a lock)",
    sql: `
      CREATE TABLE $schema.registry (
        node_id text PRIMARY KEY,
        touched boolean NOT NULL,
        row text NOT NULL
      );
    `,
  },
]

/** Postgres identifiers we accept for the schema name: no quoting surprises. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** Applies every migration the database lacks; returns the version it is at. */
export async function migrate(client: pg.ClientBase, schema: string, migrations: readonly Migration[] = MIGRATIONS): Promise<number> {
  if (!SCHEMA_NAME.test(schema)) throw new FedhubError("CONFIG_INVALID", `storage schema ${JSON.stringify(schema)} is not a plain lower-case identifier`)
  const q = `"${schema}"`
  await client.query("BEGIN")
  try {
    // one lock per schema name, held until COMMIT: concurrent starters wait, then see the work done
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`fedhub-migrate:${schema}`])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${q}.migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    const applied = new Set((await client.query<{ version: number }>(`SELECT version FROM ${q}.migrations`)).rows.map(r => r.version))
    const known = Math.max(0, ...migrations.map(m => m.version))
    const newest = Math.max(0, ...applied)
    if (newest > known)
      throw new FedhubError("CONFIG_INVALID", `the database schema ${schema} is at version ${newest}, newer than this fedhub knows (${known}); upgrade fedhub`)
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue
      await client.query(m.sql.replaceAll("$schema", q))
      await client.query(`INSERT INTO ${q}.migrations (version, description) VALUES ($1, $2)`, [m.version, m.description])
    }
    await client.query("COMMIT")
    return known
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {})
    throw e
  }
}
