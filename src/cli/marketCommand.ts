/** `fedhub market create|list|show|join|vote`: marketplaces through the running hub's admin API (issue 13). */
import { Command, Option } from "commander"
import { FedhubError } from "../errors.ts"
import { openAdminClient } from "./adminClient.ts"
import { collect, printResult as out, withHubOptions as common, type CommonOptions as Common } from "./options.ts"
import type { JoinView, MarketSummary, MarketView, RequestView } from "../marketplace/MarketplaceService.ts"



const enc = (ref: string) => encodeURIComponent(ref)

const formatRequest = (r: RequestView): string => {
  const t = r.result.tally
  const lines = [`  ${r.requester}  ${r.result.status}  yes ${t.yes} / no ${t.no} of ${t.eligible}: ${r.result.reason}${r.message ? `  "${r.message}"` : ""}`]
  for (const v of r.result.refusedVotes) lines.push(`    refused vote ${v.id.slice(0, 12)} by ${v.voter ?? "?"}: ${v.reason}`)
  return lines.join("\n")
}

/** A marketplace: name, owner, policy, participants, requests and their votes. */
export function formatMarket(m: MarketView): string {
  return [
    `${m.url}  ${m.name ?? "?"} (${m.visibility ?? "?"}), owner ${m.owner ?? "?"}, this hub: ${m.role}`,
    ...m.configProblems.map(p => `  ! config: ${p}`),
    `  participants (${m.participants}): ${m.participantList.map(p => p.nodeId).join(" ")}`,
    ...m.unconfirmedParticipants.map(n => `  ! ${n} is named a participant in the document but the policy does not admit it`),
    `  readers: ${m.policy.readers.join(" ") || "-"}`,
    ...(m.requests.length === 0 ? ["  no join requests"] : ["  join requests:", ...m.requests.map(formatRequest)]),
    ...m.refusedRequests.map(r => `  ! refused request under ${r.key}: ${r.reason}`),
  ].join("\n")
}

const formatJoin = (j: JoinView) => `${j.marketplace}  owner ${j.owner}  ${j.status}: ${j.reason}`

export function marketCommand(): Command {
  const market = new Command("market").description("federated marketplaces: create, list, show, join, vote")
  common(market.command("create"))
    .description("create a marketplace owned by this hub (the seed's defaults; --config for any part of the config)")
    .option("--name <name>", "its name (default: this hub's name + ' marketplace')")
    .option("--description <text>", "what it is for")
    .addOption(new Option("--visibility <v>", "public: every hub reads it; private: participants only").choices(["public", "private"]))
    .option("--participant <nodeId>", "a node admitted from the start (repeatable)", collect)
    .option("--config <json>", "a JSON object laid over the default config (federation, catalog, economics, …)")
    .action(async (o: Common & { name?: string; description?: string; visibility?: string; participant?: string[]; config?: string }) => {
      let config: unknown
      if (o.config !== undefined) {
        try {
          config = JSON.parse(o.config)
        } catch (e) {
          throw new FedhubError("INVALID_INPUT", `--config must be a JSON object: ${(e as Error).message}`)
        }
      }
      const body = { name: o.name, description: o.description, visibility: o.visibility, participants: o.participant, config }
      const made = await (await openAdminClient(o)).call<MarketView>("POST", "/markets", JSON.parse(JSON.stringify(body)))
      out(o, made, () => formatMarket(made))
    })
  common(market.command("list"))
    .description("the marketplaces this hub holds, and the join requests it sent")
    .action(async (o: Common) => {
      const list = await (await openAdminClient(o)).call<{ marketplaces: MarketSummary[]; joining: JoinView[] }>("GET", "/markets")
      out(o, list, () =>
        [
          ...(list.marketplaces.length === 0 ? ["no marketplaces"] : list.marketplaces.map(m => `${m.url}  ${m.name ?? "?"} (${m.visibility ?? "?"})  ${m.role}  ${m.participants} participant(s), ${m.pending} pending`)),
          ...list.joining.map(j => `asked to join ${formatJoin(j)}`),
        ].join("\n"),
      )
    })
  common(market.command("show <ref>"))
    .description("one marketplace: config summary, participants, policy, join requests with their votes")
    .action(async (ref: string, o: Common) => {
      const m = await (await openAdminClient(o)).call<MarketView>("GET", `/markets/${enc(ref)}`)
      out(o, m, () => formatMarket(m))
    })
  common(market.command("join <ref>"))
    .description("ask to join a marketplace: a signed request sent to its owner only")
    .requiredOption("--owner <nodeId>", "the marketplace's owner (shown by `market show` on its hub)")
    .option("--message <text>", "why this hub wants to join")
    .action(async (ref: string, o: Common & { owner: string; message?: string }) => {
      const j = await (await openAdminClient(o)).call<JoinView>("POST", `/markets/${enc(ref)}/join`, { owner: o.owner, ...(o.message === undefined ? {} : { message: o.message }) })
      out(o, j, () => formatJoin(j))
    })
  common(market.command("vote <ref> <requester>"))
    .description("as a participant, sign a vote on a node's join request")
    .addOption(new Option("--approve", "vote yes").conflicts("refuse"))
    .addOption(new Option("--refuse", "vote no"))
    .option("--reason <text>", "why")
    .action(async (ref: string, requester: string, o: Common & { approve?: boolean; refuse?: boolean; reason?: string }) => {
      if (!o.approve && !o.refuse) throw new FedhubError("INVALID_INPUT", "say --approve or --refuse")
      const key = /^[0-9a-f]{64}$/.test(requester) ? "requestId" : "requester"
      const body = { [key]: requester, approve: o.approve === true, ...(o.reason === undefined ? {} : { reason: o.reason }) }
      const r = await (await openAdminClient(o)).call<RequestView>("POST", `/markets/${enc(ref)}/votes`, body)
      out(o, r, () => formatRequest(r).trimStart())
    })
  return market
}
