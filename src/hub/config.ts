/**
 * The hub's settings: flags > environment (FEDHUB_*) > config.json in the home >
 * built-in defaults. Every layer is checked against schemas/config.schema.json.
 */
import { readFile } from "node:fs/promises"
import { FedhubError } from "../errors.ts"
import { validate, type HubConfig } from "../schema/index.ts"
import type { HomePaths } from "./home.ts"

/** Every setting with its value decided. */
export interface ResolvedConfig {
  /** The hub's name; unset: the name given at `fedhub init`. */
  name?: string
  host: string
  port: number
  peers: string[]
  logLevel: NonNullable<HubConfig["logLevel"]>
  /** Every limit of schemas/config.schema.json `limits`, defaults filled in. */
  limits: Limits
  publicUrl?: string
  type: NonNullable<HubConfig["type"]>
  federationMode: NonNullable<HubConfig["federationMode"]>
  dataRetentionDays: number | null
  discovery: Required<Pick<NonNullable<HubConfig["discovery"]>, "dnsDomains" | "mdns" | "peerExchangeMinTrust" | "intervalMs">> &
    Pick<NonNullable<HubConfig["discovery"]>, "dnsServers" | "mdnsInterface" | "mdnsPort">
  endorsementTtlDays: number
  maxPeerRetentionDays: number | null
  requiredCapabilities: string[]
  requireEncryption: boolean
  heartbeatMs: number
  /** Where documents live (nodefs by default) and how long an unused one stays in memory. */
  storage: ResolvedStorage
  /** TLS on the hub's port (README "Encryption"). */
  tls: { enabled: boolean; cert?: string; key?: string; plain: "loopback" | "any" | "none"; ca?: string }
  /** Cross-instance sessions (config `collaboration`; the service's defaults when unset). */
  collaboration?: HubConfig["collaboration"]
}

/** config.json `storage` with its defaults filled in (`url` is set when `kind` is postgres). */
export type ResolvedStorage = NonNullable<HubConfig["storage"]> & { idleUnloadMs: number }

/** The limits of one hub, all set (see README "Limits"). */
export type Limits = Required<NonNullable<HubConfig["limits"]>>
export type { AddressScope } from "../replication/dialTarget.ts"
import type { AddressScope } from "../replication/dialTarget.ts"

export const DEFAULTS: ResolvedConfig = {
  host: "127.0.0.1",
  port: 7420,
  peers: [],
  logLevel: "info",
  limits: {
    frameBytes: 16 * 1024 * 1024,
    changeDepth: 64,
    changeOps: 200_000,
    messageOps: 1_000_000,
    bodyBytes: 1024 * 1024,
    bodyDepth: 72,
    newDocsPerMinute: 600,
    newDocsTotal: 10_000,
    untouchedPeers: 1_000,
    usedNonces: 100_000,
    peerResponseBytes: 256 * 1024,
    peerTimeoutMs: 5_000,
    dialScopes: ["loopback", "private", "public"],
  },
  type: "hub",
  federationMode: "open",
  dataRetentionDays: null,
  discovery: { dnsDomains: [], mdns: false, peerExchangeMinTrust: "basic", intervalMs: 0 },
  endorsementTtlDays: 365,
  maxPeerRetentionDays: null,
  requiredCapabilities: [],
  requireEncryption: false,
  heartbeatMs: 5_000,
  storage: { kind: "nodefs", idleUnloadMs: 0 },
  tls: { enabled: true, plain: "loopback" },
}

const ENV: Record<string, keyof HubConfig & string> = {
  FEDHUB_NAME: "name",
  FEDHUB_HOST: "host",
  FEDHUB_PORT: "port",
  FEDHUB_PEERS: "peers",
  FEDHUB_LOG_LEVEL: "logLevel",
  FEDHUB_PUBLIC_URL: "publicUrl",
  FEDHUB_TYPE: "type",
  FEDHUB_FEDERATION_MODE: "federationMode",
}

/** FEDHUB_TLS* variables: FEDHUB_TLS=0 turns TLS off; FEDHUB_TLS_CERT / FEDHUB_TLS_KEY name a CA-issued pair. */
function tlsFromEnv(env: NodeJS.ProcessEnv): HubConfig["tls"] | undefined {
  const tls: NonNullable<HubConfig["tls"]> = {}
  if (env.FEDHUB_TLS) tls.enabled = !/^(0|false|no|off)$/i.test(env.FEDHUB_TLS)
  if (env.FEDHUB_TLS_CERT) tls.cert = env.FEDHUB_TLS_CERT
  if (env.FEDHUB_TLS_KEY) tls.key = env.FEDHUB_TLS_KEY
  return Object.keys(tls).length > 0 ? tls : undefined
}

const NUMERIC = new Set<string>(["port", "dataRetentionDays"])

/** FEDHUB_* variables for limits, each a whole number. */
const LIMIT_ENV: Record<string, keyof Limits> = {
  FEDHUB_MAX_FRAME_BYTES: "frameBytes",
  FEDHUB_MAX_CHANGE_DEPTH: "changeDepth",
  FEDHUB_MAX_BODY_BYTES: "bodyBytes",
}

