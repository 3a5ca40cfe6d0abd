/**
 * Live-only channels made reliable across real hubs (issue 14, gap repair): a receiver
 * that misses a sender's batches asks for them with a small ephemeral request and any
 * participant hub holding them answers with the original signed batches. B delivers every
 * message of A exactly once and in order across a cut of the A–B link (C relaying), after
 * being offline (no relay) and when it comes back through C only; forged answers, requests
 * from a hub that declined, a huge range and a flood of requests are refused and counted.
 */
import { afterEach, describe, expect, it } from "vitest"
import { SESSION_PURPOSE } from "../../src/collaboration/signed.ts"
import type { MessageView, SessionView } from "../../src/collaboration/SessionService.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { signEnvelope } from "../../src/identity/index.ts"
import { hubPool, nextEvent } from "../helpers/hubs.ts"
import { link, until } from "./helpers.ts"

const pool = hubPool()
afterEach(pool.cleanup)

/** A live-only (unrecorded) session of A with the others, each of them joined (or declined), linked as given. */
async function liveSession(n: number, links: [number, number][], opts: { decline?: number[] } = {}) {
  const hubs: RunningHub[] = []
  for (let i = 0; i < n; i++) hubs.push(await pool.start())
  for (const [x, y] of links) await link(hubs[x]!, hubs[y]!)
  const [a, ...others] = hubs as [RunningHub, ...RunningHub[]]
  const made = await a.hub.sessions.create({ name: "live", participants: others.map(h => h.hub.nodeId), configuration: { recordingEnabled: false } })
  for (const [i, h] of others.entries()) {
    await until(h, () => h.hub.sessions.invites().invites.length, k => k === 1, `hub ${i + 1} is invited`)
    if (opts.decline?.includes(i + 1)) await h.hub.sessions.decline(made.url)
    else await h.hub.sessions.join(made.url)
  }
  const answered = n - 1
  for (const h of hubs) await until(h, () => h.hub.sessions.show(made.url), v => v.participantList.filter(p => p.status !== "invited").length === answered + 1, "every hub sees every answer")
  return { hubs, made }
}

/** What hub `h` hears from `sender` on the channel. */
function heard(h: RunningHub, sender: string): MessageView[] {
  const out: MessageView[] = []
  h.hub.sessions.events.on("message", (_s, m) => {
    if (m.sender === sender) out.push(m)
  })
  return out
}

/** Waits until `ok` holds for a hub's view of the session: checked now and on each message, refusal or change. */
async function untilShown(h: RunningHub, url: string, ok: (v: SessionView) => boolean, what: string): Promise<SessionView> {
  const end = Date.now() + 15_000
  for (;;) {
    const left = end - Date.now()
    const next = Promise.race([nextEvent(h.hub.sessions.events, "dropped", left), nextEvent(h.hub.sessions.events, "message", left), nextEvent(h.hub.sessions.events, "updated", left)]).catch(() => undefined)
    const v = await h.hub.sessions.show(url)
    if (ok(v)) return v
    if (left <= 0) throw new Error(`${what}: not reached (last: ${JSON.stringify(v.channel)})`)
    await next
  }
}

/** Hub `to` hears that `from`'s link to it closed. */
async function cut(from: RunningHub, to: RunningHub): Promise<void> {
  const left = nextEvent(to.hub.server.events, "left")
  from.hub.hangUp(to.url)
  await left
}

const texts = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `m${from + i}`)

