/** PolicyStore's record log: one line per record, a torn tail ignored, the old whole-file format moved in. */
import { join } from "node:path"
import { appendFile, readFile, rm, stat, writeFile } from "node:fs/promises"
import { afterEach, describe, expect, it } from "vitest"
import { Identity } from "../../src/identity/index.ts"
import { genesisPolicy, newDocumentId } from "../../src/replication/access/policy.ts"
import { PolicyStore, policyLogPath } from "../../src/replication/PolicyStore.ts"
import { JsonlFileLog } from "../../src/replication/recordLog.ts"
import { tempDir } from "../helpers/hubs.ts"

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(d => rm(d, { recursive: true, force: true })))
})

const owner = Identity.generate()
const genesis = (readers: string[] = []) => {
  const { documentId, nonce } = newDocumentId(owner.nodeId)
  return { documentId, record: genesisPolicy(owner, documentId, { nonce, readers: readers as never }) }
}

const home = async () => {
  const dir = await tempDir()
  dirs.push(dir)
  return join(dir, "policies.json")
}

describe("PolicyStore log", () => {
  it("appends one line per record instead of rewriting what it holds", async () => {
    const path = await home()
    const store = await PolicyStore.open(path)
    const a = genesis()
    await store.add(a.documentId, [a.record])
    const size = (await stat(policyLogPath(path))).size
    const b = genesis()
    await store.add(b.documentId, [b.record])
    const lines = (await readFile(policyLogPath(path), "utf8")).trim().split("\n")
    expect(lines).toHaveLength(2)
    // the first line is untouched: the second record was appended after it
    expect((await readFile(policyLogPath(path), "utf8")).slice(0, size)).toBe(lines[0] + "\n")
  })

  it("ignores a torn last line after a crash, keeps every acknowledged record, and appends on a clean line", async () => {
    const path = await home()
    const store = await PolicyStore.open(path)
    const a = genesis()
    await store.add(a.documentId, [a.record])
    const b = genesis()
    // a crash in the middle of writing b's line: half of it reached the disk
    const line = JSON.stringify({ d: b.documentId, r: b.record })
    await appendFile(policyLogPath(path), line.slice(0, line.length >> 1))

    const reopened = await PolicyStore.open(path)
    expect(reopened.has(a.documentId)).toBe(true)
    expect(reopened.has(b.documentId)).toBe(false)
    expect(await readFile(policyLogPath(path), "utf8")).toBe(JSON.stringify({ d: a.documentId, r: a.record }) + "\n")
    await reopened.add(b.documentId, [b.record])
    const again = await PolicyStore.open(path)
    expect(again.effective(a.documentId)?.owner).toBe(owner.nodeId)
    expect(again.effective(b.documentId)?.owner).toBe(owner.nodeId)
  })

  it("moves a policies.json of the whole-file format into the log once", async () => {
    const path = await home()
    const a = genesis(["public"])
    await writeFile(path, JSON.stringify({ version: 1, documents: { [a.documentId]: [a.record] } }))
    const store = await PolicyStore.open(path)
    expect(store.effective(a.documentId)?.readers).toEqual(["public"])
    await expect(stat(path)).rejects.toThrow()
    const again = await PolicyStore.open(path)
    expect(again.records(a.documentId)).toHaveLength(1)
  })

  it("writes concurrent adds in one group and loses none of them", async () => {
    const path = await home()
    const store = await PolicyStore.open(path)
    const docs = Array.from({ length: 50 }, () => genesis())
    await Promise.all(docs.map(d => store.add(d.documentId, [d.record])))
    const log = new JsonlFileLog(policyLogPath(path))
    expect(await log.load()).toHaveLength(50)
    const again = await PolicyStore.open(path)
    expect(docs.filter(d => !again.has(d.documentId))).toEqual([])
  })

  it("never leaves an append unwritten when it arrives just as the previous write finishes", async () => {
    const path = await home()
    const log = new JsonlFileLog(policyLogPath(path))
    // each append follows the previous one's acknowledgement at once (the turn its write ended)
    for (let i = 0; i < 20; i++) await log.append([{ i }])
    await Promise.all([log.append([{ i: 20 }]), log.append([{ i: 21 }])])
    expect(await new JsonlFileLog(policyLogPath(path)).load()).toEqual(Array.from({ length: 22 }, (_, i) => ({ i })))
  })

  it("refuses a record beyond the per-document cap and keeps the log as it was", async () => {
    const path = await home()
    const store = await PolicyStore.open(path)
    const a = genesis()
    const junk = Array.from({ length: 1_000 }, (_, i) => ({ ...(a.record as object), time: i }))
    await store.add(a.documentId, junk)
    const before = await readFile(policyLogPath(path), "utf8")
    await expect(store.add(a.documentId, [a.record])).rejects.toMatchObject({ code: "RATE_LIMITED" })
    expect(await readFile(policyLogPath(path), "utf8")).toBe(before)
  })
})
