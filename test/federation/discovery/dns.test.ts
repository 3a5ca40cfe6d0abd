import { randomBytes } from "node:crypto"
import { createSocket } from "node:dgram"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { isFedhubError } from "../../../src/errors.ts"
import { nodeIdFromPublicKey, type NodeId } from "../../../src/identity/index.ts"
import { DnsTxtSource, fedhubDnsName } from "../../../src/federation/discovery/dns.ts"
import { formatFedhubTxt, parseFedhubTxt } from "../../../src/federation/discovery/types.ts"
import { startTestDnsServer, type TestDnsServer, type TestTxtRecord } from "./dnsServer.ts"
import { runDiscoverySourceTests } from "./runDiscoverySourceTests.ts"

const newId = (): NodeId => nodeIdFromPublicKey(new Uint8Array(randomBytes(32)))
const txt = (id: NodeId, url: string) => formatFedhubTxt({ id, url })
const invalid = (detail: RegExp) => (e: unknown) => isFedhubError(e, "INVALID_INPUT") && detail.test(e.detail)

runDiscoverySourceTests("DnsTxtSource", async () => {
  const a = { nodeId: newId(), url: "https://hub-a.example.test" }
  const b = { nodeId: newId(), url: "ws://127.0.0.1:4001/sync" }
  const c = { nodeId: newId(), url: "http://hub-c.example.test:8080" }
  const server = await startTestDnsServer({
    "_fedhub._tcp.one.test": [txt(a.nodeId, a.url), txt(b.nodeId, b.url)],
    "_fedhub._tcp.two.test": [txt(c.nodeId, c.url)],
  })
  const source = new DnsTxtSource({ domains: ["one.test", "two.test"], servers: [server.address], timeoutMs: 2_000 })
  return {
    source,
    expected: [a, b, c],
    teardown: async () => {
      await source.close()
      await server.close()
    },
  }
})

describe("DnsTxtSource", () => {
  let server: TestDnsServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })
  const serve = async (records: Record<string, TestTxtRecord[]>) => (server = await startTestDnsServer(records))

  it("finds two hubs from two TXT records of one domain", async () => {
    const [a, b] = [newId(), newId()]
    const { address } = await serve({ "_fedhub._tcp.hubs.test": [txt(a, "https://a.hubs.test"), txt(b, "wss://b.hubs.test:9443")] })
    const { candidates, problems } = await new DnsTxtSource({ domains: ["hubs.test"], servers: [address] }).discover()
    expect(problems).toEqual([])
    expect(candidates).toEqual(
      expect.arrayContaining([
        { method: "dns_discovery", nodeId: a, url: "https://a.hubs.test", source: "_fedhub._tcp.hubs.test" },
        { method: "dns_discovery", nodeId: b, url: "wss://b.hubs.test:9443", source: "_fedhub._tcp.hubs.test" },
      ]),
    )
    expect(candidates).toHaveLength(2)
  })

  it("reports bad records as problems and still returns the good ones", async () => {
    const [good1, good2, other] = [newId(), newId(), newId()]
    const { address } = await serve({
      "_fedhub._tcp.mixed.test": [
        txt(good1, "http://good1.test"),
        `v=fedhub1 id=fh1notanodeid url=http://bad-id.test`,
        `id=${other} url=http://no-version.test`,
        `v=fedhub1 id=${other} url=ftp://bad-url.test`,
        "some unrelated text",
        txt(good2, "http://good2.test"),
      ],
    })
    const { candidates, problems } = await new DnsTxtSource({ domains: ["mixed.test"], servers: [address] }).discover()
    expect(candidates.map(c => c.nodeId).sort()).toEqual([good1, good2].sort())
    expect(problems).toHaveLength(4)
    for (const p of problems) {
      expect(p).toMatchObject({ method: "dns_discovery", source: "_fedhub._tcp.mixed.test", code: "INVALID_INPUT" })
    }
    const details = problems.map(p => p.detail).join("\n")
    expect(details).toMatch(/id=fh1notanodeid is not a fedhub node id/)
    expect(details).toMatch(/missing v=fedhub1/)
    expect(details).toMatch(/scheme ftp/)
  })

  it("reports an unknown domain as a problem and still answers the others", async () => {
    const id = newId()
    const { address } = await serve({ "_fedhub._tcp.known.test": [txt(id, "http://known.test")] })
    const source = new DnsTxtSource({ domains: ["known.test", "unknown.test"], servers: [address] })
    const { candidates, problems } = await source.discover()
    expect(candidates.map(c => c.nodeId)).toEqual([id])
    expect(problems).toEqual([
      expect.objectContaining({ method: "dns_discovery", source: "_fedhub._tcp.unknown.test", code: "ENOTFOUND" }),
    ])
    expect(problems[0]!.detail).toMatch(/NXDOMAIN/)
  })

  it("joins the character-strings of a long TXT record before parsing it", async () => {
    const id = newId()
    const url = `https://long.test/${"p".repeat(300)}`
    const record = txt(id, url)
    const { address } = await serve({ "_fedhub._tcp.long.test": [[record.slice(0, 40), record.slice(40)]] })
    const { candidates, problems } = await new DnsTxtSource({ domains: ["long.test"], servers: [address] }).discover()
    expect(problems).toEqual([])
    expect(candidates).toMatchObject([{ nodeId: id, url }])
  })

  it("lists a hub published under two domains once", async () => {
    const id = newId()
    const rec = txt(id, "http://both.test")
    const { address } = await serve({ "_fedhub._tcp.a.test": [rec], "_fedhub._tcp.b.test": [rec] })
    const { candidates } = await new DnsTxtSource({ domains: ["a.test", "b.test", "A.test."], servers: [address] }).discover()
    expect(candidates).toHaveLength(1)
  })

  it("reports a server that never answers as ETIMEOUT within the time budget", async () => {
    const silent = createSocket("udp4")
    await new Promise<void>(resolve => silent.bind(0, "127.0.0.1", resolve))
    try {
      const { port } = silent.address() as AddressInfo
      const source = new DnsTxtSource({ domains: ["silent.test"], servers: [`127.0.0.1:${port}`] })
      const started = performance.now()
      const { candidates, problems } = await source.discover({ timeoutMs: 300 })
      expect(performance.now() - started).toBeLessThan(3_000)
      expect(candidates).toEqual([])
      expect(problems).toEqual([expect.objectContaining({ source: "_fedhub._tcp.silent.test", code: "ETIMEOUT" })])
    } finally {
      await new Promise<void>(resolve => silent.close(() => resolve()))
    }
  })

  it("refuses bad domains and server addresses with INVALID_INPUT", () => {
    expect(() => new DnsTxtSource({ domains: ["not a domain"] })).toThrow(expect.objectContaining({ code: "INVALID_INPUT" }))
    expect(() => new DnsTxtSource({ domains: ["ok.test"], servers: ["not-an-ip"] })).toThrow(
      expect.objectContaining({ code: "INVALID_INPUT" }),
    )
    expect(() => new DnsTxtSource({ domains: ["ok.test"], servers: [] })).toThrow(expect.objectContaining({ code: "INVALID_INPUT" }))
  })

  it("queries _fedhub._tcp.<domain>", () => {
    expect(fedhubDnsName("Example.COM.")).toBe("_fedhub._tcp.example.com")
  })
})

