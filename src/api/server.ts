/**
 * The HTTP face of a hub: one Express app and the /sync WebSocket endpoint on one port.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import express from "express"
import type { Hub } from "../hub/Hub.ts"
import { FedhubError } from "../errors.ts"
import { problemHandler, sendProblem } from "./problem.ts"
import { nodeRoutes } from "./routes/node.ts"
import { docRoutes } from "./routes/docs.ts"
import { requireAdmin } from "./auth.ts"
import { federationRoutes } from "./routes/federation.ts"
import { jsonBody } from "./jsonBody.ts"
import { CHALLENGE_SUFFIX } from "../replication/handshake.ts"
import { SYNC_PATH } from "../replication/syncEndpoint.ts"

export interface Listening {
  url: string
  server: Server
  close: () => Promise<void>
}

/** Builds the Express app over a hub (no listening). */
export function buildApp(hub: Hub): express.Express {
  const app = express()
  app.disable("x-powered-by")
  const { bodyBytes, bodyDepth } = hub.config.limits
  // the unauthenticated challenge takes a small body (a ChallengeRequest is a few hundred
  // bytes); admin bodies are read only once the token checked out
  app.use(SYNC_PATH + CHALLENGE_SUFFIX, jsonBody({ maxBytes: 16 * 1024, maxDepth: 8 }))
  const body = jsonBody({ maxBytes: bodyBytes, maxDepth: bodyDepth })
  app.use(nodeRoutes(hub))
  app.use("/api/docs", requireAdmin(hub), body, docRoutes(hub))
  app.use("/api", requireAdmin(hub), body, federationRoutes(hub))
  app.use((req, res) => sendProblem(res, new FedhubError("NOT_FOUND", `no route ${req.method} ${req.path}`)))
  app.use(problemHandler(e => hub.log.error({ err: e }, "unhandled error in a route")))
  return app
}

/** Listens on host:port (0 = any free port), mounts /sync, and returns the URL. */
export async function serveHub(hub: Hub, opts: { host: string; port: number }): Promise<Listening> {
  const server = createServer(buildApp(hub))
  server.on("clientError", (_err, socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host
  const url = `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}`
  await hub.attach(server, url)
  return {
    url,
    server,
    close: async () => {
      await hub.close()
      await new Promise<void>(resolve => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}
