/**
 * Several hub processes of one identity behind one URL (issue 17 part 2): two real
 * `bin/fedhub start` processes on one PostgreSQL, a TCP balancer in front (TLS passes
 * through it untouched), peers that know only the balancer's URL. Peers landing on
 * different processes see each other's changes; a handshake whose challenge and upgrade
 * reach different processes succeeds; when a process is killed, its peers redial the
 * same URL, land on the survivor and carry on.
 */
import "@automerge/automerge-repo"
import { rm } from "node:fs/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { NodeId } from "../../src/identity/index.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, nextEvent, startTestHub, waitForDoc } from "../helpers/hubs.ts"
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts"
import { handleArrives, startCluster, stopCluster, type ClusterProcess } from "../helpers/cluster.ts"
import { startTcpBalancer, type TcpBalancer } from "../helpers/tcpBalancer.ts"

let server: TestPostgres
let cluster: ClusterProcess[] = []
let balancer: TcpBalancer
let url: string
let nodeId: NodeId
const peers: RunningHub[] = []

beforeAll(async () => {
  server = await startPostgres()
  cluster = await startCluster(await server.createDatabase("balanced"), 2)
  nodeId = cluster[0]!.proc.nodeId as NodeId
  balancer = await startTcpBalancer(cluster.map(p => Number(new URL(p.proc.url).port)))
  url = `https://127.0.0.1:${balancer.port}`
}, 120_000)

afterAll(async () => {
  for (const p of peers) {
    await p.stop().catch(() => {})
    await rm(p.paths.home, { recursive: true, force: true })
  }
  await balancer?.close()
  await stopCluster(cluster, "SIGKILL")
  await server?.stop()
}, 60_000)

/** A peer that dials the balancer's URL, every connection of its dial routed by `route`. */
async function peerVia(route: (n: number) => number) {
  const peer = await startTestHub()
  peers.push(peer)
  const from = balancer.connections.length
  balancer.route = route
  const link = peer.hub.dial(url, nodeId)
  await linkReaches(link, "established", 30_000)
  return { peer, link, connections: balancer.connections.slice(from) }
}

type Items = { items?: Record<string, number> }

/** A change on each peer reaches the other (`<key>FromA`, then `<key>FromB`). */
async function bothWays(a: RunningHub, b: RunningHub, url: string, key: string): Promise<void> {
  const onA = await a.hub.docs.find(url)
  const onB = await b.hub.docs.find(url)
  await a.hub.docs.put(url, `items.${key}FromA`, 1)
  await waitForDoc<Items>(onB as never, d => d.items?.[`${key}FromA`] === 1, 30_000)
  await b.hub.docs.put(url, `items.${key}FromB`, 2)
  await waitForDoc<Items>(onA as never, d => d.items?.[`${key}FromB`] === 2, 30_000)
}

describe("processes of one identity behind one URL (a TCP balancer)", () => {
  let a: Awaited<ReturnType<typeof peerVia>>
  let b: Awaited<ReturnType<typeof peerVia>>
  let doc: { url: string; documentId: string }

  it("links peers landing on different processes, and their changes reach each other", async () => {
    a = await peerVia(() => 0)
    b = await peerVia(() => 1)
    // each peer's open link is piped to its own process
    expect(a.connections.filter(c => c.open).map(c => c.backend)).toEqual([0])
    expect(b.connections.filter(c => c.open).map(c => c.backend)).toEqual([1])
    doc = await cluster[0]!.api.call<{ url: string; documentId: string }>("POST", "/docs", {
      content: { items: {} },
      share: [a.peer.hub.nodeId, b.peer.hub.nodeId],
      writers: [a.peer.hub.nodeId, b.peer.hub.nodeId],
    })
    await Promise.all([handleArrives(a.peer, doc.documentId), handleArrives(b.peer, doc.documentId)])
    await bothWays(a.peer, b.peer, doc.url, "linked")
  }, 120_000)

  it("completes a handshake whose connections alternate between the processes", async () => {
    const c = await peerVia(n => n % 2)
    // the dial used both processes (challenge on one, upgrade on the other, or the reverse)
    expect(new Set(c.connections.map(x => x.backend))).toEqual(new Set([0, 1]))
    expect(c.link.state).toBe("established")
  }, 60_000)

  it("a peer of a killed process redials the same URL, lands on the survivor and keeps syncing", async () => {
    balancer.route = () => 0 // the dead process first: the balancer skips it
    const dropped = nextEvent(a.link.events, "state", 30_000)
    await cluster[0]!.proc.stop("SIGKILL")
    await dropped
    await linkReaches(a.link, "established", 60_000)
    expect(balancer.connections.filter(c => c.open).every(c => c.backend === 1)).toBe(true)
    await bothWays(a.peer, b.peer, doc.url, "afterKill")
  }, 120_000)
})
