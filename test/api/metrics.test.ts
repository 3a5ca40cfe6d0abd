/**
 * GET /metrics from real hubs: Prometheus text that parses, and values that move with
 * real activity (links, sync traffic, documents, handshakes, refused input, HTTP).
 */
import { describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, nextEvent, hubsForSuite, waitForDoc } from "../helpers/hubs.ts"
import { rawPeer } from "../helpers/rawPeer.ts"

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** A small parser of the Prometheus text format (0.0.4): samples, with TYPE lines checked. */
function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split("\n")) {
    if (line === "") continue
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type) {
      types.set(type[1]!, type[2]!)
      continue
    }
    if (line.startsWith("#")) {
      expect(line).toMatch(/^# HELP \S+ /)
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line)
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!
    // prom-client writes NaN as "Nan" (e.g. an event-loop mean before the first sample)
    expect(m[3], line).toMatch(/^(?:[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|Inf)|NaN|Nan)$/i)
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3])
    samples.push({ name: m[1]!, labels, value })
  }
  return { samples, types }
}

const scrape = async (hub: RunningHub) => {
  const res = await fetch(`${hub.localUrl}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/)
  const parsed = parseMetrics(await res.text())
  const value = (name: string, labels: Record<string, string> = {}): number =>
    parsed.samples
      .filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0)
  return { ...parsed, value }
}

describe("GET /metrics", () => {
  let a: RunningHub
  let b: RunningHub
  hubsForSuite(2, hubs => ([a, b] = hubs as [RunningHub, RunningHub]))

  it("answers Prometheus text without a token, with the hub's series and the process defaults", async () => {
    const m = await scrape(a)
    for (const name of [
      "fedhub_links",
      "fedhub_inbound_connections",
      "fedhub_sync_messages_total",
      "fedhub_sync_bytes_total",
      "fedhub_documents_held",
      "fedhub_handshakes_accepted_total",
      "fedhub_handshakes_refused_total",
      "fedhub_peer_input_rejected_total",
      "fedhub_http_requests_total",
      "fedhub_peers_known",
      "process_cpu_user_seconds_total",
      "nodejs_eventloop_lag_seconds",
    ])
      expect(m.types.has(name), name).toBe(true)
    expect(m.types.get("fedhub_sync_bytes_total")).toBe("counter")
    expect(m.types.get("fedhub_links")).toBe("gauge")
    expect(m.value("fedhub_links")).toBe(0)
    // no node id, URL or document id in any label
    const text = await (await fetch(`${a.localUrl}/metrics`)).text()
    expect(text).not.toContain(a.hub.nodeId)
    expect(text).not.toContain(new URL(a.url).host)
  })

  it("counts links, sync traffic, documents and handshakes as two hubs link and replicate", async () => {
    const before = { a: await scrape(a), b: await scrape(b) }
    const link = a.hub.dial(b.url, b.hub.nodeId)
    await linkReaches(link, "established")
    const doc = await a.hub.docs.create({ title: "counted" }, { writers: [b.hub.nodeId] })
    await waitForDoc(await b.hub.docs.find(doc.url), d => String((d as { title?: unknown }).title) === "counted")

    const ma = await scrape(a)
    const mb = await scrape(b)
    expect(ma.value("fedhub_links", { state: "established" })).toBe(1)
    expect(mb.value("fedhub_inbound_connections", { kind: "node" })).toBe(1)
    expect(ma.value("fedhub_handshakes_accepted_total", { direction: "outbound" })).toBe(before.a.value("fedhub_handshakes_accepted_total", { direction: "outbound" }) + 1)
    expect(mb.value("fedhub_handshakes_accepted_total", { direction: "inbound" })).toBe(before.b.value("fedhub_handshakes_accepted_total", { direction: "inbound" }) + 1)
    for (const direction of ["in", "out"]) {
      expect(ma.value("fedhub_sync_bytes_total", { direction, side: "outbound" })).toBeGreaterThan(before.a.value("fedhub_sync_bytes_total", { direction, side: "outbound" }))
      expect(ma.value("fedhub_sync_messages_total", { direction, side: "outbound" })).toBeGreaterThan(0)
      expect(mb.value("fedhub_sync_bytes_total", { direction, side: "inbound" })).toBeGreaterThan(before.b.value("fedhub_sync_bytes_total", { direction, side: "inbound" }))
    }
    expect(ma.value("fedhub_documents_held")).toBeGreaterThan(before.a.value("fedhub_documents_held"))
    // (B records the replica and A's registry entry when its storage and registry writes land,
    // which no event announces; B's counts are checked after the block below)

    // B blocks A: A's redial is refused at the upgrade, counted by reason on B, and counters never go back
    await b.hub.federation.block(a.hub.nodeId)
    while (link.lastError?.code !== "BLOCKED") await nextEvent(link.events, "state")
    const blocked = await scrape(b)
    expect(blocked.value("fedhub_handshakes_refused_total", { stage: "upgrade", reason: "BLOCKED" })).toBeGreaterThanOrEqual(1)
    expect(blocked.value("fedhub_peers_known", { blocked: "true" })).toBe(1)
    expect(blocked.value("fedhub_peers_known", { blocked: "false" })).toBe(0)
    expect(blocked.value("fedhub_sync_bytes_total", { direction: "in", side: "inbound" })).toBeGreaterThanOrEqual(mb.value("fedhub_sync_bytes_total", { direction: "in", side: "inbound" }))
    const offA = await scrape(a)
    expect(offA.value("fedhub_links", { state: "established" })).toBe(0)
    expect(offA.value("fedhub_link_errors_total")).toBeGreaterThan(0)
    a.hub.hangUp(b.url)
    await b.hub.federation.unblock(a.hub.nodeId)
  })

  it("counts a refused handshake challenge and refused peer input by reason", async () => {
    const before = await scrape(a)
    const res = await fetch(`${a.localUrl}/sync/challenge`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
    expect(res.status).toBe(400)
    const { code } = (await res.json()) as { code: string }
    const peer = await rawPeer(a.url)
    peer.send({ type: "gossip", senderId: peer.identity.nodeId, targetId: peer.hubId })
    await peer.closed
    const after = await scrape(a)
    expect(after.value("fedhub_handshakes_refused_total", { stage: "challenge", reason: code })).toBe(before.value("fedhub_handshakes_refused_total", { stage: "challenge", reason: code }) + 1)
    expect(after.value("fedhub_peer_input_rejected_total", { reason: "MALFORMED_FRAME" })).toBe(before.value("fedhub_peer_input_rejected_total", { reason: "MALFORMED_FRAME" }) + 1)
  })

  it("counts HTTP requests by route template and status", async () => {
    const before = await scrape(a)
    expect((await fetch(`${a.localUrl}/api/peers`)).status).toBe(401)
    expect((await fetch(`${a.localUrl}/api/trust/${b.hub.nodeId}`, { headers: { authorization: `Bearer ${a.hub.adminToken}` } })).status).toBe(200)
    expect((await fetch(`${a.localUrl}/no/such/route`)).status).toBe(404)
    const after = await scrape(a)
    const count = (m: typeof after, route: string, status: string) => m.value("fedhub_http_requests_total", { method: "GET", route, status })
    expect(count(after, "/api/peers", "401")).toBe(count(before, "/api/peers", "401") + 1)
    expect(count(after, "/api/trust/{nodeId}", "200")).toBe(count(before, "/api/trust/{nodeId}", "200") + 1)
    expect(count(after, "unmatched", "404")).toBe(count(before, "unmatched", "404") + 1)
    expect(count(after, "/metrics", "200")).toBe(count(before, "/metrics", "200") + 1) // the scrape before this one
    expect(after.value("fedhub_http_request_duration_seconds_count", { method: "GET", route: "/api/peers" })).toBeGreaterThan(0)
  })
})
