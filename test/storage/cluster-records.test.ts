/** What the processes of one identity share through PostgreSQL, part by part: record logs, the bus, process slots. */
import { join } from "node:path"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { Identity } from "../../src/identity/index.ts"
import { genesisPolicy, newDocumentId, nextPolicy } from "../../src/replication/access/policy.ts"
import { PolicyStore } from "../../src/replication/PolicyStore.ts"
import { ClusterBus } from "../../src/replication/storage/ClusterBus.ts"
import { PostgresRecordLog } from "../../src/replication/storage/PostgresRecordLog.ts"
import { PostgresStorageAdapter } from "../../src/replication/storage/index.ts"
import { nextEvent } from "../helpers/hubs.ts"
import { postgresForFile } from "../helpers/postgres.ts"

const { createDatabase, closeLater } = postgresForFile()

/** A "process": its own pool and bus on the database, and a policy store on the shared log. */
async function processOn(url: string) {
  const adapter = await PostgresStorageAdapter.open({ url })
  const bus = await ClusterBus.open({ url, schema: adapter.schema })
  const policies = await PolicyStore.open(join("/nonexistent", "policies.json"), { log: new PostgresRecordLog(adapter.pool, adapter.schema, "policies", bus) })
  closeLater(async () => {
    await policies.close()
    await bus.close()
    await adapter.close()
  })
  return { adapter, bus, policies }
}

describe("records shared by the processes of one identity", () => {
  it("a policy record added by one process is known to the other at once, and `changed` is told there", async () => {
    const url = await createDatabase("records")
    const one = await processOn(url)
    const two = await processOn(url)
    const owner = Identity.generate()
    const reader = Identity.generate().nodeId
    const { documentId, nonce } = newDocumentId(owner.nodeId)
    const seen = nextEvent<[string, unknown, { readers: string[] } | undefined]>(two.policies.events, "changed")
    await one.policies.add(documentId, [genesisPolicy(owner, documentId, { nonce, readers: [reader] })])
    const [id, , after] = await seen
    expect(id).toBe(documentId)
    expect(after?.readers).toEqual([reader])
    // a narrowing the other way
    const narrowed = nextEvent<[string, unknown, { readers: string[] } | undefined]>(one.policies.events, "changed")
    await two.policies.add(documentId, [nextPolicy(owner, two.policies.state(documentId)!, { remove: { readers: [reader] } })])
    expect((await narrowed)[2]?.readers).toEqual([])
    // a process started later reads both from the database
    const three = await processOn(url)
    expect(three.policies.records(documentId)).toHaveLength(2)
    expect(three.policies.effective(documentId)?.readers).toEqual([])
  })

  it("ignores notifications that are not ours or make no sense, and keeps delivering", async () => {
    const url = await createDatabase("hostile")
    const one = await processOn(url)
    const two = await processOn(url)
    const raw = new pg.Client({ connectionString: url })
    await raw.connect()
    closeLater(() => raw.end())
    for (const payload of ["not json", "{}", '{"o":"x","k":"chunk","key":[1,2]}', '{"o":"x","k":"log","log":"policies","from":"a","to":[]}', '{"o":"x","k":"log","log":"policies","from":1,"to":1e9}'])
      await raw.query("SELECT pg_notify($1, $2)", [two.bus.channel, payload])
    const owner = Identity.generate()
    const { documentId, nonce } = newDocumentId(owner.nodeId)
    const seen = nextEvent<[string]>(two.policies.events, "changed")
    await one.policies.add(documentId, [genesisPolicy(owner, documentId, { nonce })])
    expect((await seen)[0]).toBe(documentId)
    expect(two.policies.has(documentId)).toBe(true)
  })

  it("gives each live process its own slot, and a dead process's slot to the next one", async () => {
    const url = await createDatabase("slots")
    const schema = "fedhub"
    await (await PostgresStorageAdapter.open({ url })).close()
    const a = await ClusterBus.open({ url, schema })
    const b = await ClusterBus.open({ url, schema })
    expect([a.slot, b.slot]).toEqual([0, 1])
    await a.close()
    const c = await ClusterBus.open({ url, schema })
    expect(c.slot).toBe(0)
    await b.close()
    await c.close()
  })
})
