/** The on-disk policy store: kept across a reopen, and tells when an effective policy changes. */
import { join } from "node:path"
import { rm } from "node:fs/promises"
import { afterEach, describe, expect, it } from "vitest"
import { Identity } from "../../src/identity/index.ts"
import { genesisPolicy, newDocumentId, nextPolicy } from "../../src/replication/access/policy.ts"
import { PolicyStore } from "../../src/replication/PolicyStore.ts"
import { tempDir } from "../helpers/hubs.ts"

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(d => rm(d, { recursive: true, force: true })))
})

describe("PolicyStore", () => {
  it("keeps records across a reopen and emits `changed` for the first narrowing after it", async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const owner = Identity.generate()
    const reader = Identity.generate().nodeId
    const { documentId, nonce } = newDocumentId(owner.nodeId)
    const first = await PolicyStore.open(join(dir, "policies.json"))
    await first.add(documentId, [genesisPolicy(owner, documentId, { nonce, readers: [reader] })])

    const again = await PolicyStore.open(join(dir, "policies.json"))
    expect(again.effective(documentId)?.readers).toEqual([reader])
    const seen: [string[] | undefined, string[] | undefined][] = []
    again.events.on("changed", (_id, before, after) => seen.push([before?.readers, after?.readers]))
    const narrowed = nextPolicy(owner, again.state(documentId)!, { remove: { readers: [reader] } })
    // a fresh store, its state not evaluated before this add: the change is still seen
    const third = await PolicyStore.open(join(dir, "policies.json"))
    third.events.on("changed", (_id, before, after) => seen.push([before?.readers, after?.readers]))
    await third.add(documentId, [narrowed])
    expect(seen).toEqual([[[reader], []]])
    // adding what it already holds changes nothing and says nothing
    await third.add(documentId, [narrowed])
    expect(seen).toHaveLength(1)
  })

  it("keeps well-formed records only: garbage leaves the document without a policy", async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const store = await PolicyStore.open(join(dir, "policies.json"))
    const owner = Identity.generate()
    const { documentId } = newDocumentId(owner.nodeId)
    const state = await store.add(documentId, [null, 42, "x", { payload: 1 }])
    expect(store.records(documentId)).toEqual([])
    expect(state.effective).toBeUndefined()
  })
})
