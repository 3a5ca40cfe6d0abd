/**
 * Connection establishment: an authenticated hub-to-hub link (challenge, both
 * signatures, upgrade, join/peer) over TLS (the default: two TLS handshakes, each
 * certificate checked, the channel bound) and over plain loopback ws://, beside a bare
 * automerge-repo WebSocket connection (no authentication), all measured in the same run.
 */
import "@automerge/automerge-repo"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Repo, type PeerId } from "@automerge/automerge-repo"
import { WebSocketClientAdapter, WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { WebSocketServer } from "ws"
import { serveHub } from "../src/api/server.ts"
import { startHub } from "../src/hub/startHub.ts"
import { Identity } from "../src/identity/index.ts"
import { HubClientAdapter } from "../src/replication/HubClientAdapter.ts"
import type { NetworkAdapterInterface } from "@automerge/automerge-repo"
import { ms, printTable, quantile, time } from "./stats.ts"

const untilPeer = (adapter: NetworkAdapterInterface) =>
  new Promise<void>(resolve => adapter.once("peer-candidate", () => resolve()))

async function fedhubConnections(n: number, tls: boolean): Promise<number[]> {
  const home = await mkdtemp(join(tmpdir(), "fedhub-bench-"))
  const hub = await startHub(serveHub, { home, env: {}, flags: { port: 0, logLevel: "silent" } })
  const url = tls ? hub.url : hub.localUrl
  const me = Identity.generate("bench-client")
  const samples: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      const link = new HubClientAdapter({ url, auth: { kind: "node", identity: me, expectNodeId: hub.hub.nodeId } })
      samples.push(
        await time(async () => {
          const up = untilPeer(link)
          link.connect(me.nodeId as string as PeerId)
          await up
        }),
      )
      link.disconnect()
    }
  } finally {
    await hub.stop()
    await rm(home, { recursive: true, force: true })
  }
  return samples
}

async function bareConnections(n: number): Promise<number[]> {
  const server = createServer()
  const wss = new WebSocketServer({ server })
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve))
  const repo = new Repo({ network: [new WebSocketServerAdapter(wss as never)], peerId: "bare-server" as PeerId })
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
  const samples: number[] = []
  for (let i = 0; i < n; i++) {
    const client = new WebSocketClientAdapter(url, 0)
    samples.push(
      await time(async () => {
        const up = untilPeer(client)
        client.connect(`bare-client-${i}` as PeerId)
        await up
      }),
    )
    client.disconnect()
  }
  await repo.shutdown()
  wss.close()
  server.closeAllConnections()
  server.close()
  return samples
}

/** Runs the connect bench and prints its table. */
export async function benchConnect(n = 100): Promise<void> {
  await fedhubConnections(5, true) // warm up every path (JIT, wasm, TLS)
  await fedhubConnections(5, false)
  await bareConnections(5)
  const tls = await fedhubConnections(n, true)
  const ours = await fedhubConnections(n, false)
  const bare = await bareConnections(n)
  const row = (label: string, s: number[]) => [label, ms(quantile(s, 0.5)), ms(quantile(s, 0.99)), ms(Math.max(...s))]
  const ratio = (label: string, a: number[], b: number[]) => [
    label,
    (quantile(a, 0.5) / quantile(b, 0.5)).toFixed(1) + "x",
    (quantile(a, 0.99) / quantile(b, 0.99)).toFixed(1) + "x",
    "",
  ]
  const rows = [
    row("fedhub hub-to-hub over TLS (wss://, default)", tls),
    row("fedhub hub-to-hub plain (ws://, loopback)", ours),
    row("baseline: bare automerge-repo ws", bare),
    ratio("ratio TLS / plain", tls, ours),
    ratio("ratio TLS / baseline", tls, bare),
    ratio("ratio plain / baseline", ours, bare),
  ]
  printTable(`connection establishment, ${n} sequential connections on loopback (target < 3 s, aim < 50 ms)`, ["", "median", "p99", "max"], rows)
}
