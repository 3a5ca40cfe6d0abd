/**
 * Three hubs, partitioned and healed: every edit made on any side survives, all
 * replicas converge, and the one field written on all three shows three values.
 */
import "@automerge/automerge-repo"
import { afterAll, describe, expect, it } from "vitest"
import type { DocHandle } from "@automerge/automerge-repo"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, startHubs, waitForDoc } from "../helpers/hubs.ts"

type Doc = { title?: unknown; notes?: Record<string, unknown> }

describe("three hubs partitioned pairwise", () => {
  let stopAll: () => Promise<void> = async () => {}
  afterAll(() => stopAll())

  it("converge after the partition heals, with nothing lost", async () => {
    const started = await startHubs(3)
    stopAll = started.stopAll
    const [a, b, c] = started.hubs as [RunningHub, RunningHub, RunningHub]
    const pairs: [RunningHub, RunningHub][] = [
      [b, a],
      [c, a],
      [c, b],
    ]
    const connect = () => Promise.all(pairs.map(([from, to]) => linkReaches(from.hub.dial(to.url, to.hub.nodeId), "established")))
    const cut = (from: RunningHub, to: RunningHub) => expect(from.hub.hangUp(to.url)).toBe(true)
    await connect()

    const made = await a.hub.docs.create({ title: "v0", notes: {} }, { writers: [b.hub.nodeId, c.hub.nodeId] })
    const handles = (await Promise.all([a, b, c].map(h => h.hub.docs.find(made.url)))) as DocHandle<Doc>[]
    await Promise.all(handles.map(h => waitForDoc(h, d => String(d.title) === "v0")))

    // 1. only a–b cut: edits on a and b still meet through c
    cut(b, a)
    await a.hub.docs.put(made.url, "notes.a1", "a while a–b was cut")
    await b.hub.docs.put(made.url, "notes.b1", "b while a–b was cut")
    const seen1 = (d: Doc) => Boolean(d.notes?.a1 && d.notes?.b1)
    await Promise.all(handles.map(h => waitForDoc(h, seen1)))

    // 2. full partition: every pair cut, everyone edits, the same field too
    cut(c, a)
    cut(c, b)
    for (const [h, name] of [
      [a, "a"],
      [b, "b"],
      [c, "c"],
    ] as const) {
      await h.hub.docs.put(made.url, `notes.${name}2`, `${name} alone`)
      await h.hub.docs.put(made.url, "title", `title by ${name}`)
    }

    // 3. heal
    await connect()
    const all = (d: Doc) => ["a1", "b1", "a2", "b2", "c2"].every(k => d.notes?.[k] !== undefined)
    await Promise.all(handles.map(h => waitForDoc(h, all)))
    const sameHeads = () => new Set(handles.map(h => JSON.stringify([...h.heads()].sort()))).size === 1
    await Promise.all(handles.map(h => waitForDoc(h, sameHeads)))

    const shown = await Promise.all([a, b, c].map(h => h.hub.docs.show(made.url)))
    expect(shown[1]!.content).toEqual(shown[0]!.content)
    expect(shown[2]!.content).toEqual(shown[0]!.content)
    expect((shown[0]!.content as Doc).notes).toEqual({
      a1: "a while a–b was cut",
      b1: "b while a–b was cut",
      a2: "a alone",
      b2: "b alone",
      c2: "c alone",
    })
    const conflicts = await b.hub.docs.conflicts(made.url)
    expect(conflicts).toHaveLength(1)
    expect(conflicts[0]!.path).toBe("/title")
    expect(conflicts[0]!.values.map(v => v.value).sort()).toEqual(["title by a", "title by b", "title by c"])
  })
})