describe("live channels across a link cut (gap repair)", () => {
  it("B delivers every message of A exactly once, in order, across a cut of the A–B link while A sends (C relays)", async () => {
    const { hubs, made } = await liveSession(3, [[0, 1], [0, 2], [1, 2]])
    const [a, b] = hubs as [RunningHub, RunningHub]
    const onB = heard(b, a.hub.nodeId)
    const sends: Promise<MessageView>[] = []
    for (let i = 0; i < 600; i++) {
      sends.push(a.hub.sessions.send(made.url, { text: `m${i}` }))
      // batches go out while the link goes down and comes back
      if (i % 20 === 19) await new Promise(r => setImmediate(r))
      if (i === 200) a.hub.hangUp(b.url)
      if (i === 400) await link(a, b)
    }
    await Promise.all(sends)
    await until(b, () => onB.length, k => k >= 600, "B hears all 600", 30_000)
    expect(onB.map(m => m.text)).toEqual(texts(600))
    expect(new Set(onB.map(m => m.id)).size).toBe(600)
    const shown = await b.hub.sessions.show(made.url)
    expect(shown.channel).toMatchObject({ skipped: 0 })
    expect(onB.some(m => m.late)).toBe(false)
  }, 60_000)

  it("B offline while A sends (no relay) asks on its return for what it missed: every message once, in order", async () => {
    const { hubs, made } = await liveSession(3, [[0, 1], [0, 2]])
    const [a, b, c] = hubs as [RunningHub, RunningHub, RunningHub]
    const onB = heard(b, a.hub.nodeId)
    const onC = heard(c, a.hub.nodeId)
    for (const t of texts(5)) await a.hub.sessions.send(made.url, { text: t })
    await until(b, () => onB.length, k => k === 5, "B hears the first five")
    await cut(a, b)
    for (const t of texts(50, 5)) await a.hub.sessions.send(made.url, { text: t })
    await until(c, () => onC.length, k => k === 55, "C hears all 55")
    expect(onB).toHaveLength(5)
    await link(a, b)
    for (const t of texts(5, 55)) await a.hub.sessions.send(made.url, { text: t })
    await until(b, () => onB.length, k => k >= 60, "B has all 60")
    expect(onB.map(m => m.text)).toEqual(texts(60))
    expect(new Set(onB.map(m => m.id)).size).toBe(60)
    const shown = await b.hub.sessions.show(made.url)
    expect(shown.channel).toMatchObject({ repaired: 50, skipped: 0, duplicates: 0 })
    expect(shown.channel.repairRequests).toBeGreaterThanOrEqual(1)
    expect((await a.hub.sessions.show(made.url)).channel.repairAnswers).toBeGreaterThanOrEqual(1)
  })

  it("a lost last batch is repaired too: A's quiet announcement, or the one B hears when it comes back through C only", async () => {
    const { hubs, made } = await liveSession(3, [[0, 1], [0, 2], [1, 2]])
    const [a, b, c] = hubs as [RunningHub, RunningHub, RunningHub]
    const onB = heard(b, a.hub.nodeId)
    const onC = heard(c, a.hub.nodeId)
    await a.hub.sessions.send(made.url, { text: "m0" })
    await until(b, () => onB.length, k => k === 1, "B hears the first")
    // B goes offline from both
    await cut(a, b)
    await cut(b, c)
    for (const t of texts(30, 1)) await a.hub.sessions.send(made.url, { text: t })
    await until(c, () => onC.length, k => k === 31, "C hears all 31")
    // A sends nothing more: B learns what it missed from C's announcement on its return (A's answers come relayed by C)
    await link(b, c)
    await until(b, () => onB.length, k => k >= 31, "B has all 31")
    expect(onB.map(m => m.text)).toEqual(texts(31))
    // (B also took copies relayed by C of what it heard directly before the cut: automerge-repo numbers each peer's copy apart, so both pass its relay filter)
    expect((await b.hub.sessions.show(made.url)).channel).toMatchObject({ repaired: 30, skipped: 0 })
  })
})