/** Reads FEDHUB_* variables into a partial config (numbers parsed, peers split on commas/spaces). */
export function configFromEnv(env: NodeJS.ProcessEnv): HubConfig {
  const out: Record<string, unknown> = {}
  for (const [name, key] of Object.entries(ENV)) {
    const raw = env[name]
    if (raw === undefined || raw === "") continue
    if (key === "peers") out[key] = raw.split(/[\s,]+/).filter(Boolean)
    else if (NUMERIC.has(key)) {
      if (!/^\d+$/.test(raw)) throw new FedhubError("CONFIG_INVALID", `${name} must be a whole number, got ${JSON.stringify(raw)}`)
      out[key] = Number(raw)
    } else out[key] = raw
  }
  const limits: Record<string, number> = {}
  for (const [name, key] of Object.entries(LIMIT_ENV)) {
    const raw = env[name]
    if (raw === undefined || raw === "") continue
    if (!/^\d+$/.test(raw)) throw new FedhubError("CONFIG_INVALID", `${name} must be a whole number, got ${JSON.stringify(raw)}`)
    limits[key] = Number(raw)
  }
  if (Object.keys(limits).length > 0) out.limits = limits
  const discovery: Record<string, unknown> = {}
  if (env.FEDHUB_DNS_DOMAINS) discovery.dnsDomains = env.FEDHUB_DNS_DOMAINS.split(/[\s,]+/).filter(Boolean)
  if (env.FEDHUB_DNS_SERVERS) discovery.dnsServers = env.FEDHUB_DNS_SERVERS.split(/[\s,]+/).filter(Boolean)
  if (env.FEDHUB_MDNS) discovery.mdns = /^(1|true|yes|on)$/i.test(env.FEDHUB_MDNS)
  if (Object.keys(discovery).length > 0) out.discovery = discovery
  const storage: Record<string, unknown> = {}
  if (env.FEDHUB_DATABASE_URL) Object.assign(storage, { kind: "postgres", url: env.FEDHUB_DATABASE_URL })
  if (env.FEDHUB_IDLE_UNLOAD_MS) {
    if (!/^\d+$/.test(env.FEDHUB_IDLE_UNLOAD_MS))
      throw new FedhubError("CONFIG_INVALID", `FEDHUB_IDLE_UNLOAD_MS must be a whole number, got ${JSON.stringify(env.FEDHUB_IDLE_UNLOAD_MS)}`)
    storage.idleUnloadMs = Number(env.FEDHUB_IDLE_UNLOAD_MS)
  }
  if (Object.keys(storage).length > 0) out.storage = { kind: "nodefs", ...storage }
  const tls = tlsFromEnv(env)
  if (tls) out.tls = tls
  const result = checked(out, "environment")
  // FEDHUB_IDLE_UNLOAD_MS alone does not choose a kind: the file's (or the default) stands
  if (result.storage && !env.FEDHUB_DATABASE_URL) delete (result.storage as { kind?: string }).kind
  return result
}

/** Reads and checks config.json; a missing file is an empty config. */
export async function configFromFile(paths: HomePaths): Promise<HubConfig> {
  let text: string
  try {
    text = await readFile(paths.config, "utf8")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {}
    throw e
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new FedhubError("CONFIG_INVALID", `${paths.config} is not JSON: ${(e as Error).message}`)
  }
  return checked(raw, paths.config)
}

function checked(raw: unknown, source: string): HubConfig {
  try {
    return validate<HubConfig>("config", raw)
  } catch (e) {
    const detail = e instanceof FedhubError ? e.detail : String(e)
    throw new FedhubError("CONFIG_INVALID", `${source}: ${detail}`)
  }
}

/** Merges the layers, highest precedence first is `flags`. */
export async function resolveConfig(paths: HomePaths, flags: HubConfig = {}, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedConfig> {
  const file = await configFromFile(paths)
  const fromEnv = configFromEnv(env)
  const cleanFlags = checked(dropUndefined(flags), "command line")
  const merged = { ...DEFAULTS, ...dropUndefined(file), ...dropUndefined(fromEnv), ...cleanFlags } as ResolvedConfig
  merged.tls = { ...DEFAULTS.tls, ...file.tls, ...fromEnv.tls, ...cleanFlags.tls }
  merged.discovery = { ...DEFAULTS.discovery, ...file.discovery, ...fromEnv.discovery, ...cleanFlags.discovery }
  merged.limits = { ...DEFAULTS.limits, dialScopes: defaultDialScopes(merged.host), ...file.limits, ...fromEnv.limits, ...cleanFlags.limits }
  merged.storage = { ...DEFAULTS.storage, ...file.storage, ...fromEnv.storage, ...cleanFlags.storage }
  if (merged.storage.kind === "postgres" && !merged.storage.url)
    throw new FedhubError("CONFIG_INVALID", "storage.kind is postgres but no storage.url (or FEDHUB_DATABASE_URL) is set")
  // --peer adds to the configured peers rather than hiding them
  merged.peers = [...new Set([...(file.peers ?? []), ...(fromEnv.peers ?? []), ...(cleanFlags.peers ?? [])])]
  return merged
}

const dropUndefined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T

/**
 * Where peer-supplied URLs may point by default: public addresses, plus the scope of
 * the hub's own listen host, so a hub on loopback or a private network can federate
 * there while a public hub is not turned into a probe of its own network.
 */
export function defaultDialScopes(host: string): AddressScope[] {
  const h = host.replace(/^\[|\]$/g, "")
  if (h === "localhost" || h === "::1" || h.startsWith("127.")) return ["loopback", "private", "public"]
  if (/^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|f[cd]|fe80:)/i.test(h)) return ["private", "public"]
  return ["public"]
}
