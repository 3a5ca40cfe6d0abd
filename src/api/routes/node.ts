/** Public routes: health, the signed node descriptor, and the handshake challenge. */
import { Router } from "express"
import type { Hub } from "../../hub/Hub.ts"
import { CHALLENGE_SUFFIX } from "../../replication/handshake.ts"
import { SYNC_PATH } from "../../replication/syncEndpoint.ts"
import { serverTlsView } from "../../replication/tlsLink.ts"
import { FedhubError } from "../../errors.ts"

export function nodeRoutes(hub: Hub): Router {
  const r = Router()
  r.get("/healthz", (_req, res) => {
    const mem = process.memoryUsage()
    const cpu = process.cpuUsage()
    res.json({
      status: "ok",
      nodeId: hub.nodeId,
      uptimeMs: Date.now() - hub.startedAt,
      peers: hub.server.connections().length,
      links: hub.links().map(l => ({ url: l.url, state: l.state })),
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
      cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000 },
    })
  })
  r.get("/api/node", (_req, res) => {
    res.json(hub.descriptor())
  })
  r.post(SYNC_PATH + CHALLENGE_SUFFIX, async (req, res) => {
    const tls = serverTlsView(req.socket)
    if (hub.config.requireEncryption && !tls.encrypted)
      throw new FedhubError("PLAINTEXT_REFUSED", "this hub accepts hub links over TLS only (dial wss://)")
    // the shared form: with several processes of one identity, nonces are claimed in their database
    res.json(await hub.handshake.challengeShared(req.body, req.headers.host, Date.now(), tls))
  })
  return r
}
