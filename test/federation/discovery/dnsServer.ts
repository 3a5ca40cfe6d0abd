/**
 * A real DNS server for tests: dns2's UDP server on 127.0.0.1 (port chosen by the
 * OS) answering TXT queries from a map, NXDOMAIN for names not in it.
 */
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import type { RemoteInfo, Socket } from "node:dgram"

// dns2 ships no type declarations; describe the few parts used here.
interface Dns2Question {
  name: string
  type: number
  class: number
}
interface Dns2Packet {
  header: { rcode: number; aa: number; ra: number }
  questions: Dns2Question[]
  answers: unknown[]
}
interface Dns2UdpServer extends Socket {
  listen(port: number, address: string): Promise<void>
}
interface Dns2 {
  createUDPServer(handler: (req: Dns2Packet, send: (res: Dns2Packet) => Promise<unknown>, rinfo: RemoteInfo) => void): Dns2UdpServer
  Packet: {
    TYPE: Record<"TXT" | "ANY", number>
    CLASS: Record<"IN", number>
    createResponseFromRequest(req: Dns2Packet): Dns2Packet
  }
}
const dns2 = createRequire(import.meta.url)("dns2") as Dns2
const { Packet } = dns2

/** A TXT record: one string, or its character-strings (each up to 255 bytes). */
export type TestTxtRecord = string | string[]

/** A running test DNS server. */
export interface TestDnsServer {
  /** `"127.0.0.1:<port>"`, ready for `DnsTxtSource({ servers: [address] })`. */
  address: string
  /** How many queries it has answered. */
  readonly queries: number
  /** Stops it (resolves when the socket is closed). */
  close(): Promise<void>
}

const NXDOMAIN = 3

/** Splits a string into character-strings of at most 255 bytes. */
function chunk(s: string): Buffer[] {
  const b = Buffer.from(s, "utf8")
  const out: Buffer[] = []
  for (let i = 0; i < b.length; i += 255) out.push(b.subarray(i, i + 255))
  return out.length ? out : [Buffer.alloc(0)]
}

/**
 * Starts a UDP DNS server on 127.0.0.1:0 that answers TXT (and ANY) queries for
 * the names in `records` (case-insensitive, trailing dot optional), NODATA for
 * other types of a known name, and NXDOMAIN for unknown names. Resolves once listening.
 */
export async function startTestDnsServer(records: Record<string, TestTxtRecord[]>): Promise<TestDnsServer> {
  const table = new Map(Object.entries(records).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ""), v]))
  let queries = 0
  const server = dns2.createUDPServer((request, send) => {
    queries++
    const response = Packet.createResponseFromRequest(request)
    response.header.aa = 1
    response.header.ra = 1
    const [q] = request.questions
    const txts = q ? table.get(q.name.toLowerCase().replace(/\.$/, "")) : undefined
    if (!q || txts === undefined) response.header.rcode = NXDOMAIN
    else if (q.type === Packet.TYPE.TXT || q.type === Packet.TYPE.ANY)
      for (const t of txts)
        response.answers.push({
          name: q.name,
          type: Packet.TYPE.TXT,
          class: Packet.CLASS.IN,
          ttl: 60,
          data: (Array.isArray(t) ? t : [t]).flatMap(chunk),
        })
    send(response).catch(() => {})
  })
  server.on("error", () => {}) // a test server must not crash the run; the test then fails on its own
  server.on("requestError", () => {})
  await server.listen(0, "127.0.0.1")
  const { port } = server.address() as AddressInfo
  let closed: Promise<void> | undefined
  return {
    address: `127.0.0.1:${port}`,
    get queries() {
      return queries
    },
    close: () => (closed ??= new Promise<void>(resolve => server.close(() => resolve()))),
  }
}
