/**
 * Connection establishment: an authenticated hub-to-hub link (challenge, both
 * signatures, upgrade, join/peer) beside a bare automerge-repo WebSocket connection
 * (no authentication) measured in the same run, on loopback.
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

async function fedhubConnections(n: number): Promise<number[]> {
  const home = await mkdtemp(join(tmpdir(), "fedhub-bench-"))
  const hub = await startHub(serveHub, { home, env: {}, flags: { port: 0, logLevel: "silent" } })
  const me = Identity.generate("bench-client")
  const samples: number[] = []
  try {
    for (let i = 0; i < n; i++) {
      const link = new HubClientAdapter({ url: hub.url, auth: { kind: "node", identity: me, expectNodeId: hub.hub.nodeId } })
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
  await fedhubConnections(5) // warm up both paths (JIT, wasm)
  await bareConnections(5)
  const ours = await fedhubConnections(n)
  const bare = await bareConnections(n)
  const rows = [
    ["fedhub authenticated hub-to-hub", ms(quantile(ours, 0.5)), ms(quantile(ours, 0.99)), ms(Math.max(...ours))],
    ["baseline: bare automerge-repo ws", ms(quantile(bare, 0.5)), ms(quantile(bare, 0.99)), ms(Math.max(...bare))],
    ["ratio fedhub / baseline", (quantile(ours, 0.5) / quantile(bare, 0.5)).toFixed(1) + "x", (quantile(ours, 0.99) / quantile(bare, 0.99)).toFixed(1) + "x", ""],
  ]
  printTable(`connection establishment, ${n} sequential connections on loopback (target < 3 s, aim < 50 ms)`, ["", "median", "p99", "max"], rows)
}
