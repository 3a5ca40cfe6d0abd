/**
 * History shows authors (issue 12, "what must hold" 4): the log names each change's
 * verified author node and name, through the hub's API and the CLI's text; values show
 * who wrote them; changes in a document without attribution are marked unattributed.
 */
import { afterEach, describe, expect, it } from "vitest"
import type { DocHandle } from "@automerge/automerge-repo"
import type { RunningHub } from "../../src/hub/startHub.ts"
import type { ChangeEntry, WrittenValue } from "../../src/replication/history.ts"
import { formatLog, formatWritten } from "../../src/replication/history.ts"
import { hubPool, linkReaches, waitForDoc } from "../helpers/hubs.ts"

const pool = hubPool()
const hub = pool.start
afterEach(pool.cleanup)

type Doc = Record<string, unknown>

/** GET on a hub's admin API. */
async function get<T>(h: RunningHub, path: string): Promise<T> {
  const res = await fetch(`${h.localUrl}/api${path}`, { headers: { authorization: `Bearer ${h.hub.adminToken}` } })
  expect(res.status, await res.clone().text()).toBe(200)
  return (await res.json()) as T
}

describe("authors in history", () => {
  it("the log and the values name each verified author, on every hub holding the document", async () => {
    const a = await hub()
    const b = await hub()
    await linkReaches(b.hub.dial(a.url, a.hub.nodeId), "established")
    const made = await a.hub.docs.create({ title: "by a" }, { writers: [b.hub.nodeId] })
    await waitForDoc(await b.hub.docs.find(made.url), d => String((d as Doc).title) === "by a")
    await b.hub.docs.put(made.url, "reply", "by b", { message: "b answers" })
    await waitForDoc((await a.hub.docs.find(made.url)) as DocHandle<Doc>, d => String(d.reply) === "by b")
    const ref = encodeURIComponent(made.url)

    const log = await get<ChangeEntry[]>(a, `/docs/${ref}/log`)
    expect(log.map(e => [e.author, e.authorName, e.attributed, e.message?.startsWith("b answers") ?? false])).toEqual([
      [b.hub.nodeId, b.hub.config.name, true, true],
      [a.hub.nodeId, a.hub.config.name, true, false],
    ])
    expect(formatLog(log)).toContain(b.hub.config.name)
    expect(formatLog(log)).not.toContain("unattributed")

    // b sees the same authors (names from its registry)
    const onB = await b.hub.docs.log(made.url)
    expect(onB.map(e => e.author)).toEqual([b.hub.nodeId, a.hub.nodeId])

    const written = await get<WrittenValue[]>(a, `/docs/${ref}/written`)
    expect(written.map(w => [w.path, w.value, w.writers.map(x => x.author)])).toEqual([
      ["/title", "by a", [a.hub.nodeId]],
      ["/reply", "by b", [b.hub.nodeId]],
    ])
    const byB = await get<WrittenValue[]>(a, `/docs/${ref}/written?by=${b.hub.nodeId}`)
    expect(byB.map(w => w.path)).toEqual(["/reply"])
    expect(formatWritten(byB)).toContain(b.hub.config.name)
  })

  it("marks the changes of a document from before attribution as unattributed", async () => {
    const a = await hub()
    const legacy = a.hub.repo.create<Doc>({ old: 1 })
    const log = await a.hub.docs.log(legacy.url)
    expect(log.length).toBeGreaterThan(0)
    expect(log.every(e => !e.attributed && e.author === undefined)).toBe(true)
    expect(formatLog(log)).toContain("unattributed")
    const written = await a.hub.docs.writtenBy(legacy.url)
    expect(written).toEqual([{ path: "/old", value: 1, writers: [{ actor: expect.any(String) }] }])
  })
})
