/**
 * The pure core of sessions (issue 14): the definition with every problem listed,
 * activation at half the participants, transitions and the actual duration, decisions
 * under the consensus rule, agreement signatures over the exact text, the channel inbox
 * (per-sender order, no duplicates, non-participants dropped and counted), quality and
 * retention — all functions of signed records, the same in any order.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Identity, signEnvelope } from "../../src/identity/index.ts"
import { createDefinition } from "../../src/collaboration/config.ts"
import { activates, sessionState } from "../../src/collaboration/state.ts"
import { agreementsOf, decide, decisionsOf, signAgreement, signAgreementText, signDecisionVote, signProposal, verifyAgreementText } from "../../src/collaboration/decisions.ts"
import { ChannelInbox } from "../../src/collaboration/channel.ts"
import { qualityOf } from "../../src/collaboration/quality.ts"
import { contentExpired, contentExpiresAt, DAY_MS } from "../../src/collaboration/retention.ts"
import { SESSION_PURPOSE } from "../../src/collaboration/signed.ts"
import { envelopeId } from "../../src/identity/index.ts"

const [a, b, c, d] = [Identity.generate(), Identity.generate(), Identity.generate(), Identity.generate()]
const SID = "4NMNnkMTrpx5ki1kmWqwGnSaRdLk"
const T0 = 1_700_000_000_000
const def = (participants: unknown[] = [b.nodeId, c.nodeId], extra: Record<string, unknown> = {}) =>
  createDefinition({ name: "s", participants: participants as never, ...extra }, { initiator: a.nodeId, sessionId: SID, now: T0, trustOf: () => "basic", minTrust: "basic" })
const respond = (who: Identity, response: "join" | "decline", time: number) => signEnvelope(who, SESSION_PURPOSE.response, { sessionId: SID, nodeId: who.nodeId, response }, time)
const transition = (who: Identity, action: string, time: number) => signEnvelope(who, SESSION_PURPOSE.transition, { sessionId: SID, action }, time)
const none = { responses: {}, transitions: {}, invites: {} }

describe("the session definition", () => {
  it("fills the seed's defaults and lists every problem at once", () => {
    const d0 = def()
    expect(d0).toMatchObject({ initiator: a.nodeId, type: "knowledge_sharing", configuration: { privacyLevel: "private", recordingEnabled: true, consensusRequired: false, dataSharing: { allowContent: true, retentionPeriod: 30 } } })
    expect(d0.participants.map(p => p.role)).toEqual(["initiator", "participant", "participant"])
    let problems: string[] = []
    try {
      createDefinition({ participants: ["x", a.nodeId, d.nodeId, b.nodeId] as never, configuration: { privacyLevel: "secret", maxParticipants: 2 } as never }, {
        initiator: a.nodeId,
        sessionId: SID,
        now: T0,
        trustOf: n => (n === d.nodeId ? "unknown" : n === b.nodeId ? undefined : "basic"),
        minTrust: "basic",
      })
    } catch (e) {
      problems = (e as { extra: { problems: string[] } }).extra.problems
    }
    expect(problems).toEqual([
      expect.stringMatching(/participants\/0: "x" is not a node id/),
      expect.stringMatching(/participants\/1: the initiator takes part already/),
      expect.stringMatching(/participants\/2: .* is unknown, below the required trust level basic/),
      expect.stringMatching(/participants\/3: .* is not a known node/),
      expect.stringMatching(/privacyLevel/),
    ])
  })
})

describe("session state", () => {
  it("activates when at least half the participants joined, in any order of the records", () => {
    expect([activates(1, 3), activates(2, 3), activates(1, 2), activates(2, 5), activates(3, 5)]).toEqual([false, true, true, false, true])
    const d0 = def()
    expect(sessionState(d0, none, T0 + 10).status).toBe("pending")
    const joined = sessionState(d0, { ...none, responses: { [b.nodeId]: respond(b, "join", T0 + 5), [c.nodeId]: respond(c, "decline", T0 + 6) } }, T0 + 10)
    expect(joined).toMatchObject({ status: "active", startedAt: T0 + 5, durationMs: 5 })
    expect(joined.participants.map(p => p.status)).toEqual(["joined", "joined", "declined"])
  })

  it("fails when too many declined to ever reach half", () => {
    const d0 = def([b.nodeId, c.nodeId, d.nodeId])
    const s = sessionState(d0, { ...none, responses: { [b.nodeId]: respond(b, "decline", T0 + 1), [c.nodeId]: respond(c, "decline", T0 + 2), [d.nodeId]: respond(d, "decline", T0 + 3) } }, T0 + 5)
    expect(s.status).toBe("failed")
  })

  it("counts only active time: pause, resume, complete; transitions by non-moderators are refused", () => {
    const d0 = def([b.nodeId])
    const tr = { p: transition(a, "pause", T0 + 100), r: transition(a, "resume", T0 + 300), x: transition(b, "complete", T0 + 350), c: transition(a, "complete", T0 + 400) }
    const s = sessionState(d0, { ...none, transitions: tr }, T0 + 10_000)
    expect(s).toMatchObject({ status: "completed", startedAt: T0, endedAt: T0 + 400, durationMs: 100 + 100 })
    expect(s.refused).toEqual([{ key: "transitions/x", reason: `${b.nodeId} may not moderate this session` }])
  })

  it("refuses responses of nodes not invited, kept under another key, or forged", () => {
    const d0 = def()
    const forged = { ...respond(b, "join", T0 + 1), sig: respond(c, "join", T0 + 1).sig }
    const s = sessionState(d0, { ...none, responses: { [d.nodeId]: respond(d, "join", T0 + 1), [c.nodeId]: respond(b, "join", T0 + 1), [b.nodeId]: forged } }, T0 + 2)
    expect(s.refused.map(r => r.reason).sort()).toEqual(["Node not invited to this session", `kept under ${c.nodeId} but signed by ${b.nodeId}`, expect.stringMatching(/SIGNATURE_INVALID/)].sort())
    expect(s.status).toBe("pending")
  })

  it("is the same whatever order the records are held in", () => {
    const d0 = def([b.nodeId, c.nodeId, d.nodeId])
    const records = [["r", b.nodeId, respond(b, "join", T0 + 3)], ["r", c.nodeId, respond(c, "join", T0 + 1)], ["r", d.nodeId, respond(d, "decline", T0 + 2)], ["t", "1", transition(a, "pause", T0 + 5)], ["t", "2", transition(a, "resume", T0 + 9)]] as const
    fc.assert(
      fc.property(fc.shuffledSubarray([...records], { minLength: records.length, maxLength: records.length }), order => {
        const rs = { responses: {} as Record<string, unknown>, transitions: {} as Record<string, unknown>, invites: {} }
        for (const [k, key, v] of order) (k === "r" ? rs.responses : rs.transitions)[key] = v
        const s = sessionState(d0, rs, T0 + 20)
        expect(s).toMatchObject({ status: "active", startedAt: T0 + 1, durationMs: 4 + 11 })
      }),
    )
  })
})

describe("decisions and agreements", () => {
  const joinedAll = () => sessionState(def(), { ...none, responses: { [b.nodeId]: respond(b, "join", T0), [c.nodeId]: respond(c, "join", T0) } }, T0).participants

  it("decide: consensus needs every yes, majority more than half", () => {
    expect(decide(3, 0, 3, true).status).toBe("approved")
    expect(decide(2, 1, 3, true).status).toBe("rejected")
    expect(decide(2, 0, 3, true).status).toBe("pending")
    expect(decide(2, 0, 3, false).status).toBe("approved")
    expect(decide(1, 1, 4, false).status).toBe("pending")
    expect(decide(0, 2, 4, false).status).toBe("rejected")
  })

  it("counts one latest vote per joined voter and refuses outsiders' and misfiled votes", () => {
    const ps = joinedAll()
    const p = signProposal(a, { sessionId: SID, title: "x" }, T0)
    const pid = envelopeId(p)
    const v = (who: Identity, approve: boolean, t: number) => signDecisionVote(who, { sessionId: SID, proposalId: pid, approve }, t)
    const votes = { [`${pid}:${a.nodeId}`]: v(a, true, T0 + 1), [`${pid}:${b.nodeId}`]: v(b, true, T0 + 2), [`${pid}:${d.nodeId}`]: v(d, true, T0 + 3), [`${pid}:${c.nodeId}`]: v(b, false, T0 + 4) }
    const [view] = decisionsOf(SID, ps, false, { [pid]: p }, votes)
    expect(view).toMatchObject({ status: "approved", tally: { yes: 2, no: 0, eligible: 3 } })
    expect(view!.refusedVotes.map(r => r.reason).sort()).toEqual([`${d.nodeId} is not a joined participant that may vote`, `kept under ${pid}:${c.nodeId} but signed by ${b.nodeId}`].sort())
  })

  it("one changed character of an agreement's text invalidates every signature", () => {
    const ps = joinedAll()
    const text = "We share the catalog for 12 months."
    const ag = signAgreement(a, { sessionId: SID, title: "t", text }, T0)
    const id = envelopeId(ag)
    const sigs = Object.fromEntries([a, b, c].map(x => [`${id}:${x.nodeId}`, signAgreementText(x, SID, id, text, T0 + 1)]))
    expect(agreementsOf(SID, ps, { [id]: ag }, sigs)[0]).toMatchObject({ complete: true, missing: [] })
    expect(verifyAgreementText(SID, id, text, Object.values(sigs)).every(s => s.verified)).toBe(true)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length - 1 }), fc.string({ minLength: 1, maxLength: 1 }), (i, ch) => {
        fc.pre(text[i] !== ch)
        const changed = text.slice(0, i) + ch + text.slice(i + 1)
        expect(verifyAgreementText(SID, id, changed, Object.values(sigs)).some(s => s.verified)).toBe(false)
      }),
    )
    // the stored agreement altered: refused (its proposer's signature no longer verifies)
    const altered = { ...ag, payload: { ...ag.payload, text: text.replace("12", "13") } }
    const refused: { key: string; reason: string }[] = []
    expect(agreementsOf(SID, ps, { [id]: altered }, sigs, refused)).toEqual([])
    expect(refused[0]?.reason).toMatch(/SIGNATURE_INVALID/)
  })
})

describe("the channel inbox", () => {
  const batch = (who: Identity, seqs: number[], epoch = 1, sessionId = SID) =>
    signEnvelope(who, SESSION_PURPOSE.messages, { sessionId, epoch, messages: seqs.map(seq => ({ channel: "main", seq, text: `${who.nodeId.slice(3, 6)}-${seq}` })) })
  const msg = (who: Identity, seq: number, epoch = 1, sessionId = SID) => batch(who, [seq], epoch, sessionId)

  it("delivers each sender's messages once, in order, whatever order and copies they arrive in", () => {
    const all = [...[1, 2, 3, 4, 5].map(s => msg(a, s)), ...[1, 2, 3].map(s => msg(b, s))]
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: all.length - 1 }), { maxLength: 20 }), fc.shuffledSubarray(all.map((_, i) => i), { minLength: all.length, maxLength: all.length }), (extra, order) => {
        const inbox = new ChannelInbox(SID, () => true)
        const out = [...order, ...extra].flatMap(i => inbox.accept(all[i], 0))
        for (const who of [a, b]) {
          const seqs = out.filter(m => m.sender === who.nodeId).map(m => m.seq)
          expect(seqs).toEqual(seqs.map((_, i) => i + 1))
        }
        expect(out).toHaveLength(all.length)
        expect(inbox.counts.duplicates).toBe(extra.length)
      }),
    )
  })

  it("drops and counts non-participants, forgeries and other sessions; skips a gap that never fills, delivering it late", () => {
    const inbox = new ChannelInbox(SID, n => n !== d.nodeId)
    expect(inbox.accept(msg(d, 1), 0)).toEqual([])
    expect(inbox.accept({ ...msg(a, 1), sig: msg(b, 1).sig }, 0)).toEqual([])
    expect(inbox.accept(msg(a, 1, 1, "2NEpo7TZRRrLZSi2U"), 0)).toEqual([])
    expect(inbox.counts).toMatchObject({ dropped: 3, droppedNotParticipant: 1, delivered: 0 })
    expect(inbox.accept(msg(a, 2), 0)).toEqual([])
    expect(inbox.waiting).toBe(true)
    expect(inbox.skipGaps(500, 1000)).toEqual([])
    expect(inbox.skipGaps(1000, 1000).map(m => m.seq)).toEqual([2])
    expect(inbox.accept(msg(a, 1), 2000)).toEqual([expect.objectContaining({ seq: 1, late: true })])
    expect(inbox.accept(msg(a, 1), 2000)).toEqual([])
    // a new epoch (the sender restarted) starts again at 1
    expect(inbox.accept(msg(a, 1, 2), 3000).map(m => [m.epoch, m.seq])).toEqual([[2, 1]])
  })

  it("delivers a batch message by message, in order; overlapping batches deliver each message once", () => {
    const inbox = new ChannelInbox(SID, () => true)
    const first = batch(a, [1, 2, 3])
    const out = inbox.accept(first, 0)
    expect(out.map(m => [m.seq, m.text, m.time])).toEqual([1, 2, 3].map(q => [q, `${a.nodeId.slice(3, 6)}-${q}`, first.time]))
    expect(new Set(out.map(m => m.id)).size).toBe(3)
    // a later batch waits for the gap before it, then both come out in order
    expect(inbox.accept(batch(a, [6, 7]), 0)).toEqual([])
    expect(inbox.accept(batch(a, [3, 4, 5]), 0).map(m => m.seq)).toEqual([4, 5, 6, 7])
    expect(inbox.counts).toMatchObject({ delivered: 7, duplicates: 1 })
    // the same batch again: three duplicates; from the transcript, none (expected there)
    inbox.accept(first, 0)
    expect(inbox.counts.duplicates).toBe(4)
    inbox.accept(first, 0, { recorded: true })
    expect(inbox.counts.duplicates).toBe(4)
  })

  it("drops a whole batch whose seqs are not consecutive, or that a non-participant signed, counting each message it claims", () => {
    const inbox = new ChannelInbox(SID, n => n !== d.nodeId)
    expect(inbox.accept(batch(a, [1, 3]), 0)).toEqual([])
    expect(inbox.accept(batch(a, [2, 1]), 0)).toEqual([])
    expect(inbox.accept(batch(d, [1, 2, 3]), 0)).toEqual([])
    // a batch altered after signing (one text changed) does not verify
    const b1 = batch(a, [1, 2])
    expect(inbox.accept({ ...b1, payload: { ...b1.payload, messages: [b1.payload.messages[0], { ...b1.payload.messages[1], text: "forged" }] } }, 0)).toEqual([])
    expect(inbox.counts).toMatchObject({ dropped: 9, droppedNotParticipant: 3, delivered: 0 })
    expect(inbox.accept(b1, 0).map(m => m.seq)).toEqual([1, 2])
  })
})

describe("quality and retention", () => {
  it("derives satisfaction, output quality, trust and conflicts from signed ratings and reputations", () => {
    const ps = sessionState(def(), { ...none, responses: { [b.nodeId]: respond(b, "join", T0) } }, T0).participants
    const rate = (who: Identity, s: number, o: number) => signEnvelope(who, SESSION_PURPOSE.rating, { sessionId: SID, satisfaction: s, outputQuality: o })
    const refused: { key: string; reason: string }[] = []
    const q = qualityOf(SID, ps, { [a.nodeId]: rate(a, 5, 3), [b.nodeId]: rate(b, 4, 4), [c.nodeId]: rate(c, 1, 1) }, n => (n === a.nodeId ? 1 : 0.5), 2, refused)
    expect(q).toMatchObject({ participantSatisfaction: 4.5, outputQuality: 3.5, trustScore: 0.75, conflictCount: 2 })
    expect(refused).toEqual([{ key: `ratings/${c.nodeId}`, reason: `${c.nodeId} is not a joined participant` }])
  })

  it("content expires retentionPeriod days after the session ended; 0 keeps it", () => {
    const d0 = def([b.nodeId], { configuration: { dataSharing: { retentionPeriod: 2 } } })
    const ended = { status: "completed" as const, endedAt: T0 }
    expect(contentExpiresAt(d0, ended)).toBe(T0 + 2 * DAY_MS)
    expect(contentExpired(d0, ended, T0 + 2 * DAY_MS - 1)).toBe(false)
    expect(contentExpired(d0, ended, T0 + 2 * DAY_MS)).toBe(true)
    expect(contentExpiresAt(d0, { status: "active", endedAt: null })).toBeNull()
    expect(contentExpiresAt(def([b.nodeId], { configuration: { dataSharing: { retentionPeriod: 0 } } }), ended)).toBeNull()
  })
})