describe("parseFedhubTxt", () => {
  const id = newId()

  it("reads id and url, in any order", () => {
    expect(parseFedhubTxt(`v=fedhub1 id=${id} url=https://hub.test`)).toEqual({ id, url: "https://hub.test" })
    expect(parseFedhubTxt(`url=ws://127.0.0.1:4000/sync  v=fedhub1\tid=${id}`)).toEqual({ id, url: "ws://127.0.0.1:4000/sync" })
  })

  it("accepts keys in any case and ignores unknown fields", () => {
    expect(parseFedhubTxt(`V=fedhub1 ID=${id} Url=wss://hub.test name=alice future=1`)).toEqual({ id, url: "wss://hub.test" })
  })

  it("round-trips formatFedhubTxt", () => {
    expect(parseFedhubTxt(formatFedhubTxt({ id, url: "http://[::1]:8080/" }))).toEqual({ id, url: "http://[::1]:8080/" })
  })

  it.each([
    ["", /missing v=fedhub1/],
    [`id=${id} url=http://h.test`, /missing v=fedhub1/],
    [`v=fedhub2 id=${id} url=http://h.test`, /unsupported version v=fedhub2/],
    [`v=fedhub1 url=http://h.test`, /missing id=/],
    [`v=fedhub1 id=fh1abc url=http://h.test`, /not a fedhub node id/],
    [`v=fedhub1 id=${id.toUpperCase()} url=http://h.test`, /not a fedhub node id/],
    [`v=fedhub1 id=${id}`, /missing url=/],
    [`v=fedhub1 id=${id} url=ftp://h.test`, /scheme ftp/],
    [`v=fedhub1 id=${id} url=/relative`, /not an absolute URL/],
    [`v=fedhub1 id=${id} url=http://user:pw@h.test`, /credentials/],
    [`v=fedhub1 id=${id} url=http://a.test url=http://b.test`, /url= appears twice/],
    [`v=fedhub1 id=${id} url=http://h.test garbage`, /"garbage" is not key=value/],
    [`v=fedhub1 id=${id} url=http://h.test =x`, /is not key=value/],
    [`v=fedhub1 id=${id} url=http://h.test/${"x".repeat(3000)}`, /at most 2048 characters/],
  ])("refuses %j", (text, detail) => {
    expect(() => parseFedhubTxt(text)).toThrow(expect.toSatisfy(invalid(detail)))
  })

  it("refuses a non-string", () => {
    expect(() => parseFedhubTxt(42 as unknown as string)).toThrow(expect.toSatisfy(invalid(/is a string/)))
  })

  it("formatFedhubTxt refuses what would not parse back", () => {
    expect(() => formatFedhubTxt({ id: "nope", url: "http://h.test" })).toThrow(expect.toSatisfy(invalid(/node id/)))
    expect(() => formatFedhubTxt({ id, url: "http://h.test/a b" })).toThrow(expect.toSatisfy(invalid(/whitespace/)))
    expect(() => formatFedhubTxt({ id, url: "mailto:x@h.test" })).toThrow(expect.toSatisfy(invalid(/scheme mailto/)))
  })
})
