/**
 * Hostile sync frames from an authenticated stranger (open mode): each is refused with
 * a typed error before it reaches Automerge, changes nothing, and the hub keeps
 * answering health and serving every other peer (issue 11, items 1 and 5).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { deepChangeMessage, rawPeer, wideChangeMessage } from "../helpers/rawPeer.ts"
import { linkReaches, nextEvent, startHubs } from "../helpers/hubs.ts"
import { cbor } from "@automerge/automerge-repo"
import type { FedhubError } from "../../src/errors.ts"

const newDocId = () => parseAutomergeUrl(generateAutomergeUrl()).documentId

/** GET /healthz, failing the test if it takes longer than `boundMs` (a generous bound: the bench measures the real figure). */
async function healthy(hub: RunningHub, boundMs = 2_000): Promise<void> {
  const res = await fetch(`${hub.localUrl}/healthz`, { signal: AbortSignal.timeout(boundMs) })
  expect(res.status).toBe(200)
}

describe("limits on what a peer sends", () => {
  let hubs: RunningHub[]
  let stopAll: () => Promise<void>
  let hub: RunningHub

  beforeEach(async () => {
    ;({ hubs, stopAll } = await startHubs(2, { limits: { changeDepth: 32, changeOps: 20_000, newDocsPerMinute: 20 } }))
    hub = hubs[0]!
  })
  afterEach(async () => stopAll())

  for (const depth of [33, 3_000, 12_000]) {
    it(`refuses a change nesting ${depth} maps, closes that socket, creates nothing and stays responsive`, async () => {
      const peer = await rawPeer(hub.url)
      const documentId = newDocId()
      peer.send({ type: "sync", senderId: peer.identity.nodeId, targetId: peer.hubId, documentId, data: deepChangeMessage(depth) })
      const error = await peer.next(m => m.type === "error")
      expect(error.message).toMatch(/^TOO_DEEP: a change nests objects 33 deep; this hub accepts 32/)
      expect(await peer.closed).toBe(4400)
      await healthy(hub)
      expect(hub.hub.server.refusals.TOO_DEEP).toBe(1)
      expect(hub.hub.repo.handles[documentId]).toBeUndefined()
      expect(hub.hub.index.has(documentId)).toBe(false)
    })
  }

  it("accepts a change at the depth limit", async () => {
    const peer = await rawPeer(hub.url)
    const documentId = newDocId()
    peer.send({ type: "sync", senderId: peer.identity.nodeId, targetId: peer.hubId, documentId, data: deepChangeMessage(32) })
    const reply = await peer.next(m => m.type === "sync" && m.documentId === documentId)
    expect(reply.documentId).toBe(documentId)
    expect(hub.hub.server.refusals.TOO_DEEP).toBeUndefined()
  })

  it("refuses a change with more operations than the limit", async () => {
    const peer = await rawPeer(hub.url)
    const documentId = newDocId()
    peer.send({ type: "sync", senderId: peer.identity.nodeId, targetId: peer.hubId, documentId, data: wideChangeMessage(20_001) })
    const error = await peer.next(m => m.type === "error")
    expect(error.message).toBe("TOO_MANY_OPS: a change holds 20001 operations; this hub accepts 20000")
    expect(hub.hub.repo.handles[documentId]).toBeUndefined()
  })

  it("refuses sync data that is not an Automerge sync message, and unknown message types", async () => {
    const a = await rawPeer(hub.url)
    a.send({ type: "sync", senderId: a.identity.nodeId, targetId: a.hubId, documentId: newDocId(), data: new Uint8Array([1, 2, 3]) })
    expect((await a.next(m => m.type === "error")).message).toMatch(/^MALFORMED_FRAME: not an Automerge sync message/)
    const b = await rawPeer(hub.url)
    b.send({ type: "gossip", senderId: b.identity.nodeId, targetId: b.hubId, documentId: newDocId() })
    expect((await b.next(m => m.type === "error")).message).toBe('MALFORMED_FRAME: unknown message type "gossip"')
    const c = await rawPeer(hub.url)
    c.send({ type: "sync", senderId: c.identity.nodeId, targetId: c.hubId, documentId: "not-a-doc", data: wideChangeMessage(1) })
    expect((await c.next(m => m.type === "error")).message).toBe("MALFORMED_FRAME: 'sync' without a valid documentId")
    await healthy(hub)
  })

  it("answers requests for documents it does not hold itself: no handles kept, nothing forwarded", async () => {
    const other = hubs[1]!
    await linkReaches(hub.hub.dial(other.url, other.hub.nodeId), "established")
    const peer = await rawPeer(hub.url)
    const ids = Array.from({ length: 200 }, newDocId)
    const empty = wideChangeMessage(0)
    for (const documentId of ids) peer.send({ type: "request", senderId: peer.identity.nodeId, targetId: peer.hubId, documentId, data: empty })
    await peer.next(m => m.type === "doc-unavailable" && m.documentId === ids[199])
    const unavailable = new Set(peer.received.filter(m => m.type === "doc-unavailable").map(m => m.documentId))
    expect(ids.every(id => unavailable.has(id))).toBe(true)
    expect(ids.filter(id => hub.hub.repo.handles[id] !== undefined)).toEqual([])
    // not forwarded: the hub it is linked to never heard of them
    expect(ids.filter(id => other.hub.repo.handles[id] !== undefined)).toEqual([])
  })

  it("limits the new documents one peer may create per minute; other peers are still served", async () => {
    const peer = await rawPeer(hub.url)
    const ids = Array.from({ length: 25 }, newDocId)
    for (const documentId of ids)
      peer.send({ type: "sync", senderId: peer.identity.nodeId, targetId: peer.hubId, documentId, data: wideChangeMessage(1) })
    // the 20 within the budget are answered; the others are dropped, counted and logged once
    await Promise.all(ids.slice(0, 20).map(id => peer.next(m => m.type === "sync" && m.documentId === id)))
    const other = await rawPeer(hub.url)
    const mine = newDocId()
    other.send({ type: "sync", senderId: other.identity.nodeId, targetId: other.hubId, documentId: mine, data: wideChangeMessage(1) })
    await other.next(m => m.type === "sync" && m.documentId === mine)
    expect(hub.hub.server.refusals.RATE_LIMITED).toBe(5)
    expect(ids.slice(20).filter(id => hub.hub.repo.handles[id] !== undefined)).toEqual([])
    expect(peer.ws.readyState).toBe(peer.ws.OPEN)
  })

  it("refuses the same from a hub it dialed: the link fails with the typed error and nothing is created", async () => {
    const [victim, hostile] = hubs as [RunningHub, RunningHub]
    const documentId = newDocId()
    // the hostile hub writes a raw frame on the socket the victim opened to it
    hostile.hub.server.events.once("joined", conn =>
      conn.socket.send(
        cbor.encode({ type: "sync", senderId: hostile.hub.nodeId, targetId: victim.hub.nodeId, documentId, data: deepChangeMessage(3_000) }),
      ),
    )
    const link = victim.hub.dial(hostile.url, hostile.hub.nodeId)
    const [err] = await nextEvent<[FedhubError]>(link.events, "refused")
    expect([err.code, err.detail]).toEqual(["TOO_DEEP", "a change nests objects 33 deep; this hub accepts 32"])
    expect(victim.hub.repo.handles[documentId]).toBeUndefined()
    await healthy(victim)
  })
})