describe("live channel repair refuses hostile input", () => {
  it("a forged batch in an answer is refused and the real one still delivered; requests and announcements from a hub that declined, a huge range and a flood of requests are refused and counted", async () => {
    // A initiates with B and C (joined) and D (declined: still a reader, not a participant)
    const { hubs, made } = await liveSession(4, [[0, 1], [0, 2], [0, 3], [1, 2]], { decline: [3] })
    const [a, b, c, d] = hubs as [RunningHub, RunningHub, RunningHub, RunningHub]
    const onB = heard(b, a.hub.nodeId)
    for (const t of texts(20)) await a.hub.sessions.send(made.url, { text: t })
    await until(b, () => onB.length, k => k === 20, "B hears 20")
    const epoch = onB[0]!.epoch
    const onC = await c.hub.docs.find(made.url)
    const onD = await d.hub.docs.find(made.url)

    // C answers with A's next batch, its text changed after A signed it: B refuses it
    const genuine = signEnvelope(a.hub.identity, SESSION_PURPOSE.messages, { sessionId: made.documentId, epoch, messages: [{ channel: "main", seq: 21, text: "m20" }] })
    const forged = { ...genuine, payload: { ...genuine.payload, messages: [{ channel: "main", seq: 21, text: "forged" }] } }
    const droppedOnB = nextEvent(b.hub.sessions.events, "dropped")
    onC.broadcast({ fedhubSessionRepair: [JSON.stringify(forged)] })
    await droppedOnB
    expect((await b.hub.sessions.show(made.url)).channel.dropped).toBe(1)
    await a.hub.sessions.send(made.url, { text: "m20" })
    await until(b, () => onB.length, k => k === 21, "B hears the real 21st")
    expect(onB.map(m => m.text)).toEqual(texts(21))

    // D declined: its requests, answers and announcements are refused (and answered by nobody)
    const before = (await a.hub.sessions.show(made.url)).channel
    onD.broadcast({ fedhubSessionNack: { sessionId: made.documentId, sender: a.hub.nodeId, epoch, ranges: [[1, 20]] } })
    onD.broadcast({ fedhubSessionLatest: { sessionId: made.documentId, senders: [{ sender: a.hub.nodeId, epoch, seq: 1_000 }] } })
    onD.broadcast({ fedhubSessionRepair: [JSON.stringify(genuine)] })
    // C: a range of a million seqs, and requests that do not match the schema
    onC.broadcast({ fedhubSessionNack: { sessionId: made.documentId, sender: a.hub.nodeId, epoch, ranges: [[1, 1_000_000]] } })
    onC.broadcast({ fedhubSessionNack: { sessionId: made.documentId, sender: a.hub.nodeId, epoch, ranges: [[5, 1]] } })
    onC.broadcast({ fedhubSessionNack: { sessionId: made.documentId, sender: a.hub.nodeId, epoch, ranges: "all" } })
    const shown = await untilShown(a, made.url, v => v.channel.repairRefused >= before.repairRefused + 6, "A refuses six")
    expect(shown.channel.repairAnswers).toBe(before.repairAnswers)

    // a flood: C asks 500 times for all 21 batches (B relays each request too); A serves each hub at a bounded rate and answers each batch about once per hold time
    const t0 = performance.now()
    for (let i = 0; i < 500; i++) onC.broadcast({ fedhubSessionNack: { sessionId: made.documentId, sender: a.hub.nodeId, epoch, ranges: [[1, 21]] } })
    const handled = (v: SessionView) => v.channel.repairServed + v.channel.repairRefused - shown.channel.repairServed - shown.channel.repairRefused
    const flooded = await untilShown(a, made.url, v => handled(v) >= 500, "A handles the flood")
    const seconds = (performance.now() - t0) / 1000
    const served = flooded.channel.repairServed - shown.channel.repairServed
    expect(flooded.channel.repairRefused - shown.channel.repairRefused).toBeGreaterThan(0)
    // at most the burst (40) and 20 a second for each of the two hubs it came from
    expect(served).toBeLessThanOrEqual(2 * (40 + 20 * seconds) + 1)
    expect(flooded.channel.repairAnswers - shown.channel.repairAnswers).toBeLessThanOrEqual(21 * (1 + Math.ceil((seconds * 1000) / 200)))
    // B took none of the copies as new messages, and the channel still works
    await a.hub.sessions.send(made.url, { text: "m21" })
    await until(b, () => onB.length, k => k === 22, "B hears the next")
    expect(onB.map(m => m.text)).toEqual(texts(22))
    expect((await b.hub.sessions.show(made.url)).channel).toMatchObject({ skipped: 0, repaired: 0 })
  }, 60_000)
})
