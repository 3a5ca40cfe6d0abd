/**
 * The registry shared by the processes of one identity on PostgreSQL, part by part: each
 * "process" here is its own pool, bus and Registry on one database (the processes test is
 * cluster-registry-processes.test.ts).
 */
import { EventEmitter } from "node:events"
import { access, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { Identity, type NodeId } from "../../src/identity/index.ts"
import { Registry, type RegistryOptions, type RemoteChange } from "../../src/federation/registry.ts"
import { PostgresRegistryStore } from "../../src/federation/PostgresRegistryStore.ts"
import { ClusterBus } from "../../src/replication/storage/ClusterBus.ts"
import { PostgresStorageAdapter } from "../../src/replication/storage/index.ts"
import { nextSharedSequence, readMeta } from "../../src/replication/storage/sharedMeta.ts"
import { nextEvent } from "../helpers/hubs.ts"
import { postgresForFile } from "../helpers/postgres.ts"

const { createDatabase, closeLater } = postgresForFile()

interface Proc {
  adapter: PostgresStorageAdapter
  store: PostgresRegistryStore
  registry: Registry
  /** Emits "remote" with the RemoteChange[] another process's write brought. */
  events: EventEmitter
  corrupt: string[]
}

/** A "process" on the database: its pool, its bus (`deaf`: it never hears the others), its registry. */
async function processOn(url: string, opts: { deaf?: boolean; registry?: RegistryOptions; legacyFile?: string } = {}): Promise<Proc> {
  const adapter = await PostgresStorageAdapter.open({ url })
  const bus = await ClusterBus.open({ url, schema: adapter.schema })
  // a deaf process still announces its writes, and never hears another's
  const heard = opts.deaf ? ({ origin: bus.origin, channel: bus.channel, on: () => {} } as unknown as ClusterBus) : bus
  const events = new EventEmitter()
  const corrupt: string[] = []
  const store = new PostgresRegistryStore(adapter.pool, adapter.schema, heard, { onCorrupt: id => corrupt.push(id), legacyFile: opts.legacyFile })
  const registry = await Registry.open("/nonexistent/registry.json", { ...opts.registry, store, onRemote: c => events.emit("remote", c) })
  closeLater(async () => {
    await registry.close()
    await bus.close()
    await adapter.close()
  })
  return { adapter, store, registry, events, corrupt }
}

const newId = () => Identity.generate().nodeId as NodeId

describe("the registry shared through PostgreSQL", () => {
  it("a block written by one process is taken in by the other at once, and an unblock too", async () => {
    const url = await createDatabase("reg_block")
    const one = await processOn(url)
    const two = await processOn(url)
    const x = newId()
    const seen = nextEvent<[RemoteChange[]]>(two.events, "remote")
    one.registry.upsert(x, { blocked: true, url: "https://x.example" })
    await one.registry.save()
    const [changes] = await seen
    expect(changes.map(c => [c.nodeId, c.before?.blocked, c.after?.blocked])).toEqual([[x, undefined, true]])
    expect(two.registry.get(x)?.blocked).toBe(true)
    expect(two.registry.blocked().has(x)).toBe(true)
    const lifted = nextEvent<[RemoteChange[]]>(one.events, "remote")
    two.registry.upsert(x, { blocked: false })
    await two.registry.save()
    expect((await lifted)[0][0]?.after?.blocked).toBe(false)
    expect(one.registry.get(x)?.blocked).toBe(false)
  })

  it("a process that did not hear of a decision does not undo it with its own write, and learns it from that write", async () => {
    const url = await createDatabase("reg_stale")
    const one = await processOn(url)
    const deaf = await processOn(url, { deaf: true })
    const x = newId()
    deaf.registry.upsert(x, { name: "old" })
    await deaf.registry.save()
    one.registry.upsert(x, { blocked: true, adminLevel: "partner" })
    await one.registry.save()
    // the deaf process still holds x unblocked, and writes it again with a new name
    expect(deaf.registry.get(x)?.blocked).toBeUndefined()
    deaf.registry.upsert(x, { name: "new" })
    await deaf.registry.save()
    expect(deaf.registry.get(x)).toMatchObject({ blocked: true, adminLevel: "partner", name: "new" })
    const fresh = await processOn(url, { deaf: true })
    expect(fresh.registry.get(x)).toMatchObject({ blocked: true, adminLevel: "partner", name: "new" })
  })

  it("merges observations two processes write at the same time (union of periods, latest lastSeen)", async () => {
    const url = await createDatabase("reg_obs")
    const one = await processOn(url, { deaf: true })
    const two = await processOn(url, { deaf: true })
    const x = newId()
    for (let round = 0; round < 10; round++) {
      one.registry.upsert(x, { observed: { up: [[100 + round * 2, 100 + round * 2]], down: [] } }, 10_000 + round)
      two.registry.upsert(x, { observed: { up: [[101 + round * 2, 101 + round * 2]], down: [[500 + round, 500 + round]] } }, 20_000 + round)
      await Promise.all([one.registry.save(), two.registry.save()])
    }
    const fresh = await processOn(url, { deaf: true })
    const got = fresh.registry.get(x)!
    // every period either observed, none lost to the other's write
    expect(got.observed).toEqual({ up: [[100, 119]], down: [[500, 509]] })
    expect(got.lastSeen).toBe(20_009)
  })

  it("evicts consistently: a node one process evicts leaves the others, one another process touched meanwhile stays", async () => {
    const url = await createDatabase("reg_evict")
    const listening = await processOn(url, { registry: { maxUntouchedPeers: 100 } })
    const evicter = await processOn(url, { deaf: true, registry: { maxUntouchedPeers: 2 } })
    const [n1, n2, n3, n4] = [newId(), newId(), newId(), newId()]
    const arrived = nextEvent(listening.events, "remote") // subscribed before the write it announces
    evicter.registry.upsert(n1, {}, 1_000)
    evicter.registry.upsert(n2, {}, 2_000)
    await evicter.registry.save()
    await arrived
    expect(listening.registry.get(n2)).toBeDefined()
    // the other process blocks n1; the evicter does not hear of it and evicts n1 as the oldest untouched node
    listening.registry.upsert(n1, { blocked: true }, 1_000)
    await listening.registry.save()
    evicter.registry.upsert(n3, {}, 3_000)
    expect(evicter.registry.get(n1)).toBeUndefined()
    await evicter.registry.save()
    // the database kept it (touched), and the evicter took it back from its own write
    expect(evicter.registry.get(n1)?.blocked).toBe(true)
    // n2 is evicted next: gone from the database and from the listening process
    const gone = new Promise<void>(resolve => listening.events.on("remote", (c: RemoteChange[]) => c.some(x => x.nodeId === n2 && !x.after) && resolve()))
    evicter.registry.upsert(n4, {}, 4_000)
    await evicter.registry.save()
    await gone
    expect(listening.registry.get(n2)).toBeUndefined()
    expect(listening.registry.get(n1)?.blocked).toBe(true)
    const fresh = await processOn(url, { deaf: true, registry: { maxUntouchedPeers: 100 } })
    expect(fresh.registry.list().map(n => n.nodeId).sort()).toEqual([n1, n3, n4].sort())
  })

  it("skips a corrupt row (not JSON, not a registry node, under another id) and reports it, loading the rest", async () => {
    const url = await createDatabase("reg_corrupt")
    const one = await processOn(url)
    const good = newId()
    one.registry.upsert(good, { name: "fine" })
    await one.registry.save()
    const [bad1, bad2, bad3] = [newId(), newId(), newId()]
    const raw = new pg.Client({ connectionString: url })
    await raw.connect()
    closeLater(() => raw.end())
    const row = (id: string, text: string) => raw.query(`INSERT INTO fedhub.registry (node_id, touched, row) VALUES ($1, false, $2)`, [id, text])
    await row(bad1, "{not json")
    await row(bad2, JSON.stringify({ nodeId: bad2, discoveredBy: "everywhere", firstSeen: -1, lastSeen: 0, observed: {} }))
    await row(bad3, JSON.stringify({ nodeId: good, discoveredBy: [], firstSeen: 0, lastSeen: 0, observed: { up: [], down: [] } }))
    const two = await processOn(url)
    expect(two.corrupt.sort()).toEqual([bad1, bad2, bad3].sort())
    expect(two.registry.list().map(n => n.nodeId)).toEqual([good])
    expect(two.registry.get(good)?.name).toBe("fine")
    // a notification naming a corrupt row neither crashes the listener nor reads as a removal
    const seen = nextEvent<[RemoteChange[]]>(two.events, "remote")
    await raw.query("SELECT pg_notify('fedhub:fedhub', $1)", [JSON.stringify({ o: "x", k: "registry", ids: [bad1, good] })])
    expect((await seen)[0].map(c => c.nodeId)).toEqual([good])
    // and a later write over the corrupt row replaces it
    two.registry.upsert(bad1 as NodeId, { name: "repaired" })
    await two.registry.save()
    expect((await processOn(url, { deaf: true })).registry.get(bad1)?.name).toBe("repaired")
  })

  it("settles one directory for processes starting together, and hands out increasing descriptor sequences", async () => {
    const url = await createDatabase("reg_dir")
    const procs = await Promise.all([processOn(url, { deaf: true }), processOn(url, { deaf: true }), processOn(url, { deaf: true })])
    let made = 0
    const urls = await Promise.all(procs.map((p, i) => p.registry.settleDirectory(async current => current ?? `automerge:made-by-${i}-${++made}`)))
    expect(made).toBe(1)
    expect(new Set(urls).size).toBe(1)
    expect(procs.map(p => p.registry.directoryUrl)).toEqual(urls)
    // many processes asking at once with one clock reading: all different, all above it
    const now = Date.now()
    const seqs = await Promise.all(Array.from({ length: 30 }, (_, i) => nextSharedSequence(procs[i % 3]!.adapter.pool, "fedhub", now)))
    expect(new Set(seqs).size).toBe(30)
    expect(Math.min(...seqs)).toBe(now)
    // a clock that stepped back still gets one above every sequence handed out
    expect(await nextSharedSequence(procs[0]!.adapter.pool, "fedhub", now - 60_000)).toBe(Math.max(...seqs) + 1)
  })

  it("imports a home's registry.json once: its decisions merge in without clearing another process's, its directory is recorded, the file is set aside", async () => {
    const url = await createDatabase("reg_import")
    const running = await processOn(url)
    const [x, y, bad] = [newId(), newId(), newId()]
    running.registry.upsert(y, { blocked: true })
    await running.registry.save()
    const home = await mkdtemp(join(tmpdir(), "fedhub-reg-import-"))
    closeLater(() => rm(home, { recursive: true, force: true }))
    const file = join(home, "registry.json")
    const seen = { up: [[5, 5]], down: [] }
    await writeFile(
      file,
      JSON.stringify({
        version: 1,
        directoryUrl: "automerge:legacy",
        nodes: [
          { nodeId: x, blocked: true, adminLevel: "trusted", discoveredBy: [], firstSeen: 1, lastSeen: 2, observed: seen },
          { nodeId: y, name: "from the file", discoveredBy: [], firstSeen: 1, lastSeen: 2, observed: seen },
          { nodeId: bad, name: 5, discoveredBy: [], firstSeen: 1, lastSeen: 2, observed: seen },
        ],
      }),
    )
    const heard = nextEvent<[RemoteChange[]]>(running.events, "remote")
    const upgraded = await processOn(url, { legacyFile: file })
    expect(upgraded.registry.get(x)).toMatchObject({ blocked: true, adminLevel: "trusted", observed: { up: [[5, 5]], down: [] } })
    // the file does not say y is unblocked: the block made through the database stays
    expect(upgraded.registry.get(y)).toMatchObject({ blocked: true, name: "from the file" })
    expect(upgraded.registry.get(bad)).toBeUndefined()
    expect(upgraded.corrupt).toEqual([bad])
    expect(upgraded.registry.directoryUrl).toBe("automerge:legacy")
    expect(await readMeta(upgraded.adapter.pool, "fedhub", "directory")).toBe("automerge:legacy")
    await expect(access(file)).rejects.toThrow()
    await access(`${file}.imported`)
    // the running process took the imported nodes in
    expect((await heard)[0].map(c => c.nodeId).sort()).toEqual([x, y].sort())
    expect(running.registry.get(x)?.blocked).toBe(true)
  })
})
