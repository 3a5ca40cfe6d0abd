/**
 * mDNS over real multicast confined to the loopback interface (see MDNS_TEST_MODE in src):
 * every test uses a port the OS reports free, so concurrent runs do not see each other.
 */
import { randomBytes } from "node:crypto"
import { createSocket } from "node:dgram"
import { once } from "node:events"
import type { AddressInfo } from "node:net"
import makeMdns from "multicast-dns"
import { afterEach, describe, expect, it } from "vitest"
import { isFedhubError } from "../../../src/errors.ts"
import { nodeIdFromPublicKey, type NodeId } from "../../../src/identity/index.ts"
import {
  loopbackMdnsOptions,
  MDNS_IPV4_GROUP,
  MDNS_SERVICE,
  MdnsAnnouncer,
  MdnsSource,
  type MdnsOptions,
} from "../../../src/federation/discovery/mdns.ts"
import { runDiscoverySourceTests } from "./runDiscoverySourceTests.ts"

const newId = (): NodeId => nodeIdFromPublicKey(new Uint8Array(randomBytes(32)))

/** A UDP port that is free right now (bound on 127.0.0.1:0, then released). */
async function freePort(): Promise<number> {
  const s = createSocket("udp4")
  await new Promise<void>(resolve => s.bind(0, "127.0.0.1", resolve))
  const { port } = s.address() as AddressInfo
  await new Promise<void>(resolve => s.close(() => resolve()))
  return port
}

/** Starts announcers and a source sharing one fresh loopback port. */
async function lan(hubs: Array<{ nodeId: NodeId; url: string; instanceName?: string }>, timeoutMs = 600) {
  const mdnsOptions = loopbackMdnsOptions(await freePort())
  const announcers = hubs.map(h => new MdnsAnnouncer({ ...h, mdnsOptions }))
  await Promise.all(announcers.map(a => a.start()))
  const source = new MdnsSource({ timeoutMs, mdnsOptions })
  const teardown = async () => {
    await source.close()
    await Promise.all(announcers.map(a => a.stop()))
  }
  return { mdnsOptions, announcers, source, teardown }
}

/** A raw multicast-dns responder that answers the service PTR with the given TXT text. */
async function rawResponder(mdnsOptions: MdnsOptions, instance: string, text: string) {
  const m = makeMdns({ ...mdnsOptions })
  m.on("warning", () => {})
  m.on("error", () => {})
  await once(m, "ready")
  const fqdn = `${instance}.${MDNS_SERVICE}`
  m.on("query", q => {
    if (!q.questions.some(x => x.name === MDNS_SERVICE)) return
    m.respond({
      answers: [{ name: MDNS_SERVICE, type: "PTR", ttl: 120, data: fqdn }],
      additionals: [{ name: fqdn, type: "TXT", ttl: 120, data: [Buffer.from(text)] }],
    })
  })
  return { close: () => new Promise<void>(resolve => m.destroy(() => resolve())) }
}

describe("the loopback test mode (MDNS_TEST_MODE)", () => {
  it("sends a real multicast query on the loopback interface that a plain group member receives", async () => {
    const port = await freePort()
    // a bare UDP socket, not multicast-dns: it joins the group on loopback the way any mDNS stack would
    const member = createSocket({ type: "udp4", reuseAddr: true })
    try {
      await new Promise<void>(resolve => member.bind(port, MDNS_IPV4_GROUP, resolve))
      member.addMembership(MDNS_IPV4_GROUP, "127.0.0.1")
      const received = once(member, "message") as Promise<[Buffer, { address: string; port: number }]>
      const source = new MdnsSource({ timeoutMs: 300, mdnsOptions: loopbackMdnsOptions(port) })
      const discovering = source.discover()
      const [packet, from] = await received
      expect(from.address).toBe("127.0.0.1")
      expect(packet.readUInt16BE(2) & 0x8000).toBe(0) // QR bit clear: a query, not a response
      expect(packet.readUInt16BE(4)).toBeGreaterThan(0) // QDCOUNT
      expect(packet.includes(Buffer.from("\x07_fedhub\x04_tcp\x05local\x00", "latin1"))).toBe(true)
      expect(await discovering).toEqual({ candidates: [], problems: [] })
      await source.close()
    } finally {
      await new Promise<void>(resolve => member.close(() => resolve()))
    }
  })

  it("keeps two loopback ports apart: a source does not see an announcer on another port", async () => {
    const hub = { nodeId: newId(), url: "http://127.0.0.1:4150" }
    const here = await lan([hub])
    const elsewhere = new MdnsSource({ timeoutMs: 400, mdnsOptions: loopbackMdnsOptions(await freePort()) })
    try {
      expect(await elsewhere.discover()).toEqual({ candidates: [], problems: [] })
      expect((await here.source.discover()).candidates.map(c => c.nodeId)).toEqual([hub.nodeId])
    } finally {
      await elsewhere.close()
      await here.teardown()
    }
  })
})

