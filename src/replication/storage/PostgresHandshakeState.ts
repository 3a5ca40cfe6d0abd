/**
 * The handshake state several processes of one identity must agree on, in PostgreSQL:
 * used nonces (`nonces`, a primary key: the first insert wins, so a nonce replayed to
 * another process is refused) and pending challenges (`challenges`, taken out with
 * `DELETE … RETURNING`: one process consumes a challenge, whichever issued it).
 */
import type pg from "pg"
import type { HandshakeTranscript, SharedHandshakeState } from "../handshake.ts"

/** Expired rows are deleted every this many claims (one cheap indexed delete). */
const SWEEP_EVERY = 256

export class PostgresHandshakeState implements SharedHandshakeState {
  readonly #pool: pg.Pool
  readonly #s: string
  #claims = 0

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool
    this.#s = `"${schema}"`
  }

  async claim(nonce: string, untilMs: number): Promise<boolean> {
    if (++this.#claims % SWEEP_EVERY === 0) await this.sweep()
    const r = await this.#pool.query(`INSERT INTO ${this.#s}.nonces (nonce, until_ms) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING`, [nonce, untilMs])
    return r.rowCount === 1
  }

  async put(serverNonce: string, transcript: HandshakeTranscript, expiresAt: number): Promise<void> {
    await this.#pool.query(`INSERT INTO ${this.#s}.challenges (server_nonce, transcript, expires_ms) VALUES ($1, $2, $3)`, [serverNonce, JSON.stringify(transcript), expiresAt])
  }

  async take(serverNonce: string): Promise<{ transcript: HandshakeTranscript; expiresAt: number } | undefined> {
    const { rows } = await this.#pool.query<{ transcript: string; expires_ms: string }>(
      `DELETE FROM ${this.#s}.challenges WHERE server_nonce = $1 RETURNING transcript, expires_ms`,
      [serverNonce],
    )
    const row = rows[0]
    return row ? { transcript: JSON.parse(row.transcript) as HandshakeTranscript, expiresAt: Number(row.expires_ms) } : undefined
  }

  /** Forgets nonces past their replay window and challenges long expired (their proofs are refused as stale anyway). */
  async sweep(now = Date.now()): Promise<void> {
    await this.#pool.query(`DELETE FROM ${this.#s}.nonces WHERE until_ms < $1`, [now])
    await this.#pool.query(`DELETE FROM ${this.#s}.challenges WHERE expires_ms < $1`, [now - 60_000])
  }
}
