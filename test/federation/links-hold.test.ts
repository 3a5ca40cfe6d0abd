/**
 * Links remember what the administrator said (issue 11, item 11): a cut link stays cut
 * across restarts and whichever end cut it, until `peers connect`; a hub that comes back
 * on a new URL is re-learned from the descriptor it sends as soon as it links, and each
 * link shows one truthful state.
 */
import { afterEach, describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { hubPool, linkReaches, nextEvent } from "../helpers/hubs.ts"
import type { HubClientAdapter } from "../../src/replication/HubClientAdapter.ts"

const pool = hubPool()
const hub = pool.start
afterEach(pool.cleanup)
const stop = pool.stop

/** Resolves when `link` reports a failure with `code` (a refused redial). */
async function refusedWith(link: HubClientAdapter, code: string): Promise<void> {
  while (link.lastError?.code !== code) await nextEvent(link.events, "state", 20_000)
}

/** Resolves once the hub's inbound connections include (or no longer include) `nodeId`. */
async function inboundFrom(h: RunningHub, nodeId: string, present: boolean): Promise<void> {
  const has = () => h.hub.server.connections().some(c => c.peerId === nodeId)
  while (has() !== present) await nextEvent(h.hub.server.events, present ? "joined" : "left", 20_000)
}

describe("links hold what the administrator decided", () => {
  it("a link cut by the dialing hub stays cut after its restart, until peers connect", async () => {
    const a = await hub()
    const b = await hub()
    await a.hub.federation.addPeer(b.url)
    await linkReaches(a.hub.dial(b.url, b.hub.nodeId), "established")
    await a.hub.federation.disconnect(b.hub.nodeId)
    expect(a.hub.links()).toEqual([])
    await inboundFrom(b, a.hub.nodeId, false)

    await stop(a)
    const a2 = await hub(a.paths.home)
    expect(a2.hub.links()).toEqual([])
    expect(a2.hub.federation.peers().find(p => p.nodeId === b.hub.nodeId)?.link).toBeUndefined()
    await expect(Promise.resolve().then(() => a2.hub.dial(b.url, b.hub.nodeId))).rejects.toMatchObject({ code: "DISCONNECTED" })

    await a2.hub.federation.connect(b.hub.nodeId)
    await inboundFrom(b, a2.hub.nodeId, true)
    expect(a2.hub.federation.registry.get(b.hub.nodeId)?.disconnected).toBe(false)
  })

  it("a disconnect from the accepting end holds: the dialer's redials are refused until that end connects", async () => {
    const a = await hub()
    const b = await hub()
    const link = a.hub.dial(b.url, b.hub.nodeId)
    await linkReaches(link, "established")
    await inboundFrom(b, a.hub.nodeId, true)
    await b.hub.federation.disconnect(a.hub.nodeId)
    await refusedWith(link, "DISCONNECTED")
    expect(b.hub.server.connections().some(c => (c.peerId as string | undefined) === a.hub.nodeId)).toBe(false)
    expect(link.state).toBe("offline")

    // B lifts it by dialing A itself (it learned A's URL from the descriptor A sent)
    await b.hub.federation.connect(a.hub.nodeId)
    await linkReaches(b.hub.dial(a.url, a.hub.nodeId), "established")
  })

  it("a hub back on a new port is re-learned as soon as it links: the old link is replaced, one state shown", async () => {
    const a = await hub()
    const b = await hub()
    await a.hub.federation.addPeer(b.url)
    const back = b.hub.dial(a.url, a.hub.nodeId)
    await linkReaches(back, "established")
    const oldUrl = a.url

    await stop(a)
    await linkReaches(back, "offline")
    const a2 = await hub(a.paths.home) // a manual peer of B's: it dials B at start, from a new port
    expect(a2.url).not.toBe(oldUrl)
    // B handles the join (learning the descriptor A sent, following the move) before this wait returns
    await inboundFrom(b, a2.hub.nodeId, true)
    expect(b.hub.federation.registry.get(a.hub.nodeId)?.url).toBe(a2.url)
    expect(b.hub.links().map(l => l.url)).toEqual([`${a2.url.replace("http", "ws")}/sync`])
    await linkReaches(b.hub.dial(a2.url, a2.hub.nodeId), "established")
    const view = b.hub.federation.peers().find(p => p.nodeId === a.hub.nodeId)
    expect(view?.link?.state).toBe("established")
    expect(view?.url).toBe(a2.url)
  })
})
