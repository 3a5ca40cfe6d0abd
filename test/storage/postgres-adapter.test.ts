/** The PostgreSQL storage adapter passes automerge-repo's suite on a real server, migrates once, and keeps to its owner. */
import "@automerge/automerge-repo"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import pg from "pg"
import { runStorageAdapterTests } from "@automerge/automerge-repo/helpers/tests/storage-adapter-tests.js"
import { MIGRATIONS, migrate, PostgresStorageAdapter } from "../../src/replication/storage/index.ts"
import { ClosableStorage } from "../../src/replication/ClosableStorage.ts"
import { FedhubError } from "../../src/errors.ts"
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts"

let server: TestPostgres
let url: string
let schemas = 0

beforeAll(async () => {
  server = await startPostgres()
  url = await server.createDatabase("adapter")
}, 90_000)
afterAll(async () => server?.stop(), 60_000)

/** Awaits a promise that must reject with a FedhubError of `code`. */
async function expectFedhubError(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => new Error("expected a FedhubError, it resolved"),
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(FedhubError)
  expect((e as FedhubError).code).toBe(code)
}

const freshSchema = () => `s${++schemas}`

describe("PostgresStorageAdapter", () => {
  runStorageAdapterTests(async () => {
    const adapter = await PostgresStorageAdapter.open({ url, schema: freshSchema() })
    return { adapter, teardown: () => adapter.close() }
  }, "PostgreSQL")

  runStorageAdapterTests(async () => {
    const adapter = await PostgresStorageAdapter.open({ url, schema: freshSchema() })
    return { adapter: new ClosableStorage(adapter), teardown: () => adapter.close() }
  }, "ClosableStorage over PostgreSQL")

  it("keeps what was saved across a reopen, and lists the documents with content only", async () => {
    const schema = freshSchema()
    const a = await PostgresStorageAdapter.open({ url, schema })
    await a.save(["docA", "incremental", "h1"], new Uint8Array([1, 2]))
    await a.save(["docA", "snapshot", "h2"], new Uint8Array([3]))
    await a.save(["docB", "sync-state", "peer"], new Uint8Array([4]))
    await a.close()
    const b = await PostgresStorageAdapter.open({ url, schema })
    try {
      expect(await b.load(["docA", "incremental", "h1"])).toEqual(new Uint8Array([1, 2]))
      expect(await b.documentIds()).toEqual(["docA"])
      // a key prefix is matched element by element, never as a string prefix
      await b.save(["docAB", "snapshot", "x"], new Uint8Array([5]))
      expect((await b.loadRange(["docA"])).map(c => c.key)).toEqual([
        ["docA", "incremental", "h1"],
        ["docA", "snapshot", "h2"],
      ])
      expect(await b.loadRange([])).toHaveLength(4)
    } finally {
      await b.close()
    }
  })

  it("applies each migration once, records it, even when several processes start at once", async () => {
    const schema = freshSchema()
    const adapters = await Promise.all([1, 2, 3].map(() => PostgresStorageAdapter.open({ url, schema })))
    try {
      const { rows } = await adapters[0]!.pool.query<{ version: number }>(`SELECT version FROM "${schema}".migrations ORDER BY version`)
      expect(rows.map(r => r.version)).toEqual(MIGRATIONS.map(m => m.version))
    } finally {
      await Promise.all(adapters.map(a => a.close()))
    }
  })

  it("refuses a database whose schema is newer than this code, and changes nothing", async () => {
    const schema = freshSchema()
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await migrate(client, schema)
      await client.query(`INSERT INTO "${schema}".migrations (version, description) VALUES (999, 'from the future')`)
      await expectFedhubError(PostgresStorageAdapter.open({ url, schema }), "CONFIG_INVALID")
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".migrations`)
      expect(rows[0].n).toBe(MIGRATIONS.length + 1)
    } finally {
      await client.end()
    }
  })

  it("refuses storage that another node owns, and a schema name that is not a plain identifier", async () => {
    const schema = freshSchema()
    const mine = await PostgresStorageAdapter.open({ url, schema, owner: "fh1alice" })
    await mine.close()
    await expectFedhubError(PostgresStorageAdapter.open({ url, schema, owner: "fh1mallory" }), "CONFIG_INVALID")
    const again = await PostgresStorageAdapter.open({ url, schema, owner: "fh1alice" })
    await again.close()
    await expectFedhubError(PostgresStorageAdapter.open({ url, schema: 'x"; DROP TABLE chunks; --' }), "CONFIG_INVALID")
  })

  it("fails with a typed error when the server cannot be reached", async () => {
    await expectFedhubError(PostgresStorageAdapter.open({ url: `postgresql://postgres@/nope?host=${encodeURIComponent(server.socketDir)}` }), "CONFIG_INVALID")
  })
})
