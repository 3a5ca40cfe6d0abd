/**
 * DNS discovery: hubs published as TXT records at `_fedhub._tcp.<domain>`, one
 * `v=fedhub1 id=<node id> url=<url>` record per hub. Uses Node's own resolver
 * (c-ares), optionally pointed at given servers (a private resolver, a test server).
 */
import { promises as dnsPromises } from "node:dns"
import { FedhubError } from "../../errors.ts"
import { DiscoverySourceBase, errorCode, errorMessage, parseFedhubTxt, type CollectContext } from "./types.ts"

/** The label prefix under which a domain publishes its hubs. */
export const FEDHUB_DNS_PREFIX = "_fedhub._tcp."

/** Time budget of one `discover()` when neither the source nor the call sets one. */
export const DEFAULT_DNS_TIMEOUT_MS = 5_000

/** Options of a `DnsTxtSource`. */
export interface DnsTxtSourceOptions {
  /** Domains whose `_fedhub._tcp.<domain>` TXT records list hubs. */
  domains: string[]
  /** Resolvers to ask instead of the system's, as `"127.0.0.1:5353"`, `"10.0.0.1"` or `"[::1]:53"`. */
  servers?: string[]
  /** Time budget of one `discover()` in milliseconds (default `DEFAULT_DNS_TIMEOUT_MS`). */
  timeoutMs?: number
}

const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/

/**
 * Normalizes a domain (trimmed, lowercase, no trailing dot) and checks its syntax.
 * @throws FedhubError INVALID_INPUT when it is not a domain name.
 */
export function normalizeDomain(domain: string): string {
  if (typeof domain !== "string") throw new FedhubError("INVALID_INPUT", "a discovery domain is a string")
  const d = domain.trim().toLowerCase().replace(/\.$/, "")
  if (!DOMAIN_RE.test(d)) throw new FedhubError("INVALID_INPUT", `"${domain}" is not a domain name`)
  return d
}

/** The DNS name whose TXT records list the hubs of `domain`. */
export const fedhubDnsName = (domain: string): string => FEDHUB_DNS_PREFIX + normalizeDomain(domain)

/**
 * Finds hubs in DNS TXT records (method `dns_discovery`). All domains are queried
 * in parallel with a fresh resolver per call. A malformed record or a failing
 * domain (NXDOMAIN → `ENOTFOUND`, no TXT → `ENODATA`, `ETIMEOUT`, `ECONNREFUSED`…)
 * becomes a problem whose `source` is the queried name; the other records are
 * still returned. TXT character-strings of one record are joined before parsing.
 * Candidates are de-duplicated by (node id, url).
 */
export class DnsTxtSource extends DiscoverySourceBase {
  /** Always `dns_discovery`. */
  readonly method = "dns_discovery" as const
  /** The time budget of a call that sets none (`timeoutMs` option, else `DEFAULT_DNS_TIMEOUT_MS`). */
  protected readonly defaultTimeoutMs: number
  /** The normalized, de-duplicated domains this source queries. */
  readonly domains: readonly string[]
  /** The resolvers it asks, or undefined for the system's. */
  readonly servers: readonly string[] | undefined

  /** @throws FedhubError INVALID_INPUT on a bad domain, server address or timeout. */
  constructor(opts: DnsTxtSourceOptions) {
    super()
    if (!Array.isArray(opts?.domains)) throw new FedhubError("INVALID_INPUT", "domains must be an array of domain names")
    this.domains = [...new Set(opts.domains.map(normalizeDomain))]
    if (opts.servers !== undefined) {
      if (!Array.isArray(opts.servers) || opts.servers.length === 0)
        throw new FedhubError("INVALID_INPUT", "servers, when given, is a non-empty array of addresses")
      try {
        new dnsPromises.Resolver().setServers(opts.servers)
      } catch (e) {
        throw new FedhubError("INVALID_INPUT", `bad DNS server address: ${errorMessage(e)}`)
      }
      this.servers = [...opts.servers]
    }
    this.defaultTimeoutMs = opts.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS
  }

  /** Queries every domain in parallel with a fresh resolver that `ctx.signal` cancels. */
  protected async collect(ctx: CollectContext): Promise<void> {
    const resolver = new dnsPromises.Resolver({ timeout: Math.max(1, Math.ceil(ctx.timeoutMs)), tries: 1 })
    if (this.servers) resolver.setServers([...this.servers])
    const cancel = () => resolver.cancel()
    ctx.signal.addEventListener("abort", cancel, { once: true })
    const seen = new Set<string>()
    try {
      await Promise.all(this.domains.map(domain => this.#queryDomain(ctx, resolver, FEDHUB_DNS_PREFIX + domain, seen)))
    } finally {
      ctx.signal.removeEventListener("abort", cancel)
    }
  }

  async #queryDomain(ctx: CollectContext, resolver: dnsPromises.Resolver, name: string, seen: Set<string>): Promise<void> {
    let records: string[][]
    try {
      records = await resolver.resolveTxt(name)
    } catch (e) {
      const reason = ctx.stopReason()
      if (reason === "aborted" || reason === "closed") return // the caller stopped us: not a problem of the domain
      if (reason === "timeout") {
        ctx.addProblem({ source: name, code: "ETIMEOUT", detail: `no answer for ${name} within ${ctx.timeoutMs} ms` })
        return
      }
      const code = errorCode(e) ?? "INTERNAL"
      ctx.addProblem({ source: name, code, detail: describeDnsError(code, name, e) })
      return
    }
    for (const chunks of records) {
      const text = chunks.join("")
      try {
        const { id, url } = parseFedhubTxt(text)
        const key = `${id} ${url}`
        if (seen.has(key)) continue
        seen.add(key)
        ctx.addCandidate({ url, nodeId: id, source: name })
      } catch (e) {
        ctx.addProblem({ source: name, code: errorCode(e) ?? "INVALID_INPUT", detail: errorMessage(e) })
      }
    }
  }
}

const DNS_HINTS: Record<string, string> = {
  ENOTFOUND: "no such name (NXDOMAIN)",
  ENODATA: "the name has no TXT records",
  ETIMEOUT: "the DNS server did not answer in time",
  ECONNREFUSED: "the DNS server refused the connection",
  ESERVFAIL: "the DNS server failed (SERVFAIL)",
  EREFUSED: "the DNS server refused the query",
}

function describeDnsError(code: string, name: string, e: unknown): string {
  const hint = DNS_HINTS[code]
  return hint ? `${name}: ${hint} (${errorMessage(e)})` : `${name}: ${errorMessage(e)}`
}
