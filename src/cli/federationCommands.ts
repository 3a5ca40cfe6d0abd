/** `fedhub peers|discover|trust|endorse`: the federation core through the running hub's admin API. */
import { Command } from "commander"
import { openAdminClient } from "./adminClient.ts"
import { printResult as out, withHubOptions as common, type CommonOptions as Common } from "./options.ts"
import type { PeerView } from "../federation/FederationManager.ts"
import type { DiscoveryReport } from "../federation/discovery/runDiscovery.ts"




const short = (id: string) => `${id.slice(0, 11)}…`

/** One line per peer: id, name, trust, reputation, link state, latency, health. */
export function formatPeers(peers: PeerView[]): string {
  if (peers.length === 0) return "no peers"
  return peers
    .map(p => {
      const link = p.link ? `${p.link.direction} ${p.link.state}` : "not connected"
      const latency = p.link?.latencyMs !== undefined ? ` ${p.link.latencyMs} ms` : ""
      const health =
        p.link?.uptimePct !== undefined ? ` up ${p.link.uptimePct.toFixed(1)}% err ${((p.link.errorRate ?? 0) * 100).toFixed(1)}%` : ""
      return `${p.nodeId}  ${p.name ?? "?"}  ${p.url ?? "-"}  trust=${p.trust} rep=${p.reputation.toFixed(3)}  ${link}${latency}${health}${p.blocked ? "  BLOCKED" : ""}`
    })
    .join("\n")
}

/** What each method found, what was verified or refused and why, and how long it took. */
export function formatDiscovery(r: DiscoveryReport): string {
  const lines = [`discovery took ${r.durationMs} ms`]
  for (const m of r.methods) {
    lines.push(`  ${m.method}: ${m.found} found in ${m.durationMs} ms${m.problems.length ? `, ${m.problems.length} problem(s)` : ""}`)
    for (const p of m.problems) lines.push(`    ! ${p.source}: ${p.code}: ${p.detail}`)
  }
  for (const c of r.candidates) {
    const who = c.nodeId ?? c.claimedId ?? ""
    const why = c.status === "verified" ? "" : `: ${[c.code, c.reason].filter(Boolean).join(": ")}`
    lines.push(`  ${c.status.padEnd(8)} ${c.url} ${who ? short(who) : ""} via ${c.methods.join(",")} (${c.durationMs} ms)${why}`)
  }
  return lines.join("\n")
}

export function peersCommand(): Command {
  const peers = new Command("peers").description("the hubs this hub knows: list, add, remove, block, unblock")
  common(peers.command("list"))
    .description("known hubs with trust, reputation, link state, latency and health")
    .option("--blocked", "list the blocked ones instead")
    .action(async (o: Common & { blocked?: boolean }) => {
      const api = await openAdminClient(o)
      const list = await api.call<PeerView[]>("GET", `/peers${o.blocked ? "?blocked=true" : ""}`)
      out(o, list, () => formatPeers(list))
    })
  common(peers.command("add <url>"))
    .description("verify the hub at URL (signed descriptor + proof of key) and keep a link to it")
    .action(async (url: string, o: Common) => {
      const api = await openAdminClient(o)
      const r = await api.call<{ nodeId: string; name: string; latencyMs: number }>("POST", "/peers", { url })
      out(o, r, () => `added ${r.nodeId} (${r.name}), verified in ${r.latencyMs} ms`)
    })
  for (const [name, desc] of [
    ["remove", "forget a hub and cut the link"],
    ["block", "refuse a hub at the handshake and leave its entries out of every view"],
    ["unblock", "lift a block"],
    ["disconnect", "cut the link with a hub (it stays known; connect restores it)"],
    ["connect", "dial a known hub again"],
  ] as const) {
    common(peers.command(`${name} <nodeId>`))
      .description(desc)
      .action(async (nodeId: string, o: Common) => {
        const api = await openAdminClient(o)
        const path = name === "remove" ? `/peers/${encodeURIComponent(nodeId)}` : `/peers/${encodeURIComponent(nodeId)}/${name}`
        const r = await api.call<unknown>(name === "remove" ? "DELETE" : "POST", path)
        const done = { remove: "removed", block: "blocked", unblock: "unblocked", disconnect: "disconnected", connect: "dialing" }[name]
        out(o, r ?? { nodeId, removed: true }, () => `${done} ${nodeId}`)
      })
  }
  return peers
}

