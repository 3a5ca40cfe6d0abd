/**
 * Discovery under an allowlist (issue 11, item 8): a verified node the policy refuses
 * is reported as refused, with its reason and proven id, and never thrown out of
 * `discover`; the report is kept; the node is neither recorded nor dialed.
 */
import { afterEach, describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { startHubs } from "../helpers/hubs.ts"

const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.allSettled(stops.splice(0).map(s => s()))
})

/** An allowlist hub whose bootstrap list names one open hub. */
async function allowlistHubWithBootstrap(): Promise<{ a: RunningHub; b: RunningHub }> {
  const open = await startHubs(1)
  stops.push(open.stopAll)
  const b = open.hubs[0]!
  const strict = await startHubs(1, { federationMode: "allowlist", peers: [b.url] })
  stops.push(strict.stopAll)
  return { a: strict.hubs[0]!, b }
}

describe("discover in allowlist mode", () => {
  it("reports a node that is not on the allowlist as refused, keeps the report, records and dials nothing", async () => {
    const { a, b } = await allowlistHubWithBootstrap()
    const report = await a.hub.federation.discover({ timeoutMs: 3_000 })
    const row = report.candidates.find(c => c.url === b.url)
    expect(row).toMatchObject({ status: "refused", code: "NOT_ALLOWED", nodeId: b.hub.nodeId, methods: ["bootstrap_nodes"] })
    expect(row?.reason).toContain("allowlist")
    expect(report.verified).toEqual([])
    expect(a.hub.federation.lastDiscovery).toBe(report)
    expect(a.hub.federation.registry.get(b.hub.nodeId)).toBeUndefined()
    expect(a.hub.links()).toEqual([])
    expect(a.hub.federation.ownDirectory().nodes.map(n => n.nodeId)).toEqual([a.hub.nodeId])
  })

  it("verifies, records and dials the same node once an administrator trusts it", async () => {
    const { a, b } = await allowlistHubWithBootstrap()
    await a.hub.federation.setTrust(b.hub.nodeId, "trusted")
    const report = await a.hub.federation.discover({ timeoutMs: 3_000 })
    expect(report.candidates.find(c => c.url === b.url)).toMatchObject({ status: "verified", nodeId: b.hub.nodeId })
    expect(report.verified.map(v => v.nodeId)).toEqual([b.hub.nodeId])
    expect(a.hub.federation.registry.get(b.hub.nodeId)?.discoveredBy).toEqual(["bootstrap_nodes"])
    expect(a.hub.links().map(l => l.url)).toEqual([`${b.url.replace(/^http/, "ws")}/sync`])
  })
})
