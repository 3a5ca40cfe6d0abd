/**
 * Hubs replicate documents; hubs that were cut apart and edited on both sides
 * converge with every edit kept and the concurrent same-field edit listed.
 */
import "@automerge/automerge-repo"
import { afterEach, describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, startHubs, startTestHub, waitForDoc } from "../helpers/hubs.ts"
import { rm } from "node:fs/promises"

const str = (v: unknown) => (v === undefined ? undefined : String(v))

describe("replication between hubs", () => {
  let cleanup: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c()
    cleanup = []
  })

  it("a hub started with --peer replicates documents both ways", async () => {
    const a = await startTestHub()
    const b = await startTestHub({ flags: { peers: [a.url] } })
    cleanup.push(async () => {
      for (const h of [b, a]) {
        await h.stop()
        await rm(h.paths.home, { recursive: true, force: true })
      }
    })
    const link = b.hub.links()[0]
    expect(link?.url).toBe(`wss://${new URL(a.url).host}/sync`) // TLS by default

    const fromA = await a.hub.docs.create({ title: "made on a" }, { writers: [b.hub.nodeId] })
    const seenOnB = await b.hub.docs.find(fromA.url)
    await waitForDoc(seenOnB, d => str(d.title) === "made on a")

    const fromB = await b.hub.docs.create({ title: "made on b" }, { readers: [a.hub.nodeId] })
    const seenOnA = await a.hub.docs.find(fromB.url)
    await waitForDoc(seenOnA, d => str(d.title) === "made on b")

    await b.hub.docs.put(fromA.url, "owner", "b")
    const onA = await a.hub.docs.find(fromA.url)
    await waitForDoc(onA, d => str(d.owner) === "b")
  })

  it("hubs edited while disconnected converge, keeping both edits and listing the conflict", async () => {
    const { hubs, stopAll } = await startHubs(2)
    cleanup.push(stopAll)
    const [a, b] = hubs as [RunningHub, RunningHub]
    let link = b.hub.dial(a.url, a.hub.nodeId)
    await linkReaches(link, "established")

    const made = await a.hub.docs.create({ title: "draft", tags: {} }, { writers: [b.hub.nodeId] })
    const onB = await b.hub.docs.find(made.url)
    await waitForDoc(onB, d => str(d.title) === "draft")

    // partition
    b.hub.hangUp(a.url)
    expect(link.state).toBe("closed")

    await a.hub.docs.put(made.url, "tags.a", "edited on a")
    await b.hub.docs.put(made.url, "tags.b", "edited on b")
    await a.hub.docs.put(made.url, "title", "title from a")
    await b.hub.docs.put(made.url, "title", "title from b")

    // heal
    link = b.hub.dial(a.url, a.hub.nodeId)
    await linkReaches(link, "established")
    const onA = await a.hub.docs.find(made.url)
    const both = (d: { tags?: unknown; title?: unknown }) => {
      const tags = d.tags as Record<string, unknown> | undefined
      return str(tags?.a) === "edited on a" && str(tags?.b) === "edited on b"
    }
    await waitForDoc(onA, both)
    await waitForDoc(onB, both)
    await waitForDoc(onA, () => JSON.stringify(onA.heads()) === JSON.stringify(onB.heads()))

    // both replicas pick the same winner, and the loser is not silently dropped
    const shownA = await a.hub.docs.show(made.url)
    const shownB = await b.hub.docs.show(made.url)
    expect(shownA.content).toEqual(shownB.content)
    for (const h of [a, b]) {
      const conflicts = await h.hub.docs.conflicts(made.url)
      expect(conflicts).toHaveLength(1)
      expect(conflicts[0]!.path).toBe("/title")
      expect(conflicts[0]!.values.map(v => v.value).sort()).toEqual(["title from a", "title from b"])
      expect(new Set(conflicts[0]!.values.map(v => v.actor)).size).toBe(2)
    }
  })
})
