/**
 * GET /api/events: the dashboard's server-sent events. Admin only; a `state` frame at
 * once, and another when something changes (a link, an administrator's change).
 */
import { describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import type { CenterState } from "../../src/api/routes/events.ts"
import { hubsForSuite } from "../helpers/hubs.ts"

/** Opens the stream and hands out its `state` frames in order. */
async function openEvents(hub: RunningHub) {
  const controller = new AbortController()
  const res = await fetch(`${hub.localUrl}/api/events`, { headers: { authorization: `Bearer ${hub.hub.adminToken}` }, signal: controller.signal })
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/)
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  /** Resolves with the first state frame from now on that satisfies `predicate`. */
  const next = async (predicate: (s: CenterState) => boolean = () => true): Promise<CenterState> => {
    for (;;) {
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (!frame.startsWith("event: state\n")) continue
        const s = JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as CenterState
        if (predicate(s)) return s
      }
      const { value, done } = await reader.read()
      if (done) throw new Error("the event stream ended")
      buffer += value
    }
  }
  return { next, close: () => controller.abort() }
}

describe("GET /api/events", () => {
  let a: RunningHub
  let b: RunningHub
  hubsForSuite(2, hubs => ([a, b] = hubs as [RunningHub, RunningHub]))

  it("needs the admin token", async () => {
    const res = await fetch(`${a.localUrl}/api/events`)
    expect(res.status).toBe(401)
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/)
  })

  it("sends the state at once, then again when a hub is added, linked and blocked", async () => {
    const events = await openEvents(a)
    try {
      const first = await events.next()
      expect(first.node.nodeId).toBe(a.hub.nodeId)
      expect(first.peers).toEqual([])
      expect(first.stats).toMatchObject({ connectedNodes: 0, knownNodes: 0 })

      const added = await fetch(`${a.localUrl}/api/peers`, {
        method: "POST",
        headers: { authorization: `Bearer ${a.hub.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ url: b.url }),
      })
      expect(added.status).toBe(201)
      const linked = await events.next(s => s.peers.some(p => p.nodeId === b.hub.nodeId && p.link?.state === "established"))
      expect(linked.stats.connectedNodes).toBe(1)
      expect(linked.stats.trend.connectedNodes).toBe(1)
      expect(linked.links[0]?.remoteNodeId).toBe(b.hub.nodeId)

      const blocked = await fetch(`${a.localUrl}/api/peers/${b.hub.nodeId}/block`, { method: "POST", headers: { authorization: `Bearer ${a.hub.adminToken}` } })
      expect(blocked.status).toBe(200)
      const after = await events.next(s => s.blocked.some(x => x.nodeId === b.hub.nodeId))
      expect(after.peers.map(p => p.nodeId)).not.toContain(b.hub.nodeId)
      expect(after.stats.connectedNodes).toBe(0)
    } finally {
      events.close()
    }
  })
})
