/**
 * An administrator's federation workflow from the CLI, against running hubs:
 * discover (mDNS on loopback, manual), peers list/add/block/unblock/remove,
 * trust set/show, endorse.
 */
import "@automerge/automerge-repo"
import { createSocket } from "node:dgram"
import { rm } from "node:fs/promises"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { fedhub } from "../helpers/cli.ts"
import { linkReaches, startTestHub } from "../helpers/hubs.ts"

const freeUdpPort = (): Promise<number> =>
  new Promise(resolve => {
    const s = createSocket("udp4")
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

const json = <T>(s: string): T => JSON.parse(s) as T

describe("federation from the CLI", () => {
  let a: RunningHub, b: RunningHub, c: RunningHub
  // fresh hubs for every case: no case depends on what another did before it
  beforeEach(async () => {
    const mdnsPort = await freeUdpPort()
    const discovery = { mdns: true, mdnsInterface: "127.0.0.1", mdnsPort }
    a = await startTestHub({ flags: { name: "alpha", discovery } })
    b = await startTestHub({ flags: { name: "beta", discovery } })
    c = await startTestHub({ flags: { name: "gamma" } })
  })
  afterEach(async () => {
    for (const h of [a, b, c]) {
      await h.stop()
      await rm(h.paths.home, { recursive: true, force: true })
    }
  })

  it("discover finds a hub announced over mDNS and says how each method did", async () => {
    const r = await fedhub(["discover", "--home", a.paths.home, "--timeout", "1500", "--json"])
    expect(r.code, r.stderr).toBe(0)
    const report = json<{ methods: { method: string; found: number }[]; candidates: { nodeId?: string; status: string; methods: string[] }[] }>(r.stdout)
    expect(report.methods.map(m => m.method)).toContain("multicast_discovery")
    const found = report.candidates.find(x => x.nodeId === b.hub.nodeId)
    expect(found).toMatchObject({ status: "verified" })
    expect(found!.methods).toContain("multicast_discovery")
    const text = await fedhub(["discover", "--home", a.paths.home, "--timeout", "1500", "--no-connect"])
    expect(text.stdout).toMatch(/multicast_discovery: \d+ found in \d+ ms/)
  })

  it("peers add verifies a hub by URL; peers list shows it with trust, reputation and link", async () => {
    const added = await fedhub(["peers", "add", c.url, "--home", a.paths.home])
    expect(added.code, added.stderr).toBe(0)
    expect(added.stdout).toContain(c.hub.nodeId)
    const list = await fedhub(["peers", "list", "--home", a.paths.home, "--json"])
    const peers = json<{ nodeId: string; name: string; trust: string; reputation: number; discoveredBy: string[] }[]>(list.stdout)
    const pc = peers.find(p => p.nodeId === c.hub.nodeId)
    expect(pc).toMatchObject({ name: "gamma", trust: "basic" })
    expect(pc!.discoveredBy).toContain("manual_configuration")
    const text = await fedhub(["peers", "list", "--home", a.paths.home])
    expect(text.stdout).toContain("gamma")
    expect(text.stdout).toContain("trust=basic")
  })

  it("peers add refuses a URL where no hub answers, with a clear error", async () => {
    const r = await fedhub(["peers", "add", "http://127.0.0.1:1", "--home", a.paths.home])
    expect(r.code).toBe(6)
    expect(r.stderr).toContain("HUB_UNREACHABLE")
    const bad = await fedhub(["peers", "add", "ftp://x", "--home", a.paths.home])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("SCHEMA_INVALID")
  })

  it("trust set and show, and endorse", async () => {
    const set = await fedhub(["trust", "set", c.hub.nodeId, "partner", "--home", a.paths.home])
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout).toContain("partner")
    const show = await fedhub(["trust", "show", c.hub.nodeId, "--home", a.paths.home, "--json"])
    expect(json<{ level: string; reputation: number }>(show.stdout)).toMatchObject({ level: "partner" })
    const wrong = await fedhub(["trust", "set", c.hub.nodeId, "verified", "--home", a.paths.home])
    expect(wrong.code).toBe(2)
    const endorse = await fedhub(["endorse", b.hub.nodeId, "--days", "30", "--home", a.paths.home, "--json"])
    expect(endorse.code, endorse.stderr).toBe(0)
    expect(json<{ signer: string; payload: { subject: string } }>(endorse.stdout)).toMatchObject({
      signer: a.hub.nodeId,
      payload: { subject: b.hub.nodeId },
    })
    const revoked = await fedhub(["endorse", b.hub.nodeId, "--revoke", "--home", a.paths.home])
    expect(revoked.code, revoked.stderr).toBe(0)
    const again = await fedhub(["endorse", b.hub.nodeId, "--revoke", "--home", a.paths.home])
    expect(again.code).toBe(4)
  })

  /** a knows c by `peers add` and holds a link to it. */
  const aKnowsC = async () => {
    await a.hub.federation.addPeer(c.url)
    await linkReaches(a.hub.dial(c.url, c.hub.nodeId), "established")
  }

  it("disconnect cuts a link and connect restores it", async () => {
    await aKnowsC()
    const link = () => a.hub.links().find(l => l.remoteNodeId === c.hub.nodeId)
    expect(link()?.state).toBe("established")
    const cut = await fedhub(["peers", "disconnect", c.hub.nodeId, "--home", a.paths.home])
    expect(cut.code, cut.stderr).toBe(0)
    expect(link()).toBeUndefined()
    // a cut holds: saying it again changes nothing; an unknown node is an error
    const again = await fedhub(["peers", "disconnect", c.hub.nodeId, "--home", a.paths.home])
    expect(again.code, again.stderr).toBe(0)
    expect(link()).toBeUndefined()
    const unknown = await fedhub(["peers", "disconnect", "fh1" + "a".repeat(52), "--home", a.paths.home])
    expect(unknown.code).toBe(4)
    const back = await fedhub(["peers", "connect", c.hub.nodeId, "--home", a.paths.home])
    expect(back.code, back.stderr).toBe(0)
    // connect dialed the registry's URL again: the link comes back up
    await linkReaches(a.hub.dial(c.url, c.hub.nodeId), "established")
    expect(link()?.state).toBe("established")
  })

  it("block hides a node and cuts it off; unblock restores it; remove forgets it", async () => {
    await aKnowsC()
    const block = await fedhub(["peers", "block", c.hub.nodeId, "--home", a.paths.home])
    expect(block.code, block.stderr).toBe(0)
    const list = json<{ nodeId: string }[]>((await fedhub(["peers", "list", "--home", a.paths.home, "--json"])).stdout)
    expect(list.map(p => p.nodeId)).not.toContain(c.hub.nodeId)
    const blocked = json<{ nodeId: string }[]>((await fedhub(["peers", "list", "--blocked", "--home", a.paths.home, "--json"])).stdout)
    expect(blocked.map(p => p.nodeId)).toEqual([c.hub.nodeId])
    expect((await fedhub(["peers", "unblock", c.hub.nodeId, "--home", a.paths.home])).code).toBe(0)
    const back = json<{ nodeId: string }[]>((await fedhub(["peers", "list", "--home", a.paths.home, "--json"])).stdout)
    expect(back.map(p => p.nodeId)).toContain(c.hub.nodeId)
    expect((await fedhub(["peers", "remove", c.hub.nodeId, "--home", a.paths.home])).code).toBe(0)
    const gone = await fedhub(["peers", "remove", c.hub.nodeId, "--home", a.paths.home])
    expect(gone.code).toBe(4)
    const badId = await fedhub(["peers", "block", "not-a-node", "--home", a.paths.home])
    expect(badId.code).toBe(2)
    expect(badId.stderr).toContain("BAD_NODE_ID")
  })
})
