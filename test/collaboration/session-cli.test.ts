/** `fedhub session …` through running hubs' REST API (in process: the commander program, real hubs). */
import { afterEach, describe, expect, it, vi } from "vitest"
import { program } from "../../src/cli/program.ts"
import { Identity } from "../../src/identity/index.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { hubPool } from "../helpers/hubs.ts"
import { link, until } from "./helpers.ts"

const pool = hubPool()
afterEach(async () => {
  vi.restoreAllMocks()
  await pool.cleanup()
})

/** Runs `fedhub session <args> --hub <h> --token <t> --json` and returns each line it printed. */
async function lines(h: RunningHub, ...args: string[]): Promise<string[]> {
  const printed: string[] = []
  const spy = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void printed.push(a.join(" ")))
  try {
    await program().parseAsync(["node", "fedhub", "session", ...args, "--hub", h.url, "--token", h.hub.adminToken, "--json"])
  } finally {
    spy.mockRestore()
  }
  return printed
}
const session = async (h: RunningHub, ...args: string[]): Promise<unknown> => JSON.parse((await lines(h, ...args)).join("\n"))

describe("fedhub session", () => {
  it("creates, invites, joins, sends, tails, edits, proposes, votes, signs, verifies and closes with --json", async () => {
    const a = await pool.start()
    const b = await pool.start()
    await link(a, b)
    const made = (await session(a, "create", "--name", "Pair", "--participant", b.hub.nodeId, "--tag", "x", "--consensus")) as { url: string; documentId: string; status: string }
    // two participants: the initiator alone is half of them, so the session is active at once (the seed's rule)
    expect(made).toMatchObject({ name: "Pair", status: "active", joined: 1, configuration: { consensusRequired: true }, metadata: { tags: ["x"] } })
    await until(b, () => b.hub.sessions.invites().invites.length, n => n === 1, "B is invited")
    expect(await session(b, "invites")).toMatchObject({ invites: [{ documentId: made.documentId, myStatus: "invited" }] })
    await expect(session(b, "send", made.url, "not yet")).rejects.toMatchObject({ code: "NOT_A_PARTICIPANT" })
    expect(await session(b, "join", made.url)).toMatchObject({ status: "active", joined: 2 })
    await until(a, () => a.hub.sessions.show(made.url), v => v.status === "active", "active on A")
    expect(await session(a, "list")).toMatchObject({ sessions: [{ documentId: made.documentId, status: "active", role: "initiator" }] })

    // tail on A follows what B sends
    // the stream route subscribes to the service's "updated" once it follows the channel
    const events = a.hub.sessions.events as unknown as NodeJS.EventEmitter
    const following = new Promise<void>(resolve => {
      const seen = (event: string) => {
        if (event !== "updated") return
        events.off("newListener", seen)
        resolve()
      }
      events.on("newListener", seen)
    })
    const tail = lines(a, "tail", made.url, "--count", "2", "--last", "0")
    await following
    // (sent through B's service: a second CLI run here would share the tail's console)
    await b.hub.sessions.send(made.url, { text: "one" })
    await b.hub.sessions.send(made.url, { text: "two" })
    expect((await tail).map(l => (JSON.parse(l) as { text: string }).text)).toEqual(["one", "two"])

    const doc = (await session(a, "edit", made.url, "--title", "notes", "--text", "abc")) as { documentId: string }
    expect(await session(a, "edit", made.url, doc.documentId, "--insert", "3:def")).toMatchObject({ text: "abcdef" })
    expect(await session(a, "edit", made.url, doc.documentId, "--delete", "0:1")).toMatchObject({ text: "bcdef" })
    expect(await session(a, "edit", made.url, doc.documentId, "--set", 'k={"n":1}')).toMatchObject({ data: { k: { n: 1 } } })

    const p = (await session(a, "propose", made.url, "Go")) as { proposalId: string }
    expect(await session(a, "vote", made.url, p.proposalId, "--approve")).toMatchObject({ status: "pending", tally: { yes: 1, eligible: 2 } })
    const ag = (await session(a, "sign", made.url, "--title", "Deal", "--text", "We agree.")) as { agreementId: string }
    await until(b, () => b.hub.sessions.agreements(made.url), v => v.agreements.length === 1, "B has the agreement")
    expect(await session(b, "sign", made.url, ag.agreementId)).toMatchObject({ complete: true })
    expect(await session(b, "verify", made.url, ag.agreementId)).toMatchObject({ matchesSession: true, signatures: [{ verified: true }, { verified: true }] })
    const altered = (await session(b, "verify", made.url, ag.agreementId, "--text", "We agree!")) as { signatures: { verified: boolean }[] }
    expect(altered.signatures.map(s => s.verified)).toEqual([false, false])

    expect(await session(a, "pause", made.url)).toMatchObject({ status: "paused" })
    expect(await session(a, "resume", made.url)).toMatchObject({ status: "active" })
    expect(await session(a, "close", made.url, "--reason", "done")).toMatchObject({ status: "completed" })
    await until(b, () => b.hub.sessions.show(made.url), v => v.status === "completed", "B sees the session closed")
    await expect(session(b, "send", made.url, "late")).rejects.toMatchObject({ code: "SESSION_STATE" })
    await expect(session(a, "create", "--participant", "fh1nope")).rejects.toMatchObject({ code: "SCHEMA_INVALID" })
    await expect(session(a, "create", "--participant", Identity.generate().nodeId)).rejects.toMatchObject({ code: "SESSION_INVALID", detail: expect.stringMatching(/not a known node/) })
    await expect(session(a, "show", "4NMNnkMTrpx5ki1lmWqwGnSaRdLk")).rejects.toMatchObject({ code: expect.stringMatching(/DOC_NOT_FOUND|BAD_DOC_URL/) })
  })

  it("invites a participant later: the initiator only, in a restricted session only with an approved decision; a bad body changes nothing", async () => {
    const [a, b, c] = [await pool.start(), await pool.start(), await pool.start()]
    await link(a, b)
    await link(a, c)
    const made = (await session(a, "create", "--name", "Closed", "--participant", b.hub.nodeId, "--privacy", "restricted")) as { url: string; documentId: string }
    await until(b, () => b.hub.sessions.invites().invites.length, n => n === 1, "B is invited")
    await session(b, "join", made.url)
    await until(a, () => a.hub.sessions.show(made.url), v => v.joined === 2, "A sees B join")
    await expect(session(b, "invite", made.url, c.hub.nodeId)).rejects.toMatchObject({ code: "NOT_AN_ADMIN" })
    await expect(session(a, "invite", made.url, `${c.hub.nodeId}:observer`)).rejects.toMatchObject({ code: "SESSION_INVALID", detail: expect.stringMatching(/approved decision/) })
    // hostile bodies over HTTP: refused with a typed error, nothing written
    for (const bad of [{ participant: "fh1nope" }, { participant: c.hub.nodeId, extra: 1 }, { participant: { nodeId: c.hub.nodeId, role: "initiator" } }, {}]) {
      const res = await fetch(`${a.localUrl}/api/sessions/${encodeURIComponent(made.url)}/invites`, { method: "POST", headers: { authorization: `Bearer ${a.hub.adminToken}`, "content-type": "application/json" }, body: JSON.stringify(bad) })
      expect(res.status, JSON.stringify(bad)).toBe(400)
      expect(((await res.json()) as { code: string }).code).toBe("SCHEMA_INVALID")
    }
    expect((await a.hub.sessions.show(made.url)).participants).toBe(2)

    const p = (await session(a, "propose", made.url, `invite ${c.hub.nodeId}`)) as { proposalId: string }
    await until(b, () => b.hub.sessions.show(made.url), v => v.decisions.length === 1, "B sees the proposal")
    await session(a, "vote", made.url, p.proposalId, "--approve")
    await session(b, "vote", made.url, p.proposalId, "--approve")
    await until(a, () => a.hub.sessions.show(made.url), v => v.decisions[0]?.status === "approved", "approved on A")
    const widened = (await session(a, "invite", made.url, `${c.hub.nodeId}:observer`, "--decision", p.proposalId)) as { participants: number; participantList: { nodeId: string; role: string; status: string }[] }
    expect(widened.participants).toBe(3)
    expect(widened.participantList[2]).toMatchObject({ nodeId: c.hub.nodeId, role: "observer", status: "invited" })
    await expect(session(a, "invite", made.url, c.hub.nodeId, "--decision", p.proposalId)).rejects.toMatchObject({ code: "SESSION_INVALID", detail: expect.stringMatching(/takes part already/) })
    await until(c, () => c.hub.sessions.invites().invites.length, n => n === 1, "C is invited")
    expect(await session(c, "join", made.url)).toMatchObject({ role: "observer", myStatus: "joined", participants: 3 })
  })
})