runDiscoverySourceTests("MdnsSource", async () => {
  const hubs = [
    { nodeId: newId(), url: "http://127.0.0.1:4100" },
    { nodeId: newId(), url: "wss://hub-b.local:9443/sync" },
  ]
  const { source, teardown } = await lan(hubs)
  return { source, expected: hubs, teardown }
})

describe("MdnsAnnouncer and MdnsSource", () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it("find each other on the local network", async () => {
    const hub = { nodeId: newId(), url: "http://127.0.0.1:4200" }
    const { source, announcers, teardown } = await lan([hub])
    cleanups.push(teardown)
    const { candidates, problems } = await source.discover()
    expect(problems).toEqual([])
    expect(candidates).toEqual([
      { method: "multicast_discovery", nodeId: hub.nodeId, url: hub.url, source: `${announcers[0]!.instanceFqdn}@127.0.0.1` },
    ])
    expect(announcers[0]!.answered).toBe(1) // one PTR query; its answer carries the TXT, so no follow-up
  })

  it("answer with PTR, TXT, SRV and A records a DNS-SD browser understands", async () => {
    const hub = { nodeId: newId(), url: "http://127.0.0.1:4300", instanceName: "alice hub" }
    const { mdnsOptions, announcers, teardown } = await lan([hub])
    cleanups.push(teardown)
    const m = makeMdns({ ...mdnsOptions })
    m.on("warning", () => {})
    cleanups.push(() => new Promise<void>(resolve => m.destroy(() => resolve())))
    await once(m, "ready")
    const answered = once(m, "response")
    m.query([{ name: MDNS_SERVICE, type: "PTR" }])
    const [res] = (await answered) as [makeMdns.ResponsePacket]
    const fqdn = `alice hub.${MDNS_SERVICE}`
    expect(announcers[0]!.instanceFqdn).toBe(fqdn)
    const all = [...res.answers, ...res.additionals]
    expect(res.answers).toContainEqual(expect.objectContaining({ name: MDNS_SERVICE, type: "PTR", data: fqdn }))
    expect(all).toContainEqual(expect.objectContaining({ name: fqdn, type: "SRV", data: expect.objectContaining({ port: 4300, target: "alice-hub.local" }) }))
    expect(all).toContainEqual(expect.objectContaining({ name: "alice-hub.local", type: "A", data: "127.0.0.1" }))
    const txt = all.find(r => r.type === "TXT")
    expect(Buffer.concat(txt!.data as Buffer[]).toString()).toBe(`v=fedhub1 id=${hub.nodeId} url=${hub.url}`)
  })

  it("report a malformed announcement as a problem and keep the good hubs", async () => {
    const good = { nodeId: newId(), url: "http://127.0.0.1:4400" }
    const { mdnsOptions, source, teardown } = await lan([good])
    cleanups.push(teardown)
    const bad = await rawResponder(mdnsOptions, "broken", "v=fedhub1 id=fh1nope url=gopher://x")
    cleanups.push(bad.close)
    const { candidates, problems } = await source.discover()
    expect(candidates.map(c => c.nodeId)).toEqual([good.nodeId])
    expect(problems).toEqual([
      {
        method: "multicast_discovery",
        source: `broken.${MDNS_SERVICE}@127.0.0.1`,
        code: "INVALID_INPUT",
        detail: expect.stringMatching(/not a fedhub node id/),
      },
    ])
  })

  it("list a node once, and report the same id announced at another url", async () => {
    const id = newId()
    const { source, teardown } = await lan([
      { nodeId: id, url: "http://127.0.0.1:4500", instanceName: "one" },
      { nodeId: id, url: "http://127.0.0.1:4500", instanceName: "two" },
      { nodeId: id, url: "http://127.0.0.1:4501", instanceName: "three" },
    ])
    cleanups.push(teardown)
    const { candidates, problems } = await source.discover()
    expect(candidates).toHaveLength(1)
    expect(candidates[0]!.nodeId).toBe(id)
    // which one arrives first is up to the network; the other URL is the conflict
    expect(problems).toEqual([expect.objectContaining({ code: "DUPLICATE_NODE_ID" })])
  })

  it("stop() really stops answering", async () => {
    const hub = { nodeId: newId(), url: "http://127.0.0.1:4600" }
    const { source, announcers, teardown } = await lan([hub])
    cleanups.push(teardown)
    const announcer = announcers[0]!
    expect((await source.discover()).candidates.map(c => c.nodeId)).toEqual([hub.nodeId])
    await announcer.stop()
    expect(announcer.running).toBe(false)
    const answered = announcer.answered
    const after = await source.discover()
    expect(after.candidates).toEqual([])
    expect(after.problems).toEqual([])
    expect(announcer.answered).toBe(answered)
    await announcer.stop() // idempotent
  })

  it("can be started again after stop()", async () => {
    const hub = { nodeId: newId(), url: "http://127.0.0.1:4700" }
    const { source, announcers, teardown } = await lan([hub])
    cleanups.push(teardown)
    await announcers[0]!.stop()
    await announcers[0]!.start()
    expect((await source.discover()).candidates.map(c => c.nodeId)).toEqual([hub.nodeId])
  })

  it("survive garbage datagrams on the group", async () => {
    const hub = { nodeId: newId(), url: "http://127.0.0.1:4800" }
    const { mdnsOptions, source, announcers, teardown } = await lan([hub])
    cleanups.push(teardown)
    const warned = once(announcers[0]!, "warning")
    const junk = createSocket("udp4")
    await new Promise<void>(resolve => junk.bind(0, "127.0.0.1", resolve))
    junk.setMulticastInterface("127.0.0.1")
    await new Promise<void>((resolve, reject) =>
      junk.send(Buffer.from([1, 2, 3, 4, 5]), mdnsOptions.port!, MDNS_IPV4_GROUP, err => (err ? reject(err) : resolve())),
    )
    await new Promise<void>(resolve => junk.close(() => resolve()))
    await warned // the announcer saw it and logged it
    expect((await source.discover()).candidates.map(c => c.nodeId)).toEqual([hub.nodeId])
  })

  it("report a socket that cannot bind as a problem, not a crash", async () => {
    // 192.0.2.123 is not an address of this machine: binding fails locally, nothing is sent
    const source = new MdnsSource({ timeoutMs: 300, mdnsOptions: { ...loopbackMdnsOptions(await freePort()), bind: "192.0.2.123" } })
    const { candidates, problems } = await source.discover()
    expect(candidates).toEqual([])
    expect(problems).toEqual([expect.objectContaining({ method: "multicast_discovery", code: "EADDRNOTAVAIL" })])
  })

  it("refuses an announcer with a bad id, url or instance name", () => {
    const ok = { nodeId: newId(), url: "http://127.0.0.1:1" }
    const refused = (opts: ConstructorParameters<typeof MdnsAnnouncer>[0]) => {
      try {
        new MdnsAnnouncer(opts)
        return false
      } catch (e) {
        return isFedhubError(e, "INVALID_INPUT")
      }
    }
    expect(refused({ ...ok, nodeId: "fh1bad" as NodeId })).toBe(true)
    expect(refused({ ...ok, url: "ftp://x" })).toBe(true)
    expect(refused({ ...ok, instanceName: "a.b" })).toBe(true)
    expect(refused({ ...ok, instanceName: "x".repeat(64) })).toBe(true)
    expect(refused(ok)).toBe(false)
  })
})
