/**
 * Registry limits (issue 11, items 5 and 8): untouched nodes are capped and evicted
 * least recently seen first, touched ones never; a failed write rejects and is reported.
 */
import { mkdir, readFile, rm } from "node:fs/promises"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { Identity, type NodeId } from "../../src/identity/index.ts"
import { isTouched, Registry, type RegistryNode } from "../../src/federation/registry.ts"
import { isFedhubError } from "../../src/errors.ts"
import { tempDir } from "../helpers/hubs.ts"

const freshId = (): NodeId => Identity.generate("n").nodeId

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(d => rm(d, { recursive: true, force: true })))
})
const newDir = async () => {
  const d = await tempDir("fedhub-registry-")
  dirs.push(d)
  return d
}

describe("registry cap on untouched peers", () => {
  it("keeps the 50 most recently seen of 500 fresh nodes and every touched one", async () => {
    const path = join(await newDir(), "registry.json")
    const evicted: RegistryNode[] = []
    const reg = await Registry.open(path, { maxUntouchedPeers: 50, onEvict: e => evicted.push(...e) })
    // touched nodes first, so they are the least recently seen of all
    const manual = freshId()
    const trusted = freshId()
    const partner = freshId()
    const blocked = freshId()
    reg.upsert(manual, { manual: true }, 1)
    reg.upsert(trusted, { adminLevel: "trusted" }, 2)
    reg.upsert(partner, { adminLevel: "partner" }, 3)
    reg.upsert(blocked, { blocked: true }, 4)
    const fresh = Array.from({ length: 500 }, freshId)
    fresh.forEach((id, i) => reg.upsert(id, { discoveredBy: ["peer_exchange"] }, 100 + i))

    const untouched = reg.list().filter(n => !isTouched(n))
    expect(untouched).toHaveLength(50)
    expect(new Set(untouched.map(n => n.nodeId))).toEqual(new Set(fresh.slice(-50)))
    for (const id of [manual, trusted, partner, blocked]) expect(reg.get(id)).toBeDefined()
    expect(evicted).toHaveLength(450)
    expect(new Set(evicted.map(n => n.nodeId))).toEqual(new Set(fresh.slice(0, 450)))
    expect(reg.evictedCount).toBe(450)

    // what is written is what is kept
    await reg.save()
    const file = JSON.parse(await readFile(path, "utf8")) as { nodes: RegistryNode[] }
    expect(file.nodes).toHaveLength(54)
  })

  it("a node seen again moves to the back of the eviction order", async () => {
    const reg = await Registry.open(join(await newDir(), "registry.json"), { maxUntouchedPeers: 3 })
    const [a, b, c, d] = [freshId(), freshId(), freshId(), freshId()]
    reg.upsert(a, {}, 1)
    reg.upsert(b, {}, 2)
    reg.upsert(c, {}, 3)
    reg.upsert(a, {}, 4) // a reconnects
    reg.upsert(d, {}, 5)
    expect(reg.get(b)).toBeUndefined()
    expect(reg.list().map(n => n.nodeId).sort()).toEqual([a, c, d].sort())
  })

  it("a node whose trust or block was lifted is untouched again and may be evicted", async () => {
    const reg = await Registry.open(join(await newDir(), "registry.json"), { maxUntouchedPeers: 1 })
    const [a, b] = [freshId(), freshId()]
    reg.upsert(a, { adminLevel: "trusted" }, 1)
    reg.upsert(a, { adminLevel: undefined }, 2)
    expect(isTouched(reg.get(a)!)).toBe(false)
    reg.upsert(b, {}, 3)
    expect(reg.get(a)).toBeUndefined()
    expect(reg.get(b)).toBeDefined()
  })

  it("does not evict pinned nodes (live links) and evicts the next oldest instead", async () => {
    const [a, b, c] = [freshId(), freshId(), freshId()]
    const reg = await Registry.open(join(await newDir(), "registry.json"), { maxUntouchedPeers: 2, isPinned: n => n.nodeId === a })
    reg.upsert(a, {}, 1)
    reg.upsert(b, {}, 2)
    reg.upsert(c, {}, 3)
    expect(reg.get(a)).toBeDefined()
    expect(reg.get(b)).toBeUndefined()
    expect(reg.get(c)).toBeDefined()
  })

  it("trims a file written under a higher cap when asked, and refuses a bad cap", async () => {
    const path = join(await newDir(), "registry.json")
    const big = await Registry.open(path, { maxUntouchedPeers: 100 })
    for (let i = 0; i < 20; i++) big.upsert(freshId(), {}, i)
    await big.save()
    const small = await Registry.open(path, { maxUntouchedPeers: 5 })
    expect(small.list()).toHaveLength(20)
    expect(small.evictUntouched()).toHaveLength(15)
    expect(small.dirty).toBe(true)
    await expect(Registry.open(path, { maxUntouchedPeers: -1 })).rejects.toMatchObject({ code: "CONFIG_INVALID" })
  })
})

describe("registry writes report their failures", () => {
  it("upsert and remove do no I/O; save writes and clears dirty", async () => {
    const path = join(await newDir(), "registry.json")
    const reg = await Registry.open(path)
    const id = freshId()
    reg.upsert(id, { name: "n" })
    expect(reg.dirty).toBe(true)
    await expect(readFile(path)).rejects.toMatchObject({ code: "ENOENT" })
    await reg.save()
    expect(reg.dirty).toBe(false)
    expect(reg.remove(id)).toBe(true)
    expect(reg.dirty).toBe(true)
    await reg.save()
    expect((await Registry.open(path)).get(id)).toBeUndefined()
  })

  it("a registry in a directory that does not exist: save rejects, onError is told, the change stays dirty", async () => {
    const path = join(await newDir(), "missing", "registry.json")
    const reported: Error[] = []
    const reg = await Registry.open(path, { onError: e => reported.push(e) })
    reg.upsert(freshId())
    const err = await reg.save().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isFedhubError(err, "INTERNAL")).toBe(true)
    expect((err as Error).message).toContain(path)
    expect(reported).toEqual([err])
    expect(reg.lastSaveError).toBe(err)
    expect(reg.dirty).toBe(true)
    // the next explicit save writes again (and succeeds once the directory exists)
    await mkdir(join(path, ".."))
    await reg.save()
    expect(reg.dirty).toBe(false)
    expect(reg.lastSaveError).toBeUndefined()
  })

  it("a directory in place of the temporary file: a save nobody awaits is still reported, never an unhandled rejection", async () => {
    const path = join(await newDir(), "registry.json")
    await mkdir(`${path}.${process.pid}.tmp`)
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => unhandled.push(e)
    process.on("unhandledRejection", onUnhandled)
    try {
      const reported = new Promise<Error>(resolve => {
        void Registry.open(path, { onError: resolve }).then(reg => {
          reg.upsert(freshId())
          void reg.save() // as a caller that does not await would
        })
      })
      const err = await reported
      expect(isFedhubError(err, "INTERNAL")).toBe(true)
      expect(err.message).toMatch(/EISDIR|directory/i)
      // let the rejection of the voided promise reach the unhandled-rejection check
      await new Promise(resolve => setImmediate(resolve))
      expect(unhandled).toEqual([])
    } finally {
      process.off("unhandledRejection", onUnhandled)
    }
  })
})
