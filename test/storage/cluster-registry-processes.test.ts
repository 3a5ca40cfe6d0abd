/**
 * Two real `bin/fedhub start` processes of one identity on one PostgreSQL share the registry
 * and the directory: a block, an unblock or a trust level set through one takes effect on the
 * other at once, and both publish one directory. A peer hub is linked to each process.
 */
import { setTimeout as delay } from "node:timers/promises"
import { describe, expect, it } from "vitest"
import type { SignedEnvelope } from "../../src/identity/index.ts"
import type { FederationNode } from "../../src/schema/index.ts"
import type { HubClientAdapter } from "../../src/replication/HubClientAdapter.ts"
import type { PeerView } from "../../src/federation/FederationManager.ts"
import { linkReaches, nextEvent } from "../helpers/hubs.ts"
import { clusterForFile, type ClusterProcess } from "../helpers/cluster.ts"
import { fedhub } from "../helpers/cli.ts"
import { readAdminToken, resolveHome } from "../../src/hub/home.ts"

const { cluster, peers, links, nodeId } = clusterForFile("cluster_registry", 2, { peers: true })

/** Resolves once the link's latest failure is `code` (it is refused at its redial). */
async function refusedWith(link: HubClientAdapter, code: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(link.state === "offline" && link.lastError?.code === code)) await nextEvent(link.events, "state", Math.max(1, end - Date.now()))
}

/**
 * Asks `fn` again until `ok` holds. Another process's state has no event this process can
 * await, so this re-asks over HTTP every 100 ms, up to `timeoutMs`.
 */
async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (ok(v)) return v
    if (Date.now() > end) throw new Error(`${what}: not reached in ${timeoutMs} ms (last: ${JSON.stringify(v).slice(0, 1000)})`)
    await delay(100)
  }
}

const peersOf = (p: ClusterProcess, blocked = false) => p.api.call<PeerView[]>("GET", `/peers${blocked ? "?blocked=true" : ""}`)

describe("the registry and directory of one identity's processes, through PostgreSQL", () => {
  it("a peer blocked through process 1's REST is cut from process 2 and refused there; unblocked through process 2's CLI, it links again", async () => {
    const [one, two] = cluster as [ClusterProcess, ClusterProcess]
    const b = peers[1]!.hub.nodeId
    expect(links[1]!.state).toBe("established")
    await one.api.call("POST", `/peers/${b}/block`)
    // process 2 took the block in: it closed the link and refuses the redial
    await refusedWith(links[1]!, "BLOCKED")
    expect((await peersOf(two, true)).map(p => p.nodeId)).toContain(b)
    expect(links[0]!.state).toBe("established") // the other peer is untouched
    const cli = await fedhub(["peers", "unblock", b, "--home", two.home])
    expect(cli.code, cli.stderr).toBe(0)
    await linkReaches(links[1]!, "established", 30_000)
    expect((await peersOf(one, true)).map(p => p.nodeId)).not.toContain(b)
    expect((await peersOf(one)).find(p => p.nodeId === b)?.blocked).toBe(false)
  }, 90_000)

  it("a trust level set through process 2 is shown by process 1's GET /api/peers", async () => {
    const [one, two] = cluster as [ClusterProcess, ClusterProcess]
    const a = peers[0]!.hub.nodeId
    await two.api.call("PUT", `/trust/${a}`, { level: "partner" })
    const seen = await eventually(() => peersOf(one), ps => ps.find(p => p.nodeId === a)?.trust === "partner", "process 1 shows the trust level")
    expect(seen.find(p => p.nodeId === a)?.adminLevel).toBe("partner")
    await one.api.call("PUT", `/trust/${a}`, { level: "none" })
    await eventually(() => peersOf(two), ps => ps.find(p => p.nodeId === a)?.adminLevel === undefined, "process 2 shows the reset")
  }, 60_000)

  it("both processes know the peers linked to either, with their descriptors from the one directory", async () => {
    const [one, two] = cluster as [ClusterProcess, ClusterProcess]
    const [a, b] = peers.map(p => p.hub.nodeId)
    for (const [proc, other] of [[one, b], [two, a]] as const) {
      const view = await eventually(() => peersOf(proc), ps => ps.find(p => p.nodeId === other)?.descriptor?.id === other, "the other process's peer, with its descriptor")
      expect(view.find(p => p.nodeId === other)?.trust).toBe("basic") // it proved its key to the other process
    }
  }, 60_000)

  it("both processes' descriptors name the same directory document, with different, increasing sequences", async () => {
    const [one, two] = cluster as [ClusterProcess, ClusterProcess]
    const d1 = (await (await fetch(`${one.proc.localUrl}/api/node`)).json()) as SignedEnvelope<FederationNode>
    const d2 = (await (await fetch(`${two.proc.localUrl}/api/node`)).json()) as SignedEnvelope<FederationNode>
    expect(d1.payload.id).toBe(d2.payload.id)
    expect(d1.payload.connectivity.directory).toBeDefined()
    expect(d2.payload.connectivity.directory).toBe(d1.payload.connectivity.directory)
    // process 2 published after process 1 (it started after it): never the same sequence, never a lower one
    expect(d2.payload.sequence).toBeGreaterThan(d1.payload.sequence)
    // the peers hold that one directory, from either process
    for (const peer of peers) expect(peer.hub.federation.registry.get(nodeId())?.lastSequence).toBeGreaterThanOrEqual(d1.payload.sequence)
  })

  it("refuses a key rotation on one process with a typed error, and both keep serving the one identity", async () => {
    const [one, two] = cluster as [ClusterProcess, ClusterProcess]
    const res = await fetch(`${one.proc.localUrl}/api/rotate`, { method: "POST", headers: { authorization: `Bearer ${await readAdminToken(resolveHome(one.home))}` } })
    expect(res.status).toBe(409)
    expect(((await res.json()) as { code: string }).code).toBe("ROTATION_UNAVAILABLE")
    for (const p of [one, two]) expect(((await (await fetch(`${p.proc.localUrl}/api/node`)).json()) as SignedEnvelope<FederationNode>).payload.id).toBe(nodeId())
  })
})
