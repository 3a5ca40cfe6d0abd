/**
 * Starting and stopping one hub process's worth of parts; shared by `fedhub start`,
 * tests and benches so they all run the same thing.
 */
import type { Logger } from "pino"
import { syncEndpoint } from "../replication/handshake.ts"
import { Hub } from "./Hub.ts"
import { resolveConfig, type ResolvedConfig } from "./config.ts"
import { claimHome, releaseHome, resolveHome, type HomePaths } from "./home.ts"
import { createLogger } from "./logger.ts"
import type { HubConfig } from "../schema/index.ts"

export interface HubServerFactory {
  (hub: Hub, opts: { host: string; port: number }): Promise<{ url: string; localUrl?: string; close: () => Promise<void>; current?: () => Hub }>
}

export interface RunningHub {
  /** The hub served now (a key rotation reopens it under its new key: read it again after one). */
  readonly hub: Hub
  /** The hub's URL (https:// with TLS, the default): what other hubs dial. */
  url: string
  /** Plain http:// on loopback for local clients (CLI, dashboard, tests), when plain is open to them. */
  localUrl: string
  config: ResolvedConfig
  paths: HomePaths
  stop: () => Promise<void>
}

/**
 * Opens the hub of a home, serves it, dials its configured peers and claims the home.
 * `serve` is the HTTP face (api/serveHub), passed in so this layer stays below api/.
 */
export async function startHub(
  serve: HubServerFactory,
  opts: { home?: string; flags?: HubConfig; env?: NodeJS.ProcessEnv; log?: Logger } = {},
): Promise<RunningHub> {
  const paths = resolveHome(opts.home, opts.env ?? process.env)
  const config = await resolveConfig(paths, opts.flags ?? {}, opts.env ?? process.env)
  const log = opts.log ?? createLogger(config.logLevel)
  const hub = await Hub.open(paths, config, log)
  let listening: Awaited<ReturnType<HubServerFactory>>
  try {
    listening = await serve(hub, { host: config.host, port: config.port })
  } catch (e) {
    await hub.close()
    throw e
  }
  const url = listening.url
  await claimHome(paths, { pid: process.pid, url, nodeId: hub.nodeId, startedAt: hub.startedAt })
  // configured and manual peers are dialed, except those an administrator disconnected or blocked
  const cut = hub.federation.registry.list().filter(n => n.blocked || n.disconnected)
  for (const peer of config.peers) if (!cut.some(n => n.url && sameEndpoint(n.url, peer))) hub.dial(peer)
  for (const n of hub.federation.registry.list()) if (n.manual && !n.blocked && !n.disconnected && n.url) hub.dial(n.url, n.nodeId)
  const discovery = config.discovery
  const current = (): Hub => listening.current?.() ?? hub
  const discoverNow = () =>
    void current().federation.discover().catch(e => log.warn({ err: (e as Error).message }, "discovery failed"))
  if (discovery.dnsDomains.length > 0 || discovery.mdns) discoverNow()
  const timer = discovery.intervalMs > 0 ? setInterval(discoverNow, discovery.intervalMs) : undefined
  timer?.unref()
  let stopping: Promise<void> | undefined
  return {
    get hub() {
      return current()
    },
    url,
    localUrl: listening.localUrl ?? url,
    config,
    paths,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(timer)
        await listening.close()
        await releaseHome(paths)
        log.info("hub stopped")
      })()),
  }
}

const sameEndpoint = (a: string, b: string): boolean => {
  try {
    return syncEndpoint(a) === syncEndpoint(b)
  } catch {
    return false
  }
}
