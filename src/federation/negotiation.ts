/**
 * Negotiation (DESIGN.md "Connection handshake"): two hubs agree the protocol
 * version, the intersection of their capabilities and the policies both accept,
 * or refuse saying why. Pure functions of the two offers, so both sides compute
 * the same answer; the hub injects them into the layer-2 handshake as callbacks
 * (`HandshakeServer`'s `negotiate`, `HubClientAdapter`'s `checkAgreement`).
 *
 * The server decides (`negotiate`) and signs the Agreement inside its handshake
 * proof; the client checks it against its own offer (`verifyAgreement`) and
 * signs it back in its proof.
 */
import { FedhubError } from "../errors.ts"
import { canonicalJson } from "../identity/index.ts"
import type { Agreement, FederationNode, LinkPolicies, Offer, OfferRequirements } from "../schema/index.ts"

export type { Agreement, LinkPolicies, Offer, OfferRequirements }

/** Which end of a link a side is: the client dials, the server accepts. */
export type Role = "client" | "server"

export interface NegotiationContext {
  /** Whether the link is encrypted (wss://); plain ws:// fails a side that requires encryption. */
  encrypted: boolean
  /** The role of `local` (default "server": the accepting side negotiates). */
  localRole?: Role
}

/**
 * What a peer that sends no offer (an older client, a script) is taken to offer:
 * fedhub/1 and sync only, no requirements, and — since it declares nothing — that
 * it keeps data forever, so a hub that limits retention refuses it.
 */
export const LEGACY_OFFER: Offer = {
  protocolVersions: ["fedhub/1"],
  capabilities: ["sync"],
  policies: { dataRetentionDays: null, requireEncryption: false, acceptsRelay: false },
}

/** Builds a hub's offer from its own descriptor and what it requires of peers. */
export function offerFromNode(node: FederationNode, requirements?: OfferRequirements): Offer {
  const { dataRetentionDays, requireEncryption, acceptsRelay } = node.policies
  return {
    protocolVersions: [...node.connectivity.protocolVersions],
    capabilities: [...node.services.capabilities],
    policies: { dataRetentionDays, requireEncryption, acceptsRelay },
    ...(requirements ? { requirements } : {}),
  }
}

const parseVersion = (v: string): { name: string; major: number } => {
  const slash = v.lastIndexOf("/")
  const major = Number(v.slice(slash + 1))
  return { name: slash < 0 ? v : v.slice(0, slash), major: Number.isSafeInteger(major) ? major : -1 }
}

/** Orders protocol versions: by major number ("fedhub/2" > "fedhub/1"), then by name. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a)
  const y = parseVersion(b)
  return x.major - y.major || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)
}

/** The highest version both lists hold, or undefined. */
export function highestCommonVersion(a: readonly string[], b: readonly string[]): string | undefined {
  const common = a.filter(v => b.includes(v)).sort(compareVersions)
  return common[common.length - 1]
}

/** Both offers, by role. */
interface Sides {
  client: Offer
  server: Offer
}

const other = (role: Role): Role => (role === "client" ? "server" : "client")
const days = (d: number | null): string => (d === null ? "forever" : `for ${d} day${d === 1 ? "" : "s"}`)
const list = (xs: readonly string[]): string => (xs.length === 0 ? "nothing" : xs.join(", "))

/**
 * The checks, as data: each returns the reasons (none when satisfied). Every
 * requirement applies both ways, so each check looks at both roles.
 */
const CHECKS: Record<string, (s: Sides, encrypted: boolean) => string[]> = {
  protocolVersion: s =>
    highestCommonVersion(s.client.protocolVersions, s.server.protocolVersions) === undefined
      ? [
          `no common protocol version: the client speaks ${list(s.client.protocolVersions)}; ` +
            `the server speaks ${list(s.server.protocolVersions)}`,
        ]
      : [],

  requiredCapabilities: s =>
    (["client", "server"] as const).flatMap(role => {
      const peer = other(role)
      return (s[role].requirements?.requiredCapabilities ?? []).flatMap(cap => {
        if (!s[peer].capabilities.includes(cap)) return [`the ${role} requires capability ${cap}, which the ${peer} does not offer`]
        if (!s[role].capabilities.includes(cap)) return [`the ${role} requires capability ${cap} but does not offer it itself`]
        return []
      })
    }),

  retention: s =>
    (["client", "server"] as const).flatMap(role => {
      const peer = other(role)
      const max = s[role].requirements?.maxPeerRetentionDays
      if (max === undefined || max === null) return []
      const kept = s[peer].policies.dataRetentionDays
      if (kept !== null && kept <= max) return []
      return [
        `retention policy incompatible: the ${peer} keeps peers' data ${days(kept)}, ` +
          `the ${role} accepts at most ${max} day${max === 1 ? "" : "s"}`,
      ]
    }),

  encryption: (s, encrypted) =>
    encrypted
      ? []
      : (["client", "server"] as const)
          .filter(role => s[role].policies.requireEncryption)
          .map(role => `the ${role} requires encryption, but the link is plain ws (dial wss://)`),
}

/** Every reason the two offers cannot agree (empty when they can). */
export function refusalReasons(sides: Sides, encrypted: boolean): string[] {
  return Object.values(CHECKS).flatMap(check => check(sides, encrypted))
}

const refuse = (reasons: string[]): FedhubError =>
  new FedhubError("NEGOTIATION_FAILED", reasons.join("; "), { reasons })

/**
 * Agrees a link between `local` and `remote`: the highest protocol version both
 * speak, the capabilities both offer (sorted), and both sides' policies once each
 * side's requirements hold for the other. Throws NEGOTIATION_FAILED whose detail
 * lists every reason otherwise.
 */
export function negotiate(local: Offer, remote: Offer, ctx: NegotiationContext): Agreement {
  const sides: Sides = (ctx.localRole ?? "server") === "server" ? { client: remote, server: local } : { client: local, server: remote }
  const reasons = refusalReasons(sides, ctx.encrypted)
  if (reasons.length > 0) throw refuse(reasons)
  return {
    protocolVersion: highestCommonVersion(local.protocolVersions, remote.protocolVersions)!,
    capabilities: [...new Set(local.capabilities.filter(c => remote.capabilities.includes(c)))].sort(),
    policies: { client: sides.client.policies, server: sides.server.policies },
  }
}

/**
 * The dialing side's check of the agreement a server signed: it must state our
 * policies as we offered them, use a version and capabilities we offered, and
 * meet our requirements (retention, capabilities, encryption) with the server's
 * declared policies. A server that did not negotiate (no agreement) is refused.
 */
export function verifyAgreement(local: Offer, agreement: Agreement | undefined, ctx: { encrypted: boolean }): Agreement {
  if (agreement === undefined) throw refuse(["the server did not negotiate (its proof holds no agreement)"])
  const remote: Offer = {
    protocolVersions: [agreement.protocolVersion],
    capabilities: agreement.capabilities,
    policies: agreement.policies.server,
  }
  const reasons = refusalReasons({ client: local, server: remote }, ctx.encrypted)
  if (canonicalJson(agreement.policies.client) !== canonicalJson(local.policies))
    reasons.push("the agreement misstates the client's policies")
  const foreign = agreement.capabilities.filter(c => !local.capabilities.includes(c))
  if (foreign.length > 0) reasons.push(`the agreement lists capabilities the client does not offer: ${foreign.join(", ")}`)
  if (reasons.length > 0) throw refuse(reasons)
  return agreement
}