export function discoverCommand(): Command {
  return common(new Command("discover"))
    .description("run all five discovery methods now; show what each found, verified or refused, and why")
    .option("--timeout <ms>", "time budget per method", v => Number(v))
    .option("--no-connect", "do not dial the verified hubs")
    .action(async (o: Common & { timeout?: number; connect?: boolean }) => {
      const api = await openAdminClient(o)
      const r = await api.call<DiscoveryReport>("POST", "/discover", { timeoutMs: o.timeout, connect: o.connect })
      out(o, r, () => formatDiscovery(r))
    })
}

export function trustCommand(): Command {
  const trust = new Command("trust").description("trust levels: unknown < basic < verified < trusted < partner")
  common(trust.command("set <nodeId> <level>"))
    .description("set the administrator's trust: trusted, partner, or none")
    .action(async (nodeId: string, level: string, o: Common) => {
      const api = await openAdminClient(o)
      const r = await api.call<{ level: string; reason: string }>("PUT", `/trust/${encodeURIComponent(nodeId)}`, { level })
      out(o, r, () => `${nodeId}: ${r.level} (${r.reason})`)
    })
  common(trust.command("show [nodeId]"))
    .description("computed trust (and why) of one node or all, with refused endorsements")
    .action(async (nodeId: string | undefined, o: Common) => {
      const api = await openAdminClient(o)
      if (nodeId) {
        const r = await api.call<{
          level: string
          reason: string
          reputation: number
          refused: RefusedLine[]
          revoked?: RevokedLine[]
        }>("GET", `/trust/${encodeURIComponent(nodeId)}`)
        out(o, r, () =>
          [
            `${nodeId}: ${r.level} (${r.reason}), reputation ${r.reputation.toFixed(3)}`,
            ...r.refused.map(x => `  ${refusedLine(x)}`),
            ...(r.revoked ?? []).map(x => `  ${revokedLine(x)}`),
          ].join("\n"),
        )
        return
      }
      const r = await api.call<{
        levels: Record<string, { level: string; reason: string }>
        refused: RefusedLine[]
        revoked?: RevokedLine[]
        rotations?: { oldId: string; newId: string; reason: string; code?: string }[]
      }>("GET", "/trust")
      out(o, r, () =>
        [
          ...Object.entries(r.levels).map(([id, t]) => `${id}: ${t.level} (${t.reason})`),
          ...r.refused.map(refusedLine),
          ...(r.revoked ?? []).map(revokedLine),
          ...(r.rotations ?? []).map(x => `key rotation ${x.oldId || "?"} → ${x.newId || "?"}: ${x.code ? `${x.code}: ` : ""}${x.reason}`),
        ].join("\n") || "no nodes",
      )
    })
  return trust
}

interface RefusedLine {
  code: string
  detail: string
  kind?: string
}

interface RevokedLine {
  envelopeId: string
  issuer: string
  subject: string
  revokedAt: number
}

/** One refused endorsement or revocation record, with its reason. */
const refusedLine = (x: RefusedLine): string => `refused ${x.kind === "revocation" ? "revocation" : "endorsement"}: ${x.code}: ${x.detail}`

/** One endorsement withdrawn by its issuer's verified revocation. */
export const revokedLine = (x: RevokedLine): string =>
  `revoked endorsement: ${x.issuer} → ${x.subject} (${x.envelopeId.slice(0, 12)}…) at ${new Date(x.revokedAt).toISOString()}`

export function endorseCommand(): Command {
  return common(new Command("endorse").argument("<nodeId>"))
    .description("sign an endorsement of a node (makes it verified for hubs that trust this one); --revoke withdraws it")
    .option("--days <n>", "validity in days", v => Number(v))
    .option("--revoke", "revoke this hub's endorsement(s) of the node instead (signed revocation in this hub's directory)")
    .action(async (nodeId: string, o: Common & { days?: number; revoke?: boolean }) => {
      const api = await openAdminClient(o)
      if (o.revoke) {
        const r = await api.call<{ revocations: { payload: { endorsementId: string; revokedAt: number } }[] }>(
          "DELETE",
          `/endorse/${encodeURIComponent(nodeId)}`,
        )
        out(o, r, () =>
          r.revocations
            .map(x => `revoked endorsement ${x.payload.endorsementId.slice(0, 12)}… of ${nodeId} at ${new Date(x.payload.revokedAt).toISOString()}`)
            .join("\n"),
        )
        return
      }
      const r = await api.call<{ payload: { expiresAt: number } }>("POST", "/endorse", { nodeId, ttlDays: o.days })
      out(o, r, () => `endorsed ${nodeId} until ${new Date(r.payload.expiresAt).toISOString()}`)
    })
}
