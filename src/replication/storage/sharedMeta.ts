/**
 * Values of `meta` that the processes of one identity agree on: the next sequence of the
 * identity's descriptor (strictly above every one any process took, so two processes never
 * sign two descriptors with one sequence), and named values set once under a lock.
 */
import type pg from "pg"

/** The name of the descriptor sequence counter in `meta`. */
const SEQUENCE = "descriptor-sequence"

/**
 * The identity's next descriptor sequence: `candidate` (e.g. now in ms) when it is above
 * every sequence taken before, else one above the highest taken. One statement, so two
 * processes asking at once get two different, increasing values.
 */
export async function nextSharedSequence(pool: pg.Pool, schema: string, candidate: number): Promise<number> {
  const { rows } = await pool.query<{ value: string }>(
    `INSERT INTO "${schema}".meta (name, value) VALUES ($1, $2::bigint::text)
     ON CONFLICT (name) DO UPDATE SET value = GREATEST("${schema}".meta.value::bigint + 1, EXCLUDED.value::bigint)::text
     RETURNING value`,
    [SEQUENCE, candidate],
  )
  return Number(rows[0]!.value)
}

/** Reads a `meta` value. */
export async function readMeta(client: pg.ClientBase | pg.Pool, schema: string, name: string): Promise<string | undefined> {
  const { rows } = await client.query<{ value: string }>(`SELECT value FROM "${schema}".meta WHERE name = $1`, [name])
  return rows[0]?.value
}

/** Writes a `meta` value. */
export async function writeMeta(client: pg.ClientBase | pg.Pool, schema: string, name: string, value: string): Promise<void> {
  await client.query(`INSERT INTO "${schema}".meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, [name, value])
}

/**
 * Runs `fn` while holding the identity's lock `name` (a session advisory lock on one pooled
 * connection, handed to `fn`): processes of one identity starting together run it one at a time.
 */
export async function withSharedLock<T>(pool: pg.Pool, schema: string, name: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  const key = `fedhub-${name}:${schema}`
  let broken: Error | undefined
  try {
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [key])
    try {
      return await fn(client)
    } finally {
      // a connection that could not unlock is closed, not pooled: PostgreSQL then releases the lock
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [key]).catch((e: unknown) => (broken = e as Error))
    }
  } finally {
    client.release(broken)
  }
}
