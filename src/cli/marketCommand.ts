/** `fedhub market …`: marketplaces through the running hub's admin API (issue 13): governance, catalog, ratings, purchases, ledger. */
import { Command, Option } from "commander"
import { FedhubError } from "../errors.ts"
import { openAdminClient } from "./adminClient.ts"
import { collect, printResult as out, withHubOptions as common, type CommonOptions as Common } from "./options.ts"
import type { CatalogView, ItemView, JoinView, MarketSummary, MarketView, RequestView } from "../marketplace/MarketplaceService.ts"
import type { Ledger } from "../marketplace/ledger.ts"
import type { MetadataView } from "../marketplace/metadata.ts"
import { readFile } from "node:fs/promises"

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

const money = (n: number, currency: string) => (currency === "credits" ? `${n} credits` : `${(n / 100).toFixed(2)} ${currency}`)

/** One item: version, price, rating, sales, curation. */
export const formatItem = (i: ItemView): string =>
  [
    `${i.globalId}  v${i.item.version}${i.item.withdrawn ? " (withdrawn)" : ""}  ${i.item.type}  "${i.item.title}"  ${money(i.item.pricing.price, i.item.pricing.currency)}`,
    `  rating ${i.ratings.ratingCount === 0 ? "-" : i.ratings.overallRating.toFixed(2)} (${i.ratings.ratingCount}), ${i.sales} sale(s)${i.approved ? "" : ", pending curation"}, shard ${i.shard} manifest #${i.manifestSequence}`,
  ].join("\n")

/** A catalog page, with the shards and what was rejected. */
export const formatCatalog = (c: CatalogView): string =>
  [
    `${c.total} item(s)${c.total > c.items.length ? `, showing ${c.offset + 1}-${c.offset + c.items.length}` : ""}`,
    ...c.items.map(i => `  ${i.globalId}  ${i.type}  "${i.title}"  ${money(i.price, i.currency)}  ${i.ratingCount === 0 ? "-" : `${i.overallRating.toFixed(1)}★ (${i.ratingCount})`}`),
    ...(c.pending.length > 0 ? [`  pending curation: ${c.pending.join(" ")}`] : []),
    ...c.rejected.map(r => `  ! rejected ${r.globalId ?? ""}: ${r.reason}${r.via ? ` (via ${r.via})` : ""}`),
  ].join("\n")

/** The ledger: balances, sales, refusals and equivocations. */
export const formatLedger = (l: Ledger): string =>
  [
    "balances:",
    ...Object.entries(l.balances).sort().map(([k, v]) => `  ${k}  ${v}`),
    `${l.applied.length} credit purchase(s), ${l.external.length} paid outside`,
    ...l.applied.map(e => `  ${e.id.slice(0, 12)}  ${e.purchase.payload.buyer} bought ${e.purchase.payload.itemGlobalId} for ${e.purchase.payload.price}: creator ${e.split.creator}, marketplace ${e.split.marketplace}, network ${e.split.network}`),
    ...l.refused.map(r => `  ! refused ${r.id.slice(0, 12)}: ${r.code} ${r.reason}`),
    ...l.equivocations.map(e => `  ! equivocation: ${e.buyer} signed ${e.records.length} purchases with sequence ${e.sequence}`),
  ].join("\n")

/** A value given on the command line: JSON when it parses, else the string. */
const valueOf = (s: string): unknown => {
  try {
    return JSON.parse(s)
  } catch {
    return s
  }
}

