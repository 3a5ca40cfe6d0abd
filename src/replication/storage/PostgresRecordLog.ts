/**
 * A record log (policies, signatures) shared by the processes of one identity: lines are
 * rows of `records` (kept as the exact JSON text, signed envelopes stay byte for byte), and
 * an append NOTIFYs the other processes in the same statement, so they read exactly the rows
 * it added. An append resolves once PostgreSQL committed it. It never compacts.
 */
import type pg from "pg"
import type { RecordLog } from "../recordLog.ts"
import { encodeMessage, type ClusterBus } from "./ClusterBus.ts"

/** The kind of the notification an append sends. */
const KIND = "log"

export class PostgresRecordLog implements RecordLog {
  readonly #pool: pg.Pool
  readonly #t: string
  readonly #name: string
  readonly #bus?: ClusterBus
  #closed = false
  #writing = new Set<Promise<unknown>>()

  /** The log `name` (e.g. "policies") in `schema`; with a bus, appends are announced and others' are delivered. */
  constructor(pool: pg.Pool, schema: string, name: string, bus?: ClusterBus) {
    this.#pool = pool
    this.#t = `"${schema}".records`
    this.#name = name
    this.#bus = bus
  }

  async load(): Promise<unknown[]> {
    const { rows } = await this.#pool.query<{ line: string }>(`SELECT line FROM ${this.#t} WHERE log = $1 ORDER BY seq`, [this.#name])
    return rows.flatMap(r => parse(r.line))
  }

  async append(lines: readonly unknown[]): Promise<void> {
    if (this.#closed || lines.length === 0) return
    const texts = lines.map(l => JSON.stringify(l))
    const origin = this.#bus?.origin ?? ""
    const write = this.#bus
      ? this.#pool.query(
          `WITH ins AS (INSERT INTO ${this.#t} (log, origin, line) SELECT $1, $2, x FROM unnest($3::text[]) AS x RETURNING seq)
           SELECT pg_notify($4, json_build_object('o', $2::text, 'k', $5::text, 'log', $1::text, 'from', min(seq), 'to', max(seq))::text) FROM ins`,
          [this.#name, origin, texts, this.#bus.channel, KIND],
        )
      : this.#pool.query(`INSERT INTO ${this.#t} (log, origin, line) SELECT $1, $2, x FROM unnest($3::text[]) AS x`, [this.#name, origin, texts])
    this.#writing.add(write)
    try {
      await write
    } finally {
      this.#writing.delete(write)
    }
  }

  onRemote(listener: (lines: unknown[]) => void): void {
    this.#bus?.on(KIND, async m => {
      if (m.log !== this.#name || this.#closed) return
      const { rows } = await this.#pool.query<{ line: string }>(
        `SELECT line FROM ${this.#t} WHERE log = $1 AND origin = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq`,
        [this.#name, m.o, m.from, m.to],
      )
      listener(rows.flatMap(r => parse(r.line)))
    })
    // the listening connection was lost for a while: everything is read again (stores ignore what they hold)
    this.#bus?.on("resync", async () => {
      if (!this.#closed) listener(await this.load())
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.allSettled([...this.#writing])
  }
}

const parse = (line: string): unknown[] => {
  try {
    return [JSON.parse(line)]
  } catch {
    return []
  }
}
