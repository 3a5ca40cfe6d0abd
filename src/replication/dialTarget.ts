/**
 * Which addresses this hub may dial or fetch from. A URL learned from a peer (a
 * directory, peer exchange, DNS, mDNS) could point anywhere — at this host's admin
 * ports, at the LAN, at a cloud metadata service — so every outgoing connection to
 * a peer-supplied URL is checked against a rule of allowed address scopes first:
 *
 * - `loopback`: 127.0.0.0/8, ::1, and the unspecified 0.0.0.0/8 and :: (they reach this host);
 * - `private`: RFC 1918 (10/8, 172.16/12, 192.168/16), shared 100.64/10, link-local
 *   169.254/16 and fe80::/10, ULA fc00::/7, site-local fec0::/10, and every multicast,
 *   broadcast or reserved range (not the public internet either);
 * - `public`: everything else.
 *
 * A hostname is resolved (node:dns `lookup`, every address) and refused if any of its
 * addresses is outside the allowed scopes, so a name cannot hide a loopback address
 * behind a public one. `guardedLookup` does the same check inside the connection's own
 * lookup, so the address checked is the address connected to (no DNS rebinding gap).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns"
import { BlockList, isIP, type LookupFunction } from "node:net"
import { FedhubError } from "../errors.ts"
import type { HubConfig } from "../schema/index.ts"

/** An address scope, as `limits.dialScopes` in schemas/config.schema.json names them. */
export type AddressScope = NonNullable<NonNullable<HubConfig["limits"]>["dialScopes"]>[number]

/** Every scope: what the functions here allow when no rule is given. */
export const ALL_SCOPES: readonly AddressScope[] = ["loopback", "private", "public"]

/** Resolves a hostname to all its addresses (node:dns `lookup` with `all: true` by default). */
export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>

/** Which addresses may be dialed. */
export interface DialRule {
  /** Allowed scopes (default: all of them). */
  allow?: readonly AddressScope[]
  /** Resolver of hostnames (default: node:dns `lookup`, all addresses, as the OS resolves them). */
  resolve?: ResolveAll
}

const systemResolve: ResolveAll = hostname =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  )

function blockList(v4: [string, number][], v6: [string, number][]): BlockList {
  const b = new BlockList()
  for (const [net, prefix] of v4) b.addSubnet(net, prefix, "ipv4")
  for (const [net, prefix] of v6) b.addSubnet(net, prefix, "ipv6")
  return b
}

const LOOPBACK = blockList(
  [["127.0.0.0", 8], ["0.0.0.0", 8]],
  [["::1", 128], ["::", 128]],
)
const PRIVATE = blockList(
  [
    ["10.0.0.0", 8],
    ["172.16.0.0", 12],
    ["192.168.0.0", 16],
    ["100.64.0.0", 10],
    ["169.254.0.0", 16],
    ["192.0.0.0", 24],
    ["198.18.0.0", 15],
    ["224.0.0.0", 4], // multicast
    ["240.0.0.0", 4], // reserved, broadcast
  ],
  [
    ["fc00::", 7],
    ["fe80::", 10],
    ["fec0::", 10],
    ["ff00::", 8],
  ],
)

/** The IPv4 address embedded in an IPv4-mapped (::ffff:a.b.c.d), -compatible or NAT64 IPv6 address. */
function embeddedV4(ip: string): string | undefined {
  const m = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (m) return m[1]
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip)
  if (!hex) return undefined
  const hi = parseInt(hex[1]!, 16)
  const lo = parseInt(hex[2]!, 16)
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
}

/**
 * The scope of one IP address (IPv4 or IPv6, IPv4-mapped ones by their IPv4 part).
 * @throws FedhubError INVALID_INPUT when `ip` is not an IP address.
 */
export function addressScope(ip: string): AddressScope {
  const bare = ip.replace(/^\[|\]$/g, "").replace(/%.*$/, "")
  const family = isIP(bare)
  if (family === 0) throw new FedhubError("INVALID_INPUT", `not an IP address: ${JSON.stringify(ip)}`)
  if (family === 6) {
    const v4 = embeddedV4(bare)
    if (v4 && bare !== "::" && bare !== "::1") return addressScope(v4)
  }
  const type = family === 4 ? "ipv4" : "ipv6"
  if (LOOPBACK.check(bare, type)) return "loopback"
  if (PRIVATE.check(bare, type)) return "private"
  return "public"
}

/** Refuses `address` (ADDRESS_NOT_ALLOWED) unless its scope is allowed. */
function assertAllowed(address: string, allow: readonly AddressScope[], what: string): void {
  const scope = addressScope(address)
  if (!allow.includes(scope))
    throw new FedhubError("ADDRESS_NOT_ALLOWED", `${what} resolves to ${address} (${scope}); this hub may dial only ${allow.join(", ") || "nothing"}`, {
      address,
      scope,
    })
}

/** The host of a URL without IPv6 brackets. */
const hostOf = (u: URL): string => u.hostname.replace(/^\[|\]$/g, "")

/**
 * Checks where `url` points before anything connects to it: its host (an IP literal,
 * or every address its name resolves to) must lie in the rule's allowed scopes.
 * Returns the checked addresses. Export for every dialer of peer-supplied URLs.
 * @throws FedhubError ADDRESS_NOT_ALLOWED (403), INVALID_INPUT for a bad URL, HUB_UNREACHABLE when the name does not resolve.
 */
export async function checkDialTarget(url: string, rule: DialRule = {}): Promise<string[]> {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new FedhubError("INVALID_INPUT", `not a URL: ${JSON.stringify(url)}`)
  }
  const host = hostOf(u)
  if (host === "") throw new FedhubError("INVALID_INPUT", `${url} has no host`)
  return resolveChecked(host, rule)
}

async function resolveChecked(host: string, rule: DialRule): Promise<string[]> {
  const allow = rule.allow ?? ALL_SCOPES
  if (isIP(host)) {
    assertAllowed(host, allow, host)
    return [host]
  }
  let addresses: LookupAddress[]
  try {
    addresses = await (rule.resolve ?? systemResolve)(host)
  } catch (e) {
    throw new FedhubError("HUB_UNREACHABLE", `${host} does not resolve: ${(e as Error).message}`)
  }
  if (addresses.length === 0) throw new FedhubError("HUB_UNREACHABLE", `${host} resolves to no address`)
  for (const a of addresses) assertAllowed(a.address, allow, host)
  return addresses.map(a => a.address)
}

/**
 * A `lookup` for node:http / https / net / ws options that resolves every address of
 * the name, refuses the connection (ADDRESS_NOT_ALLOWED) if any is outside the rule,
 * and hands the checked addresses to the socket: what is checked is what is dialed.
 * Node does not call `lookup` for IP-literal hosts: check those with `checkDialTarget`.
 */
export function guardedLookup(rule: DialRule = {}): LookupFunction {
  return (hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    resolveChecked(hostname, rule).then(
      addresses => {
        const all = addresses.map(address => ({ address, family: isIP(address) }))
        const wanted = options.family === 4 || options.family === 6 ? all.filter(a => a.family === options.family) : all
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no IPv${String(options.family)} address`), { code: "ENOTFOUND" }), "", undefined)
          return
        }
        if (options.all) callback(null, wanted)
        else callback(null, wanted[0]!.address, wanted[0]!.family)
      },
      (e: unknown) => callback(e as NodeJS.ErrnoException, "", undefined),
    )
  }
}