export function marketCommand(): Command {
  const market = new Command("market").description("federated marketplaces: governance, catalog, ratings, purchases, ledger")
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
  common(market.command("publish <ref>"))
    .description("publish items (or new versions) of this hub: --file with a JSON array, or one item from the flags")
    .option("--file <path>", "a JSON file: an array of items, or { items: [...] }")
    .option("--id <itemId>", "the item's id")
    .addOption(new Option("--type <type>", "its kind").choices(["persona", "plugin", "service", "content", "dataset"]).default("plugin"))
    .option("--title <title>", "its title")
    .option("--description <text>", "what it does")
    .option("--category <id>", "a category of the marketplace")
    .option("--tag <tag>", "a tag (repeatable)", collect)
    .option("--license <id>", "its license, e.g. MIT")
    .option("--allowed <nodeId>", "a node licensed to receive it (repeatable; default every participant)", collect)
    .option("--price <n>", "price in minor units (credits, or cents); 0 is free", "0")
    .option("--currency <c>", "credits or an ISO 4217 code", "credits")
    .action(async (ref: string, o: Common & { file?: string; id?: string; type: string; title?: string; description?: string; category?: string; tag?: string[]; license?: string; allowed?: string[]; price: string; currency: string }) => {
      let items: unknown[]
      if (o.file !== undefined) {
        const parsed = valueOf(await readFile(o.file, "utf8")) as unknown
        items = Array.isArray(parsed) ? parsed : ((parsed as { items?: unknown[] } | null)?.items ?? [])
      } else {
        if (!o.id || !o.title) throw new FedhubError("INVALID_INPUT", "give --file, or at least --id and --title")
        const price = Number(o.price)
        const item = {
          itemId: o.id, type: o.type, title: o.title, description: o.description, category: o.category, tags: o.tag, license: o.license, allowedNodes: o.allowed,
          pricing: { model: price === 0 ? "free" : "one_time", price, currency: o.currency },
        }
        items = [JSON.parse(JSON.stringify(item))]
      }
      const r = await (await openAdminClient(o)).call<{ items: ItemView[] }>("POST", `/markets/${enc(ref)}/items`, { items })
      out(o, r, () => r.items.map(formatItem).join("\n"))
    })
  common(market.command("update <ref> <itemId>"))
    .description("publish a new version of this hub's item with fields changed (--set field=value, value as JSON or text; null removes)")
    .requiredOption("--set <field=value>", "a field to change (repeatable)", collect)
    .action(async (ref: string, itemId: string, o: Common & { set: string[] }) => {
      const changes: Record<string, unknown> = {}
      for (const kv of o.set) {
        const i = kv.indexOf("=")
        if (i <= 0) throw new FedhubError("INVALID_INPUT", `--set takes field=value (got ${JSON.stringify(kv)})`)
        changes[kv.slice(0, i)] = valueOf(kv.slice(i + 1))
      }
      const r = await (await openAdminClient(o)).call<ItemView>("PUT", `/markets/${enc(ref)}/items/${enc(itemId)}`, { changes })
      out(o, r, () => formatItem(r))
    })
  common(market.command("withdraw <ref> <itemId>"))
    .description("withdraw this hub's item (a new version marked withdrawn)")
    .action(async (ref: string, itemId: string, o: Common) => {
      const r = await (await openAdminClient(o)).call<ItemView>("DELETE", `/markets/${enc(ref)}/items/${enc(itemId)}`)
      out(o, r, () => formatItem(r))
    })
  common(market.command("search <ref> [text]"))
    .description("search the verified catalog: text, category, type, origin node, currency, tag, price and rating ranges, sorting, paging")
    .option("--category <id>", "a category")
    .option("--type <type>", "persona, plugin, service, content or dataset")
    .option("--origin <nodeId>", "items of one node")
    .option("--min-price <n>", "least price (minor units)")
    .option("--max-price <n>", "greatest price (minor units)")
    .option("--min-rating <stars>", "least overall rating")
    .option("--max-rating <stars>", "greatest overall rating")
    .option("--currency <c>", "credits or an ISO 4217 code")
    .option("--tag <tag>", "a tag the item carries")
    .addOption(new Option("--sort <key>", "order of the results").choices(["relevance", "price", "-price", "rating", "-rating", "title", "newest"]))
    .option("--offset <n>", "skip this many")
    .option("--limit <n>", "at most this many (default 20, at most 100)")
    .action(async (ref: string, text: string | undefined, o: Common & Record<string, string | undefined>) => {
      const q = new URLSearchParams()
      const keys = { text, category: o.category, type: o.type, origin: o.origin, currency: o.currency, tags: o.tag, minPrice: o.minPrice, maxPrice: o.maxPrice, minRating: o.minRating, maxRating: o.maxRating, sort: o.sort, offset: o.offset, limit: o.limit }
      for (const [k, v] of Object.entries(keys)) if (v !== undefined) q.set(k, v)
      const r = await (await openAdminClient(o)).call<CatalogView>("GET", `/markets/${enc(ref)}/items?${q.toString()}`)
      out(o, r, () => formatCatalog(r))
    })
  common(market.command("item <ref> <globalId>"))
    .description("one item: its verified version, ratings, sales")
    .action(async (ref: string, globalId: string, o: Common) => {
      const r = await (await openAdminClient(o)).call<ItemView>("GET", `/markets/${enc(ref)}/items/${enc(globalId)}`)
      out(o, r, () => formatItem(r))
    })
  common(market.command("approve <ref> <globalId>"))
    .description("as a curator, approve an item (or --hold it back)")
    .option("--hold", "hold it back instead")
    .action(async (ref: string, globalId: string, o: Common & { hold?: boolean }) => {
      const r = await (await openAdminClient(o)).call<ItemView>("POST", `/markets/${enc(ref)}/items/${enc(globalId)}/approval`, { approved: o.hold !== true })
      out(o, r, () => formatItem(r))
    })
  common(market.command("rate <ref> <globalId> <stars>"))
    .description("rate an item 1-5 stars in halves (one rating per node; a new one replaces this hub's earlier one)")
    .option("--comment <text>", "a review")
    .action(async (ref: string, globalId: string, stars: string, o: Common & { comment?: string }) => {
      const body = { item: globalId, stars: Number(stars), ...(o.comment === undefined ? {} : { comment: o.comment }) }
      const r = await (await openAdminClient(o)).call<ItemView>("POST", `/markets/${enc(ref)}/ratings`, body)
      out(o, r, () => formatItem(r))
    })
  common(market.command("buy <ref> <globalId>"))
    .description("buy an item as this hub (credits by default; an external method records its reference only)")
    .addOption(new Option("--payment-method <m>", "how it is paid").choices(["credits", "stripe", "paypal", "crypto"]))
    .option("--reference <ref>", "the external payment's reference")
    .action(async (ref: string, globalId: string, o: Common & { paymentMethod?: string; reference?: string }) => {
      const body = { item: globalId, ...(o.paymentMethod ? { paymentMethod: o.paymentMethod } : {}), ...(o.reference ? { externalReference: o.reference } : {}) }
      const r = await (await openAdminClient(o)).call<{ purchaseId: string; repeated: boolean; balance: number; item: ItemView }>("POST", `/markets/${enc(ref)}/purchases`, body)
      out(o, r, () => `${r.repeated ? "already bought" : "bought"} ${globalId}: purchase ${r.purchaseId}, balance ${r.balance}`)
    })
  common(market.command("ledger <ref>"))
    .description("balances, purchases and their revenue split, refused purchases, equivocations")
    .action(async (ref: string, o: Common) => {
      const r = await (await openAdminClient(o)).call<Ledger>("GET", `/markets/${enc(ref)}/ledger`)
      out(o, r, () => formatLedger(r))
    })
  common(market.command("grant <ref> <nodeId> <amount>"))
    .description("as the marketplace's owner, grant credits to a node (where credits and stakes come from)")
    .option("--reason <text>", "why")
    .action(async (ref: string, nodeId: string, amount: string, o: Common & { reason?: string }) => {
      const r = await (await openAdminClient(o)).call<{ grantId: string; balance: number }>("POST", `/markets/${enc(ref)}/grants`, { to: nodeId, amount: Number(amount), ...(o.reason === undefined ? {} : { reason: o.reason }) })
      out(o, r, () => `granted ${amount} credits to ${nodeId} (grant ${r.grantId.slice(0, 12)}); balance ${r.balance}`)
    })
  common(market.command("dispute <ref> <purchaseId>"))
    .description("as the buyer, open a dispute on a credit purchase; --vote to vote on one as an arbitrator")
    .option("--reason <text>", "what went wrong (opening) or why (voting)")
    .addOption(new Option("--vote <outcome>", "vote on dispute <purchaseId> (give the dispute id) instead").choices(["refund_buyer", "pay_seller"]))
    .action(async (ref: string, id: string, o: Common & { reason?: string; vote?: string }) => {
      const client = await openAdminClient(o)
      const r = o.vote
        ? await client.call<{ status: string; outcome: string | null; reason: string }>("POST", `/markets/${enc(ref)}/disputes/${enc(id)}/votes`, { outcome: o.vote, ...(o.reason === undefined ? {} : { reason: o.reason }) })
        : await client.call<{ status: string; outcome: string | null; reason: string; disputeId: string }>("POST", `/markets/${enc(ref)}/disputes`, { purchaseId: id, reason: o.reason ?? "disputed" })
      out(o, r, () => `dispute ${"disputeId" in r ? r.disputeId : id}: ${r.status}${r.outcome ? ` (${r.outcome})` : ""}: ${r.reason}`)
    })
  common(market.command("edit <ref> <field> <value>"))
    .description("as an owner or admin, set a metadata field (JSON value or text)")
    .action(async (ref: string, field: string, value: string, o: Common) => {
      const r = await (await openAdminClient(o)).call<MetadataView>("PUT", `/markets/${enc(ref)}/meta/${enc(field)}`, { value: valueOf(value) })
      out(o, r, () => formatMeta(r))
    })
  common(market.command("conflicts <ref>"))
    .description("metadata fields two admins set apart, with who wrote each value; --resolve <field> --value <v> keeps one")
    .option("--resolve <field>", "the field to resolve")
    .option("--value <v>", "the value to keep (one of the conflicting ones)")
    .action(async (ref: string, o: Common & { resolve?: string; value?: string }) => {
      const client = await openAdminClient(o)
      if ((o.resolve === undefined) !== (o.value === undefined)) throw new FedhubError("INVALID_INPUT", "--resolve and --value go together")
      const r = o.resolve
        ? await client.call<MetadataView>("PUT", `/markets/${enc(ref)}/meta/${enc(o.resolve)}`, { value: valueOf(o.value!), resolve: true })
        : await client.call<MetadataView>("GET", `/markets/${enc(ref)}/conflicts`)
      out(o, r, () => formatMeta(r))
    })
  return market
}

/** Metadata: each field's value and who set it, then every conflict. */
const formatMeta = (m: MetadataView): string =>
  [
    ...Object.entries(m.values).map(([k, v]) => `  ${k} = ${JSON.stringify(v)}  (${m.setBy[k]?.by ?? "?"})`),
    ...(m.conflicts.length === 0 ? ["no conflicts"] : m.conflicts.flatMap(c => [`conflict on ${c.field}:`, ...c.values.map(v => `    ${JSON.stringify(v.value)} by ${v.by ?? "?"} at ${v.time ?? "?"}${v.verified ? "" : ` (refused: ${v.reason})`}`)])),
    ...m.refused.map(r => `  ! refused edit of ${r.field} by ${r.by ?? "?"}: ${r.reason}`),
  ].join("\n")
