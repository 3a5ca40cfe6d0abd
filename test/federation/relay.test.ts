/**
 * A relay carries documents between hubs that cannot reach each other, and serves
 * each side only what the document's policy admits.
 */
import "@automerge/automerge-repo"
import { rm } from "node:fs/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { AutomergeUrl, DocHandle } from "@automerge/automerge-repo"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, startTestHub, waitForDoc } from "../helpers/hubs.ts"

type Doc = Record<string, unknown>

/**
 * Resolves once hub `h` holds the document (A announces it to R as soon as it is made);
 * read from its Repo, since a relay's own API does not show documents it may not read.
 */
async function reaches(h: RunningHub, url: string): Promise<void> {
  const handle = await h.hub.repo.find<Doc>(url as AutomergeUrl, { signal: AbortSignal.timeout(10_000) })
  await waitForDoc(handle, d => Object.keys(d).length > 0)
}

describe("A — R — B through a relay", () => {
  let a: RunningHub, r: RunningHub, b: RunningHub
  beforeAll(async () => {
    r = await startTestHub({ flags: { type: "relay" } })
    a = await startTestHub()
    b = await startTestHub()
    await linkReaches(a.hub.dial(r.url, r.hub.nodeId), "established")
    await linkReaches(b.hub.dial(r.url, r.hub.nodeId), "established")
  })
  afterAll(async () => {
    for (const h of [a, b, r]) {
      await h.stop()
      await rm(h.paths.home, { recursive: true, force: true })
    }
  })

  it("has no direct link between A and B, and R describes itself as a relay", () => {
    expect(a.hub.links().map(l => l.remoteNodeId)).toEqual([r.hub.nodeId])
    expect(b.hub.links().map(l => l.remoteNodeId)).toEqual([r.hub.nodeId])
    expect(r.hub.descriptor().payload.type).toBe("relay")
    expect(r.hub.descriptor().payload.services.capabilities).toContain("relay")
  })

  it("learns the verified descriptor of the hub it dialed, without running discovery", async () => {
    const deadline = Date.now() + 10_000
    while (!a.hub.federation.ownDirectory().nodes.some(n => n.nodeId === r.hub.nodeId) && Date.now() < deadline)
      await new Promise(resolve => a.hub.federation.directory.once("change", resolve))
    const entry = a.hub.federation.ownDirectory().nodes.find(n => n.nodeId === r.hub.nodeId)
    expect(entry?.descriptor.payload.type).toBe("relay")
    expect(a.hub.federation.registry.get(r.hub.nodeId)?.name).toBe(r.hub.config.name)
  })

  it("converges A and B through R, both ways", async () => {
    const made = await a.hub.docs.create({ title: "from a" }, { writers: [b.hub.nodeId], relays: [r.hub.nodeId] })
    await reaches(r, made.url)
    const onB = (await b.hub.docs.find(made.url)) as DocHandle<Doc>
    await waitForDoc(onB, d => String(d.title) === "from a")
    await b.hub.docs.put(made.url, "reply", "from b")
    const onA = (await a.hub.docs.find(made.url)) as DocHandle<Doc>
    await waitForDoc(onA, d => String(d.reply) === "from b")
    await waitForDoc(onB, d => String(d.reply) === "from b")
    // both ends hold the same document: the same heads, the same content
    expect(onA.heads()).toEqual(onB.heads())
    expect(JSON.parse(JSON.stringify(onA.doc()))).toEqual({ title: "from a", reply: "from b" })
    expect(JSON.parse(JSON.stringify(onB.doc()))).toEqual({ title: "from a", reply: "from b" })
  })

  it("relays a document whose policy makes B a reader and R a relay", async () => {
    const made = await a.hub.docs.create({ secret: "for b" }, { readers: [b.hub.nodeId], relays: [r.hub.nodeId] })
    await reaches(r, made.url)
    const onB = (await b.hub.docs.find(made.url)) as DocHandle<Doc>
    await waitForDoc(onB, d => String(d.secret) === "for b")
    expect(JSON.parse(JSON.stringify(onB.doc()))).toEqual({ secret: "for b" })
    // the policy travelled with it: b and r know who may read and relay it, signed by a
    for (const h of [r, b]) expect(h.hub.policies.effective(made.documentId)).toMatchObject({ owner: a.hub.nodeId, readers: [b.hub.nodeId], relays: [r.hub.nodeId] })
    // b reached it through r only: it has no link of its own to a
    expect(b.hub.links().map(l => l.remoteNodeId)).toEqual([r.hub.nodeId])
    // r holds and forwards it, but its own API does not show it
    await expect(r.hub.docs.show(made.url)).rejects.toMatchObject({ code: "NOT_A_READER" })
  })

  it("does not serve B a document whose policy admits only A and R", async () => {
    const made = await a.hub.docs.create({ secret: "not for b" }, { readers: [r.hub.nodeId] })
    const onR = (await r.hub.docs.find(made.url)) as DocHandle<Doc>
    await waitForDoc(onR, d => String(d.secret) === "not for b")
    await expect(b.hub.docs.find(made.url)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
  })

  it("never gives R a document whose policy leaves R out", async () => {
    const made = await a.hub.docs.create({ secret: "a and b only" }, { readers: [b.hub.nodeId] })
    await expect(r.hub.docs.find(made.url)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    await expect(b.hub.docs.find(made.url)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
  })
})
