/**
 * A peer's single link across the processes of one identity (issue 17 part 2): two real
 * `bin/fedhub start` processes on one PostgreSQL. A node that connects to the second
 * process has its older socket on the first closed (4409, as within one process); when
 * both processes are told to dial one peer, one dials and the other stands by, and it
 * takes the link over when the first process dies.
 */
import "@automerge/automerge-repo"
import { rm } from "node:fs/promises"
import { describe, expect, it } from "vitest"
import { Identity } from "../../src/identity/index.ts"
import { CLOSE, type ServerConnection } from "../../src/replication/SyncServerAdapter.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { nextEvent, startTestHub } from "../helpers/hubs.ts"
import { rawPeer } from "../helpers/rawPeer.ts"
import { clusterForFile, type ClusterProcess } from "../helpers/cluster.ts"

const { cluster, nodeId } = clusterForFile("single", 2, { stopSignal: "SIGKILL" })

/** The state of each outgoing link of a process (its /healthz). */
async function linkStates(p: ClusterProcess): Promise<string[]> {
  const res = await fetch(`${p.proc.localUrl}/healthz`)
  return ((await res.json()) as { links: { state: string }[] }).links.map(l => l.state)
}

describe("a peer's single link across the processes of one identity", () => {
  it("closes a node's older socket on one process when it connects to the other (4409)", async () => {
    const node = Identity.generate()
    const first = await rawPeer(cluster[0]!.proc.url, node)
    expect(first.hubId).toBe(nodeId())
    const second = await rawPeer(cluster[1]!.proc.url, node)
    expect(await first.closed).toBe(CLOSE.REPLACED)
    // the newer socket stays: it still answers a join-level exchange
    expect(second.ws.readyState).toBe(second.ws.OPEN)
    second.ws.close()
  }, 60_000)

  it("one process dials a peer both are told to dial, the other stands by and takes over when it dies", async () => {
    const peer: RunningHub = await startTestHub()
    try {
      const joined: ServerConnection[] = []
      peer.hub.server.events.on("joined", c => joined.push(c))
      const firstJoin = nextEvent(peer.hub.server.events, "joined", 30_000)
      for (const p of cluster) await p.api.call("POST", "/peers", { url: peer.url })
      await firstJoin
      // both processes were told to dial; the peer holds exactly one socket of the identity
      const states = await Promise.all(cluster.map(linkStates))
      expect(states.flat().sort()).toEqual(["established", "standby"])
      expect(peer.hub.server.connections().filter(c => (c.peerId as string) === nodeId())).toHaveLength(1)
      const dialer = states.findIndex(s => s.includes("established"))
      const standby = 1 - dialer
      // the dialer dies: PostgreSQL releases its claim and the other process dials within its standby interval
      const takeOver = nextEvent(peer.hub.server.events, "joined", 30_000)
      await cluster[dialer]!.proc.stop("SIGKILL")
      await takeOver
      expect(await linkStates(cluster[standby]!)).toEqual(["established"])
      expect(joined).toHaveLength(2)
    } finally {
      await peer.stop()
      await rm(peer.paths.home, { recursive: true, force: true })
    }
  }, 90_000)
})
