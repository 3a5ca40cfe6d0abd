/**
 * What a link agreed governs what flows on it (issue 11, item 10): a capability not
 * agreed is refused on that link, and a relay routes nothing through a peer that did
 * not accept relaying.
 */
import { afterEach, describe, expect, it } from "vitest"
import { generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo"
import * as A from "@automerge/automerge"
import type { Offer } from "../../src/replication/handshake.ts"
import { linkReaches, startHubs } from "../helpers/hubs.ts"
import { rawPeer } from "../helpers/rawPeer.ts"

const offer = (capabilities: string[], acceptsRelay = false): Offer => ({
  protocolVersions: ["fedhub/1"],
  capabilities,
  policies: { dataRetentionDays: null, requireEncryption: false, acceptsRelay },
})
const emptySync = () => A.encodeSyncMessage({ heads: [], need: [], have: [], changes: [] })
const newUrl = () => generateAutomergeUrl()

let stopAll: (() => Promise<void>) | undefined
afterEach(async () => {
  await stopAll?.()
  stopAll = undefined
})

describe("negotiated capabilities are enforced", () => {
  it("refuses sync messages on a link that did not agree `sync`, and serves one that did", async () => {
    const started = await startHubs(1)
    stopAll = started.stopAll
    const hub = started.hubs[0]!
    const held = (await hub.hub.docs.create({ x: 1 }, { readers: ["public"] })).documentId
    const without = await rawPeer(hub.url, undefined, { offer: offer(["directory"]) })
    without.send({ type: "request", senderId: without.identity.nodeId, targetId: without.hubId, documentId: held, data: emptySync() })
    expect((await without.next(m => m.type === "error")).message).toBe("FORBIDDEN: 'request' needs capability sync, which this link did not agree")
    expect(await without.closed).toBe(4400)

    const withSync = await rawPeer(hub.url, undefined, { offer: offer(["sync"]) })
    withSync.send({ type: "request", senderId: withSync.identity.nodeId, targetId: withSync.hubId, documentId: held, data: emptySync() })
    expect((await withSync.next(m => m.type === "sync" && m.documentId === held)).documentId).toBe(held)
  })

  it("reads a peer's announced directory only on a link that agreed `directory`", async () => {
    const started = await startHubs(1)
    stopAll = started.stopAll
    const hub = started.hubs[0]!
    const held = (await hub.hub.docs.create({ x: 1 }, { readers: ["public"] })).documentId
    for (const [capabilities, reads] of [[["sync"], false], [["sync", "directory"], true]] as const) {
      const directory = newUrl()
      const peer = await rawPeer(hub.url, undefined, { offer: offer([...capabilities]), peerMetadata: { fedhubDirectory: directory } })
      // the join was handled before this probe is answered (one socket, in order)
      peer.send({ type: "request", senderId: peer.identity.nodeId, targetId: peer.hubId, documentId: held, data: emptySync() })
      await peer.next(m => m.type === "sync" && m.documentId === held)
      const asked = hub.hub.repo.handles[parseAutomergeUrl(directory).documentId] !== undefined
      expect([capabilities.join("+"), asked]).toEqual([capabilities.join("+"), reads])
    }
  })
})

describe("relaying follows the peers' declared policies", () => {
  it("a relay forwards a request for a document it does not hold to relays only, never through a plain hub", async () => {
    const relays = await startHubs(2, { type: "relay" })
    const plain = await startHubs(1)
    stopAll = async () => {
      await relays.stopAll()
      await plain.stopAll()
    }
    const [r, r2] = relays.hubs as [typeof relays.hubs[0], typeof relays.hubs[0]]
    const p = plain.hubs[0]!
    await linkReaches(r!.hub.dial(r2!.url, r2!.hub.nodeId), "established")
    await linkReaches(r!.hub.dial(p.url, p.hub.nodeId), "established")
    const before = p.hub.gate.unheldRequestsAnswered

    const asker = await rawPeer(r!.url, undefined, { offer: offer(["sync"]) })
    const documentId = parseAutomergeUrl(newUrl()).documentId
    asker.send({ type: "request", senderId: asker.identity.nodeId, targetId: asker.hubId, documentId, data: emptySync() })
    // R answers once every peer it asked has answered
    await asker.next(m => m.type === "doc-unavailable" && m.documentId === documentId)
    expect(r2!.hub.repo.handles[documentId]).toBeDefined() // the other relay was asked
    expect(p.hub.gate.unheldRequestsAnswered - before).toBe(0) // the plain hub was not
    // the handle the forwarded request left on R is dropped by the sweep: strangers' requests do not pile up
    expect(r!.hub.repo.handles[documentId]?.state).toBe("unavailable")
    // seen unavailable by one sweep, dropped by the next (a find that just failed may still be settling)
    r!.hub.dropUnavailable()
    expect(r!.hub.repo.handles[documentId]?.state).toBe("unavailable")
    expect(r!.hub.dropUnavailable()).toBeGreaterThanOrEqual(1)
    expect(r!.hub.repo.handles[documentId]).toBeUndefined()
  })
})
