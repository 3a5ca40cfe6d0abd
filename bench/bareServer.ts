/**
 * Baseline server for the peers bench, run as its own process: a bare automerge-repo
 * sync server (stock WebSocketServerAdapter over `ws`, no authentication, no storage)
 * with GET /healthz giving the same memory/cpu fields as a hub's. Prints
 * `bare listening on http://127.0.0.1:<port>` once it listens.
 */
import "@automerge/automerge-repo"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Repo, type PeerId } from "@automerge/automerge-repo"
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { WebSocketServer } from "ws"

const server = createServer((req, res) => {
  if (req.url !== "/healthz") {
    res.statusCode = 404
    res.end()
    return
  }
  const mem = process.memoryUsage()
  const cpu = process.cpuUsage()
  res.setHeader("content-type", "application/json")
  res.end(
    JSON.stringify({
      status: "ok",
      peers: wss.clients.size,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
      cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000 },
    }),
  )
})
const wss = new WebSocketServer({ server })
const repo = new Repo({ network: [new WebSocketServerAdapter(wss as never)], peerId: "bare-server" as PeerId })

server.listen(0, "127.0.0.1", () => console.log(`bare listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`))

const stop = () => {
  void repo.shutdown().finally(() => {
    wss.close()
    server.closeAllConnections()
    server.close(() => process.exit(0))
  })
  setTimeout(() => process.exit(0), 2_000).unref()
}
process.once("SIGTERM", stop)
process.once("SIGINT", stop)
