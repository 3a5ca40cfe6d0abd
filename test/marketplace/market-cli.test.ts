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
})
