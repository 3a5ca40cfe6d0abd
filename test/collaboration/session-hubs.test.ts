/**
 * Sessions across real hubs (issue 14): A starts a session with B and C; the invitation
 * reaches them (also C when it was offline), B joins, C declines, the session activates,
 * messages flow signed and in order, and a federated outsider D learns nothing, even
 * knowing every document id.
 */
import { afterEach, describe, expect, it } from "vitest"
import { canonicalJson, signEnvelope } from "../../src/identity/index.ts"
import { SESSION_PURPOSE } from "../../src/collaboration/signed.ts"
import type { MessageView } from "../../src/collaboration/SessionService.ts"
import { hubPool, nextEvent } from "../helpers/hubs.ts"
import { link, until } from "./helpers.ts"

const pool = hubPool()
afterEach(pool.cleanup)

async function setup() {
  const [a, b, c, d] = [await pool.start(), await pool.start(), await pool.start(), await pool.start()]
  for (const h of [b, c, d]) await link(a, h)
  await link(b, d)
  return { a, b, c, d }
}

describe("sessions across hubs", () => {
  it("invites B and C, B joins and C declines, the session activates, and an outsider learns nothing", async () => {
    const { a, b, c, d } = await setup()
    const made = await a.hub.sessions.create({ name: "Persona jam", type: "persona_collaboration", participants: [b.hub.nodeId, { nodeId: c.hub.nodeId, role: "observer" }], tags: ["ai"], category: "research", expectedDuration: 90 })
    expect(made).toMatchObject({ status: "pending", role: "initiator", participants: 3, joined: 1, privacyLevel: "private", metadata: { tags: ["ai"], category: "research", expectedDuration: 90 } })
    expect(made.participantList.map(p => [p.role, p.status])).toEqual([["initiator", "joined"], ["participant", "invited"], ["observer", "invited"]])
    expect(made.policy.readers.sort()).toEqual([b.hub.nodeId, c.hub.nodeId].sort())

    // the invitation reaches B and C
    const onB = await until(b, () => b.hub.sessions.invites().invites, l => l.length === 1, "B sees the invitation")
    expect(onB[0]).toMatchObject({ documentId: made.documentId, initiator: a.hub.nodeId, myStatus: "invited", role: "participant" })
    await until(c, () => c.hub.sessions.invites().invites, l => l.length === 1, "C sees the invitation")

    await c.hub.sessions.decline(made.url, { reason: "busy" })
    await until(a, () => a.hub.sessions.show(made.url), v => v.participantList[2]?.status === "declined", "A sees C decline")
    expect((await a.hub.sessions.show(made.url)).status).toBe("pending")
    await b.hub.sessions.join(made.url)
    const active = await until(a, () => a.hub.sessions.show(made.url), v => v.status === "active", "the session activates on A")
    expect(active).toMatchObject({ joined: 2, reason: "2 of 3 joined" })
    expect(active.startedAt).toBe(active.participantList[1]!.joinedAt)
    expect(b.hub.sessions.invites().invites).toEqual([])

    // messages both ways, signed, in order, no duplicates
    const heardOnB: MessageView[] = []
    b.hub.sessions.events.on("message", (_s, m) => heardOnB.push(m))
    const tenth = until(b, () => heardOnB.filter(m => m.sender === a.hub.nodeId).length, n => n >= 10, "B hears A's ten messages")
    for (let i = 1; i <= 10; i++) await a.hub.sessions.send(made.url, { text: `hello ${i}` })
    await tenth
    expect(heardOnB.filter(m => m.sender === a.hub.nodeId).map(m => m.text)).toEqual(Array.from({ length: 10 }, (_, i) => `hello ${i + 1}`))
    const back = nextEvent(a.hub.sessions.events, "message")
    await b.hub.sessions.send(made.url, { text: "hi A" })
    expect((await back)[1]).toMatchObject({ sender: b.hub.nodeId, text: "hi A", sessionId: made.documentId })
    // recorded: the transcript holds all eleven, on both hubs
    await until(b, () => b.hub.sessions.messages(made.url), v => v.messages.length === 11, "B's transcript")
    const shown = await until(a, () => a.hub.sessions.show(made.url), v => v.metrics.messageCount === 11, "A counts 11 messages")
    expect(shown.metrics.dataExchanged).toBe(Array.from({ length: 10 }, (_, i) => `hello ${i + 1}`.length).reduce((x, y) => x + y, 0) + 4)
    expect(shown.channel.duplicates + shown.channel.dropped).toBe(0)

    // C declined: its hub refuses to send, and a message it signs and broadcasts anyway is dropped and counted
    await expect(c.hub.sessions.send(made.url, { text: "let me in" })).rejects.toMatchObject({ code: "NOT_A_PARTICIPANT" })
    const onC = await c.hub.docs.find(made.url)
    const forged = signEnvelope(c.hub.identity, SESSION_PURPOSE.messages, { sessionId: made.documentId, epoch: 1, messages: [{ channel: "main", seq: 1, text: "sneaky" }] })
    const dropped = nextEvent<[string, { droppedNotParticipant: number }]>(a.hub.sessions.events, "dropped")
    onC.broadcast({ fedhubSession: canonicalJson(forged) })
    expect((await dropped)[1].droppedNotParticipant).toBe(1)
    expect((await a.hub.sessions.messages(made.url)).messages.map(m => m.text)).not.toContain("sneaky")

    // D, linked to A and B, learns nothing even asking by id
    for (const id of [made.documentId, made.transcript!]) await expect(d.hub.docs.find(id)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    await expect(d.hub.sessions.show(made.documentId)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    await expect(d.hub.sessions.join(made.documentId)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    expect(d.hub.sessions.list().sessions).toEqual([])
    expect(d.hub.index.has(made.documentId) || d.hub.index.has(made.transcript!)).toBe(false)
  })

  it("a participant that was offline when invited gets the invitation and catches up on the transcript", async () => {
    const [a, b, c] = [await pool.start(), await pool.start(), await pool.start()]
    await link(a, b)
    await link(a, c)
    const left = nextEvent(c.hub.server.events, "left")
    a.hub.hangUp(c.url)
    await left
    const made = await a.hub.sessions.create({ name: "offline", participants: [b.hub.nodeId, c.hub.nodeId] })
    await until(b, () => b.hub.sessions.invites().invites.length, n => n === 1, "B sees the invitation")
    await b.hub.sessions.join(made.url)
    await until(a, () => a.hub.sessions.show(made.url), v => v.status === "active", "active")
    await a.hub.sessions.send(made.url, { text: "while C was away" })
    await b.hub.sessions.send(made.url, { text: "indeed" })
    expect(c.hub.sessions.list().sessions).toEqual([])
    await link(a, c)
    await until(c, () => c.hub.sessions.invites().invites.length, n => n === 1, "C sees the invitation on its return")
    await c.hub.sessions.join(made.url)
    const caught = await until(c, () => c.hub.sessions.messages(made.url), v => v.messages.length === 2, "C catches up")
    expect(caught.messages.map(m => [m.sender, m.text]).sort()).toEqual([[a.hub.nodeId, "while C was away"], [b.hub.nodeId, "indeed"]].sort())
    expect((await until(a, () => a.hub.sessions.show(made.url), v => v.joined === 3, "A sees C join")).participantList.every(p => p.status === "joined")).toBe(true)
  })

  it("a burst of messages goes out in a few signed batches: delivered in order, each once, recorded in the transcript", async () => {
    const [a, b] = [await pool.start(), await pool.start()]
    await link(a, b)
    const made = await a.hub.sessions.create({ name: "burst", participants: [b.hub.nodeId] })
    await until(b, () => b.hub.sessions.invites().invites.length, n => n === 1, "B is invited")
    await b.hub.sessions.join(made.url)
    await until(a, () => a.hub.sessions.show(made.url), v => v.joined === 2, "A sees B join")
    const heard: MessageView[] = []
    b.hub.sessions.events.on("message", (_s, m) => heard.push(m))
    const all = until(b, () => heard.length, n => n >= 600, "B hears the burst")
    // 600 sends in one tick: more than one batch holds (256), so several go out
    const sent = await Promise.all(Array.from({ length: 600 }, (_, i) => a.hub.sessions.send(made.url, { text: `m${i}` })))
    await all
    expect(sent.map(m => m.seq)).toEqual(sent.map((_, i) => i + 1))
    expect(heard.map(m => m.text)).toEqual(sent.map((_, i) => `m${i}`))
    expect(heard.map(m => m.id)).toEqual(sent.map(m => m.id))
    // one transcript entry per batch, every message once
    const recorded = await until(b, () => b.hub.sessions.messages(made.url), v => v.messages.length === 600, "B's transcript holds all 600")
    expect(recorded.messages.map(m => m.text)).toEqual(sent.map((_, i) => `m${i}`))
    const t = await b.hub.docs.find(made.transcript!)
    const entries = Object.keys((t.doc() as { messages: object }).messages)
    expect(entries.length).toBeGreaterThanOrEqual(3)
    expect(entries.length).toBeLessThan(600)
    expect((await b.hub.sessions.show(made.url)).channel).toMatchObject({ delivered: 600, duplicates: 0, dropped: 0 })
  })

  it("refuses participants that are not known or not trusted enough, listing every problem", async () => {
    const [a, b] = [await pool.start(), await pool.start()]
    const stranger = (await pool.start()).hub.nodeId
    await link(a, b)
    await expect(a.hub.sessions.create({ participants: [stranger, "nope", b.hub.nodeId, b.hub.nodeId], configuration: { maxParticipants: 1 } as never })).rejects.toMatchObject({
      code: "SESSION_INVALID",
      extra: { problems: [expect.stringMatching(/not a known node/), expect.stringMatching(/not a node id/), expect.stringMatching(/maxParticipants|minimum/)] },
    })
    expect(a.hub.sessions.list().sessions).toEqual([])
  })
})
