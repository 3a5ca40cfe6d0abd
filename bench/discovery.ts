/**
 * Node discovery: find 100 hubs through DNS TXT records and verify each (signed
 * descriptor, then proof of key possession through the handshake), beside a
 * baseline that only fetches the same 100 descriptors over HTTP, unverified.
 * The 100 nodes run in this process as real HTTP servers with real keys, real
 * descriptors and the real handshake server.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import express from "express"
import { Identity } from "../src/identity/index.ts"
import { buildDescriptor, signDescriptor } from "../src/federation/descriptor.ts"
import { HandshakeServer, CHALLENGE_SUFFIX } from "../src/replication/handshake.ts"
import { SYNC_PATH } from "../src/replication/syncEndpoint.ts"
import { problemHandler } from "../src/api/problem.ts"
import { runDiscovery } from "../src/federation/discovery/runDiscovery.ts"
import { DnsTxtSource } from "../src/federation/discovery/dns.ts"
import { verifyCandidate } from "../src/federation/verifyCandidate.ts"
import { startTestDnsServer } from "../test/federation/discovery/dnsServer.ts"
import { ms, printTable, quantile, time } from "./stats.ts"

interface Node {
  identity: Identity
  url: string
  server: Server
}

async function startNode(i: number): Promise<Node> {
  const identity = Identity.generate(`bench-${i}`)
  const handshake = new HandshakeServer(identity)
  const app = express()
  app.use(express.json())
  const server = createServer(app)
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const descriptor = signDescriptor(
    identity,
    buildDescriptor(identity, { name: `bench-${i}`, type: "hub", federationMode: "open", dataRetentionDays: null }, {
      endpoints: [url.replace("http", "ws") + SYNC_PATH],
      startedAt: Date.now(),
    }),
  )
  app.get("/api/node", (_req, res) => void res.json(descriptor))
  app.post(SYNC_PATH + CHALLENGE_SUFFIX, (req, res) => void res.json(handshake.challenge(req.body, req.headers.host)))
  app.use(problemHandler(() => {}))
  return { identity, url, server }
}

/** Runs the discovery bench and prints its table. */
export async function benchDiscovery(n = 100, rounds = 3): Promise<void> {
  const nodes = await Promise.all(Array.from({ length: n }, (_, i) => startNode(i)))
  // ten domains of ten records: each answer fits a plain UDP DNS message
  const records: Record<string, string[]> = {}
  nodes.forEach((node, i) => {
    const name = `_fedhub._tcp.d${i % 10}.bench.test`
    ;(records[name] ??= []).push(`v=fedhub1 id=${node.identity.nodeId} url=${node.url}`)
  })
  const dns = await startTestDnsServer(records)
  const domains = Array.from({ length: 10 }, (_, i) => `d${i}.bench.test`)
  const me = Identity.generate("bench-discoverer")
  const ours: number[] = []
  const baseline: number[] = []
  let verified = 0
  try {
    for (let r = 0; r < rounds + 1; r++) {
      let report: Awaited<ReturnType<typeof runDiscovery>> | undefined
      const t = await time(async () => {
        report = await runDiscovery([new DnsTxtSource({ domains, servers: [dns.address] })], {
          verify: c => verifyCandidate(me, c),
          concurrency: 16,
        })
      })
      const b = await time(async () => {
        const found = await new DnsTxtSource({ domains, servers: [dns.address] }).discover()
        const queue = [...found.candidates]
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            for (let c = queue.shift(); c; c = queue.shift()) await (await fetch(`${c.url}/api/node`)).json()
          }),
        )
      })
      if (r === 0) continue // warm-up
      verified = report!.verified.length
      ours.push(t)
      baseline.push(b)
    }
  } finally {
    await dns.close()
    await Promise.all(nodes.map(node => new Promise(resolve => node.server.close(resolve))))
  }
  printTable(
    `node discovery: find and verify ${n} nodes via DNS TXT (target < 5 s), median of ${rounds} rounds; ${verified}/${n} verified`,
    ["", "median", "max"],
    [
      ["fedhub: DNS + signed descriptor + proof of key (handshake)", ms(quantile(ours, 0.5)), ms(Math.max(...ours))],
      ["baseline: DNS + plain GET of each descriptor, unverified", ms(quantile(baseline, 0.5)), ms(Math.max(...baseline))],
      ["ratio", (quantile(ours, 0.5) / quantile(baseline, 0.5)).toFixed(1) + "x", ""],
    ],
  )
}
