/** `fedhub market …` through a running hub's REST API (in process: the commander program, real hubs). */
import { generateAutomergeUrl } from "@automerge/automerge-repo"
import { afterEach, describe, expect, it, vi } from "vitest"
import { program } from "../../src/cli/program.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { hubPool, linkReaches, nextEvent } from "../helpers/hubs.ts"

const pool = hubPool()
afterEach(async () => {
  vi.restoreAllMocks()
  await pool.cleanup()
})

/** Runs `fedhub market <args> --hub <h> --token <t> --json` and returns what it printed, parsed. */
async function market(h: RunningHub, ...args: string[]): Promise<unknown> {
  const printed: string[] = []
  const spy = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void printed.push(a.join(" ")))
  try {
    await program().parseAsync(["node", "fedhub", "market", ...args, "--hub", h.url, "--token", h.hub.adminToken, "--json"])
  } finally {
    spy.mockRestore()
  }
  return JSON.parse(printed.join("\n"))
}

describe("fedhub market", () => {
  it("creates, lists, shows, joins and votes with --json; errors keep their code", async () => {
    const a = await pool.start()
    const b = await pool.start()
    await linkReaches(b.hub.dial(a.url, a.hub.nodeId), "established")
    const config = JSON.stringify({ federation: { consensusMechanism: { type: "centralized", parameters: { minimumStake: 0, votingPower: "one_node_one_vote", voteDeadlineHours: 24 } } } })
    const made = (await market(a, "create", "--name", "Personas", "--config", config)) as { url: string; owner: string }
    expect(made).toMatchObject({ name: "Personas", owner: a.hub.nodeId, visibility: "private" })
    expect(await market(a, "list")).toMatchObject({ marketplaces: [{ url: made.url, role: "owner", pending: 0 }] })
    expect(await market(b, "join", made.url, "--owner", a.hub.nodeId, "--message", "hello")).toMatchObject({ status: "pending" })
    // a records b's request (its service says so once it has)
    for (;;) {
      const next = nextEvent(a.hub.market.events, "updated", 15_000) // listening before looking
      if (!(((await market(a, "show", made.url)) as { requests: unknown[] }).requests.length === 0)) {
        next.catch(() => {})
        break
      }
      await next
    }
    expect(await market(a, "vote", made.url, b.hub.nodeId, "--approve", "--reason", "welcome")).toMatchObject({ requester: b.hub.nodeId, result: { status: "approved" } })
    expect(await market(a, "show", made.url)).toMatchObject({ participants: 2, policy: { readers: [b.hub.nodeId] } })
    await expect(market(b, "vote", generateAutomergeUrl(), a.hub.nodeId, "--approve")).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    await expect(market(a, "create", "--config", '{"economics":{"revenueSharing":{"creator":1,"marketplace":1,"network":1}}}')).rejects.toMatchObject({ code: "MARKETPLACE_CONFIG_INVALID" })
  })

  it("publishes, searches, rates, buys, updates, withdraws and shows the ledger with --json", async () => {
    const a = await pool.start()
    const b = await pool.start()
    await linkReaches(b.hub.dial(a.url, a.hub.nodeId), "established")
    const made = (await market(a, "create", "--name", "Tools", "--participant", b.hub.nodeId)) as { url: string }
    for (;;) {
      const next = nextEvent(b.hub.market.events, "updated", 15_000)
      if (await b.hub.market.show(made.url).then(() => true, () => false)) {
        next.catch(() => {})
        break
      }
      await next
    }
    const published = (await market(b, "publish", made.url, "--id", "fmt", "--title", "Formatter", "--tag", "dev", "--license", "MIT")) as { items: { globalId: string }[] }
    const gid = published.items[0]!.globalId
    expect(gid).toBe(`${b.hub.nodeId}:fmt`)
    await expect(market(b, "publish", made.url, "--id", "bad id", "--title", "x")).rejects.toMatchObject({ code: "ITEM_INVALID" })
    for (;;) {
      const next = nextEvent(a.hub.market.events, "updated", 15_000)
      if (((await market(a, "search", made.url, "format")) as { total: number }).total === 1) {
        next.catch(() => {})
        break
      }
      await next
    }
    expect(await market(a, "search", made.url, "--origin", b.hub.nodeId, "--max-price", "0")).toMatchObject({ total: 1, items: [{ globalId: gid, title: "Formatter" }] })
    await expect(market(a, "search", made.url, "--offset", "-1")).rejects.toMatchObject({ code: "INVALID_INPUT" })
    expect(await market(a, "search", made.url, "--sort", "-price", "--tag", "dev")).toMatchObject({ total: 1 })
    expect(await market(a, "rate", made.url, gid, "4.5", "--comment", "tidy")).toMatchObject({ ratings: { overallRating: 4.5, ratingCount: 1 } })
    await expect(market(a, "rate", made.url, gid, "6")).rejects.toMatchObject({ code: "SCHEMA_INVALID" })
    expect(await market(a, "buy", made.url, gid)).toMatchObject({ repeated: false })
    expect(await market(a, "buy", made.url, gid)).toMatchObject({ repeated: true })
    expect(await market(a, "ledger", made.url)).toMatchObject({ applied: [{ purchase: { payload: { itemGlobalId: gid, buyer: a.hub.nodeId } } }], equivocations: [] })
    expect(await market(b, "update", made.url, "fmt", "--set", "title=Formatter 2", "--set", "tags=[\"dev\",\"style\"]")).toMatchObject({ item: { version: 2, title: "Formatter 2", tags: ["dev", "style"] } })
    await expect(market(a, "update", made.url, "fmt", "--set", "title=Mine")).rejects.toMatchObject({ code: "NOT_ORIGIN" })
    expect(await market(b, "withdraw", made.url, "fmt")).toMatchObject({ item: { version: 3, withdrawn: true } })
    expect(await market(b, "search", made.url)).toMatchObject({ total: 0 })
    // credits, metadata
    expect(await market(a, "grant", made.url, b.hub.nodeId, "250", "--reason", "launch")).toMatchObject({ balance: 250 })
    await expect(market(b, "grant", made.url, b.hub.nodeId, "1")).rejects.toMatchObject({ code: "FORBIDDEN" })
    expect(await market(a, "edit", made.url, "tagline", "formatters")).toMatchObject({ values: { tagline: "formatters" }, conflicts: [] })
    expect(await market(a, "conflicts", made.url)).toMatchObject({ conflicts: [] })
    await expect(market(a, "conflicts", made.url, "--resolve", "tagline", "--value", "x")).rejects.toMatchObject({ code: "NOT_FOUND" })
    await expect(market(b, "edit", made.url, "tagline", "mine")).rejects.toMatchObject({ code: "NOT_AN_ADMIN" })
  })
})
