/**
 * Several hub processes of one identity on one PostgreSQL: what one process stores (a
 * document chunk, a policy record, a signature) is announced with `NOTIFY` on the schema's
 * channel in the same statement that stores it, and every other process `LISTEN`s and acts
 * on it, one notification at a time in commit order. The listening connection also holds
 * this process's slot (a session advisory lock), released by PostgreSQL when the process dies.
 */
import { randomBytes } from "node:crypto"
import pg from "pg"

/** A notification: who sent it (`o`, a process's origin id) and what happened (`k`), plus its fields. */
export interface BusMessage {
  o: string
  k: string
  [field: string]: unknown
}

export interface ClusterBusOptions {
  url: string
  schema: string
  /** Most processes of one identity (slots 0 … maxSlots-1). */
  maxSlots?: number
  onError?: (err: Error) => void
}

/** The channel of a schema (one per identity). */
export const channelOf = (schema: string): string => `fedhub:${schema}`

/** A notification payload is at most 8000 bytes (PostgreSQL's limit); ours stay far below. */
export const encodeMessage = (m: BusMessage): string => JSON.stringify(m)

type Handler = (m: BusMessage) => Promise<void> | void

export class ClusterBus {
  /** This process, as it signs what it announces (random per start). */
  readonly origin = randomBytes(9).toString("base64url")
  readonly channel: string
  readonly #opts: ClusterBusOptions
  #client!: pg.Client
  #slot = -1
  #handlers = new Map<string, Handler[]>()
  #queue: Promise<void> = Promise.resolve()
  #closed = false
  /** Named session locks this process holds (re-taken after a reconnect). */
  #locks = new Set<string>()
  /** Notifications handled from other processes since start. */
  received = 0

  private constructor(opts: ClusterBusOptions) {
    this.#opts = opts
    this.channel = channelOf(opts.schema)
  }

  /** Connects, takes the lowest free slot and listens. */
  static async open(opts: ClusterBusOptions): Promise<ClusterBus> {
    const bus = new ClusterBus(opts)
    await bus.#connect()
    return bus
  }

  /** This process's slot among the live processes of the identity (0 for the first). */
  get slot(): number {
    return this.#slot
  }

  /** Calls `handler` for every notification of kind `k` from another process, in order. */
  on(kind: string, handler: Handler): void {
    this.#handlers.set(kind, [...(this.#handlers.get(kind) ?? []), handler])
  }

  /** Announces a notification of kind `k` with `fields` to the other processes (not to this one). */
  async publish(kind: string, fields: Record<string, unknown> = {}): Promise<void> {
    if (!this.#client) throw new Error("the listening connection is down")
    await this.#client.query("SELECT pg_notify($1, $2)", [this.channel, encodeMessage({ ...fields, o: this.origin, k: kind })])
  }

  /**
   * Takes the named lock among the processes of the identity, held until `unlock` or until
   * this process dies (a session advisory lock on the listening connection); false when
   * another process holds it.
   */
  async tryLock(name: string): Promise<boolean> {
    if (this.#locks.has(name)) return true
    if (!this.#client) return false
    const { rows } = await this.#client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok", [lockKey(this.#opts.schema, name)])
    if (rows[0]?.ok) this.#locks.add(name)
    return rows[0]?.ok === true
  }

  /** Lets go of a lock taken with `tryLock`. */
  async unlock(name: string): Promise<void> {
    if (!this.#locks.delete(name) || !this.#client) return
    await this.#client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [lockKey(this.#opts.schema, name)])
  }

  /** Waits until every notification received so far is handled (tests, shutdown). */
  idle(): Promise<void> {
    return this.#queue
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#queue
    await this.#client.end().catch(() => {})
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#opts.url })
    client.on("error", err => this.#lost(err))
    client.on("end", () => this.#lost(new Error("the listening connection ended")))
    client.on("notification", n => {
      if (n.channel === this.channel && n.payload) this.#dispatch(n.payload)
    })
    await client.connect()
    const slot = await takeSlot(client, this.#opts.schema, this.#opts.maxSlots ?? 256, this.#slot)
    if (slot < 0) {
      await client.end().catch(() => {})
      throw new Error(`every one of ${this.#opts.maxSlots ?? 256} process slots of schema ${this.#opts.schema} is taken`)
    }
    this.#slot = slot
    await client.query(`LISTEN "${this.channel}"`)
    // the locks held on the lost connection went with it: take them again (one taken meanwhile is lost)
    for (const name of this.#locks) {
      const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok", [lockKey(this.#opts.schema, name)])
      if (!rows[0]?.ok) {
        this.#locks.delete(name)
        this.#opts.onError?.(new Error(`the lock ${name} was taken by another process while the listening connection was down`))
      }
    }
    this.#client = client
  }

  #lost(err: Error): void {
    if (this.#closed) return
    this.#opts.onError?.(err)
    const client = this.#client
    this.#client = undefined as never
    client?.removeAllListeners()
    void client?.end().catch(() => {})
    // reconnect with backoff; what was announced meanwhile is caught up by a `resync` to the handlers
    const retry = (delay: number) =>
      setTimeout(() => {
        if (this.#closed) return
        this.#connect()
          .then(() => this.#dispatch(encodeMessage({ o: "", k: "resync" })))
          .catch(e => {
            this.#opts.onError?.(e as Error)
            retry(Math.min(delay * 2, 30_000))
          })
      }, delay).unref()
    retry(250)
  }

  #dispatch(payload: string): void {
    let m: BusMessage
    try {
      m = JSON.parse(payload) as BusMessage
    } catch {
      return
    }
    if (m.o === this.origin || typeof m.k !== "string") return
    const handlers = this.#handlers.get(m.k) ?? []
    if (handlers.length === 0) return
    this.received++
    this.#queue = this.#queue.then(async () => {
      for (const h of handlers) {
        try {
          await h(m)
        } catch (e) {
          this.#opts.onError?.(e as Error)
        }
      }
    })
  }
}

/** The advisory lock key of a named lock of a schema (hashed to 64 bits by PostgreSQL). */
const lockKey = (schema: string, name: string): string => `fedhub-lock:${schema}:${name}`

/** The lowest free slot (trying `prefer` first), held by a session advisory lock on `client`; -1 when all are taken. */
async function takeSlot(client: pg.Client, schema: string, max: number, prefer: number): Promise<number> {
  const order = prefer >= 0 ? [prefer, ...Array.from({ length: max }, (_, i) => i).filter(i => i !== prefer)] : Array.from({ length: max }, (_, i) => i)
  for (const slot of order) {
    const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1), $2) AS ok", [`fedhub-slot:${schema}`, slot])
    if (rows[0]?.ok) return slot
  }
  return -1
}
