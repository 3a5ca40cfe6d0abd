/** Our one storage adapter (nodefs behind a close switch) passes automerge-repo's suite, and stays shut once closed. */
import "@automerge/automerge-repo"
import { rm } from "node:fs/promises"
import { describe, expect, it } from "vitest"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { runStorageAdapterTests } from "@automerge/automerge-repo/helpers/tests/storage-adapter-tests.js"
import { ClosableStorage } from "../../src/replication/ClosableStorage.ts"
import { tempDir } from "../helpers/hubs.ts"

describe("ClosableStorage", () => {
  runStorageAdapterTests(async () => {
    const dir = await tempDir("fedhub-storage-")
    return { adapter: new ClosableStorage(new NodeFSStorageAdapter(dir)), teardown: () => rm(dir, { recursive: true, force: true }) }
  }, "ClosableStorage over nodefs")

  it("writes nothing after close, and still reads", async () => {
    const dir = await tempDir("fedhub-storage-")
    try {
      const storage = new ClosableStorage(new NodeFSStorageAdapter(dir))
      await storage.save(["a", "1"], new Uint8Array([1]))
      storage.close()
      await storage.save(["a", "2"], new Uint8Array([2]))
      await storage.remove(["a", "1"])
      expect(storage.dropped).toBe(2)
      expect(await storage.load(["a", "1"])).toEqual(new Uint8Array([1]))
      expect(await storage.load(["a", "2"])).toBeUndefined()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
