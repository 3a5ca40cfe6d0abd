/**
 * What sessions hold across real hubs (issue 14 parts 4-7): shared documents (and content
 * that never leaves its hub), decisions under the session's consensus rule, agreements
 * whose exact text every participant signs, who may widen a session, state transitions,
 * quality, and retention purging content from every participant's storage.
 */
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { canonicalJson } from "../../src/identity/index.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { DAY_MS } from "../../src/collaboration/retention.ts"
import { hubPool } from "../helpers/hubs.ts"
import { link, until } from "./helpers.ts"

const pool = hubPool()
afterEach(pool.cleanup)

/** A initiates with B and C (all linked to A), B and C join; the session is active everywhere. */
async function activeSession(configuration: Record<string, unknown> = {}, opts: { join?: ("b" | "c")[] } = {}) {
  const [a, b, c] = [await pool.start(), await pool.start(), await pool.start()]
  await link(a, b)
  await link(a, c)
  await link(b, c)
  const made = await a.hub.sessions.create({ name: "work", participants: [b.hub.nodeId, c.hub.nodeId], configuration })
  const hubs = { b, c }
  for (const k of opts.join ?? ["b", "c"]) {
    const h = hubs[k]
    await until(h, () => h.hub.sessions.invites().invites.length, n => n === 1, `${k} is invited`)
    await h.hub.sessions.join(made.url)
  }
  const n = 1 + (opts.join ?? ["b", "c"]).length
  for (const h of [a, ...(opts.join ?? ["b", "c"]).map(k => hubs[k])]) await until(h, () => h.hub.sessions.show(made.url), v => v.joined === n, "everyone sees the joins")
  return { a, b, c, made }
}

/** The files a hub's storage holds for a document. */
async function storedFiles(h: RunningHub, documentId: string): Promise<string[]> {
  const dir = join(h.paths.data, documentId.slice(0, 2), documentId.slice(2))
  const out: string[] = []
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name))
      else out.push(join(d, e.name))
    }
  }
  await walk(dir)
  return out
}

describe("session content across hubs", () => {
  it("A and B co-edit a shared document at the same moment; both edits merge character by character", async () => {
    const { a, b, c, made } = await activeSession()
    const doc = await a.hub.sessions.createDocument(made.url, { title: "Plan", text: "hello world" })
    expect(doc).toMatchObject({ holder: a.hub.nodeId, shared: true, text: "hello world" })
    await until(b, () => b.hub.sessions.document(made.url, doc.documentId), v => v.text === "hello world", "B holds the document")
    await until(c, () => c.hub.sessions.document(made.url, doc.documentId), v => v.text === "hello world", "C holds the document")
    // concurrent: A inserts at the start, B appends, C replaces a word by a diff
    await Promise.all([
      a.hub.sessions.edit(made.url, doc.documentId, { splice: { pos: 0, insert: ">> " } }),
      b.hub.sessions.edit(made.url, doc.documentId, { splice: { pos: 11, insert: "!" } }),
      c.hub.sessions.edit(made.url, doc.documentId, { text: "hello there world" }),
    ])
    for (const h of [a, b, c]) await until(h, () => h.hub.sessions.document(made.url, doc.documentId), v => v.text === ">> hello there world!", "all converge")
    const shown = await b.hub.sessions.show(made.url)
    expect(shown.documents).toEqual([expect.objectContaining({ documentId: doc.documentId, title: "Plan", held: true, shared: true })])
  })

  it("a splice computed on an older version keeps an edit that landed since in place (heads); unknown heads are refused", async () => {
    const { a, b, made } = await activeSession()
    const doc = await a.hub.sessions.createDocument(made.url, { title: "Plan", text: "hello world" })
    const seen = await until(b, () => b.hub.sessions.document(made.url, doc.documentId), v => v.text === "hello world", "B holds the document")
    // A's edit reaches B after B's page read the text, before its splice ("big " before "world")
    await a.hub.sessions.edit(made.url, doc.documentId, { splice: { pos: 0, insert: "oh " } })
    await until(b, () => b.hub.sessions.document(made.url, doc.documentId), v => v.text === "oh hello world", "A's edit reaches B")
    const out = await b.hub.sessions.edit(made.url, doc.documentId, { splice: { pos: 6, insert: "big " }, heads: seen.heads })
    expect(out.text).toBe("oh hello big world")
    await until(a, () => a.hub.sessions.document(made.url, doc.documentId), v => v.text === "oh hello big world", "A has both")
    await expect(b.hub.sessions.edit(made.url, doc.documentId, { splice: { pos: 0, insert: "x" }, heads: ["0".repeat(64)] })).rejects.toMatchObject({ code: "INVALID_INPUT" })
    await expect(b.hub.sessions.edit(made.url, doc.documentId, { text: "x", heads: seen.heads })).rejects.toMatchObject({ code: "INVALID_INPUT" })
  })

  it("with allowContent false a shared document never leaves its hub: the others see only its metadata", async () => {
    const { a, b, made } = await activeSession({ dataSharing: { allowContent: false } })
    const doc = await b.hub.sessions.createDocument(made.url, { title: "secret", text: "only on B" })
    expect(doc.shared).toBe(false)
    const onA = await until(a, () => a.hub.sessions.show(made.url), v => v.documents.length === 1, "A sees the metadata")
    expect(onA.documents[0]).toMatchObject({ title: "secret", holder: b.hub.nodeId, shared: false, held: false })
    await expect(a.hub.docs.find(doc.documentId)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    await expect(a.hub.sessions.document(made.url, doc.documentId)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
    expect(a.hub.index.has(doc.documentId)).toBe(false)
  })

  it("decisions follow consensusRequired; agreements verify on every hub and one changed character invalidates them", async () => {
    const { a, b, c, made } = await activeSession({ consensusRequired: true })
    const p = await a.hub.sessions.propose(made.url, { title: "Ship v1" })
    expect(p).toMatchObject({ status: "pending", tally: { eligible: 3 } })
    await until(b, () => b.hub.sessions.show(made.url), v => v.decisions.length === 1, "B sees the proposal")
    await until(c, () => c.hub.sessions.show(made.url), v => v.decisions.length === 1, "C sees the proposal")
    await a.hub.sessions.vote(made.url, p.proposalId, { approve: true })
    await b.hub.sessions.vote(made.url, p.proposalId, { approve: true })
    expect((await c.hub.sessions.vote(made.url, p.proposalId, { approve: false, reason: "not yet" })).status).toBe("rejected")
    const onA = await until(a, () => a.hub.sessions.show(made.url), v => v.decisions[0]?.tally.no === 1, "A counts C's no")
    expect(onA.decisions[0]).toMatchObject({ status: "rejected", reason: expect.stringMatching(/consensus required/) })
    expect(onA.metrics.conflictCount).toBeGreaterThanOrEqual(1)

    const text = "A and B share the persona catalog under CC-BY for 12 months."
    const ag = await a.hub.sessions.agree(made.url, { title: "Catalog", text })
    expect(ag).toMatchObject({ complete: false, signatures: [{ signer: a.hub.nodeId, verified: true }] })
    for (const h of [b, c]) {
      await until(h, () => h.hub.sessions.agreements(made.url), v => v.agreements.length === 1, "the agreement arrives")
      await h.hub.sessions.sign(made.url, ag.agreementId)
    }
    for (const h of [a, b, c]) {
      const v = await until(h, () => h.hub.sessions.agreements(made.url), x => x.agreements[0]?.complete === true, "every hub sees it signed by all")
      expect(v.agreements[0]!.signatures.map(s => s.verified)).toEqual([true, true, true])
    }
    // B changes one character of the stored agreement: the text no longer verifies anywhere
    const stored = (await b.hub.docs.show(made.url)).content as { agreements: Record<string, string> }
    const env = JSON.parse(stored.agreements[ag.agreementId]!) as { payload: { text: string } }
    env.payload.text = env.payload.text.replace("12", "13")
    await b.hub.docs.put(made.url, ["agreements", ag.agreementId], canonicalJson(env))
    for (const h of [a, b, c]) {
      const v = await until(h, () => h.hub.sessions.show(made.url), x => x.agreements.length === 0, "the altered agreement is refused")
      expect(v.refused).toContainEqual({ key: `agreements/${ag.agreementId}`, reason: expect.stringMatching(/SIGNATURE_INVALID/) })
    }
  })

  it("only the initiator widens the participant list, and a restricted session only with an approved decision", async () => {
    const { a, b, c, made } = await activeSession({ privacyLevel: "restricted" }, { join: ["b"] })
    const [e] = [await pool.start()]
    await link(a, e)
    await link(b, e)
    await expect(b.hub.sessions.invite(made.url, { participant: e.hub.nodeId })).rejects.toMatchObject({ code: "NOT_AN_ADMIN" })
    await expect(a.hub.sessions.invite(made.url, { participant: e.hub.nodeId })).rejects.toMatchObject({ code: "SESSION_INVALID", detail: expect.stringMatching(/approved decision/) })
    // B cannot sign a policy that names E either: it is no admin of the session document
    await expect(b.hub.docs.share(made.url, { readers: [e.hub.nodeId] })).rejects.toMatchObject({ code: "NOT_AN_ADMIN" })
    const p = await a.hub.sessions.propose(made.url, { title: `invite ${e.hub.nodeId}` })
    await until(b, () => b.hub.sessions.show(made.url), v => v.decisions.length === 1, "B sees the proposal")
    await b.hub.sessions.vote(made.url, p.proposalId, { approve: true })
    await a.hub.sessions.vote(made.url, p.proposalId, { approve: true })
    await until(a, () => a.hub.sessions.show(made.url), v => v.decisions[0]?.status === "approved", "approved")
    const widened = await a.hub.sessions.invite(made.url, { participant: e.hub.nodeId, decisionId: p.proposalId })
    expect(widened.participants).toBe(4)
    await until(e, () => e.hub.sessions.invites().invites.length, n => n === 1, "E is invited")
    // C never joined: it is a reader, the list it sees grows too
    await until(c, () => c.hub.sessions.show(made.url), v => v.participants === 4, "C sees E")
  })

  it("a participant invited later reads the transcript and co-edits the shared documents of every holder", async () => {
    const [a, b, c] = [await pool.start(), await pool.start(), await pool.start()]
    await link(a, b)
    await link(a, c)
    await link(b, c)
    const made = await a.hub.sessions.create({ name: "later", participants: [b.hub.nodeId] })
    await until(b, () => b.hub.sessions.invites().invites.length, n => n === 1, "B is invited")
    await b.hub.sessions.join(made.url)
    await until(a, () => a.hub.sessions.show(made.url), v => v.status === "active", "active on A")
    await until(b, () => b.hub.sessions.show(made.url), v => v.status === "active", "active on B")
    await a.hub.sessions.send(made.url, { text: "before C" })
    await b.hub.sessions.send(made.url, { text: "me too" })
    // shared documents held by B (and by A), made before C was invited
    const doc = await b.hub.sessions.createDocument(made.url, { title: "B's plan", text: "plan" })
    const docA = await a.hub.sessions.createDocument(made.url, { title: "A's notes", text: "notes" })
    await until(a, () => a.hub.sessions.show(made.url), v => v.documents.length === 2 && v.metrics.messageCount === 2, "A sees both documents and messages")
    // C knows nothing of it yet
    await expect(c.hub.docs.find(made.transcript!)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })

    const widened = await a.hub.sessions.invite(made.url, { participant: c.hub.nodeId })
    expect(widened.participantList.map(p => [p.nodeId, p.status])).toContainEqual([c.hub.nodeId, "invited"])
    // the initiator names C in the transcript's policy, B in its document's (on seeing the invitation)
    expect(a.hub.policies.effective(made.transcript!)).toMatchObject({ readers: expect.arrayContaining([c.hub.nodeId]), writers: expect.arrayContaining([c.hub.nodeId]) })
    await until(b, () => b.hub.policies.effective(doc.documentId), p => p?.readers.includes(c.hub.nodeId) === true && p.writers.includes(c.hub.nodeId), "B names C in its document's policy")
    await until(c, () => c.hub.sessions.invites().invites.length, n => n === 1, "C is invited")
    await c.hub.sessions.join(made.url)
    // C reads what was said before it came, and both documents
    const caught = await until(c, () => c.hub.sessions.messages(made.url), v => v.messages.length === 2, "C reads the transcript")
    expect(caught.messages.map(m => m.text).sort()).toEqual(["before C", "me too"])
    await until(c, () => c.hub.sessions.document(made.url, doc.documentId), v => v.text === "plan", "C holds B's document")
    await until(c, () => c.hub.sessions.document(made.url, docA.documentId), v => v.text === "notes", "C holds A's document")
    // and co-edits: its edits reach the holders, and its messages the transcript
    await c.hub.sessions.edit(made.url, doc.documentId, { splice: { pos: 4, insert: " by C" } })
    await c.hub.sessions.edit(made.url, docA.documentId, { text: "notes, and C's" })
    await until(b, () => b.hub.sessions.document(made.url, doc.documentId), v => v.text === "plan by C", "B sees C's edit")
    await until(a, () => a.hub.sessions.document(made.url, docA.documentId), v => v.text === "notes, and C's", "A sees C's edit")
    await c.hub.sessions.send(made.url, { text: "hello from C" })
    await until(b, () => b.hub.sessions.messages(made.url), v => v.messages.some(m => m.text === "hello from C" && m.sender === c.hub.nodeId), "B records C's message")
  })

  it("an uninvited hub can read a public session but not join it; a response written for it is refused", async () => {
    const [a, b, d] = [await pool.start(), await pool.start(), await pool.start()]
    await link(a, b)
    await link(a, d)
    const made = await a.hub.sessions.create({ name: "open", participants: [b.hub.nodeId], configuration: { privacyLevel: "public" } })
    const seen = await until(d, () => d.hub.sessions.show(made.url), v => v.name === "open", "D reads the public session")
    expect(seen).toMatchObject({ role: "outsider", myStatus: "not invited" })
    await expect(d.hub.sessions.join(made.url)).rejects.toMatchObject({ code: "NOT_INVITED", detail: "Node not invited to this session" })
    // a participant writes a (valid, D-signed) join of D into the document: every view refuses it
    const { signEnvelope } = await import("../../src/identity/index.ts")
    const { SESSION_PURPOSE } = await import("../../src/collaboration/signed.ts")
    const forged = signEnvelope(d.hub.identity, SESSION_PURPOSE.response, { sessionId: made.documentId, nodeId: d.hub.nodeId, response: "join" })
    await until(b, () => b.hub.sessions.invites().invites.length, n => n === 1, "B is invited")
    await b.hub.docs.put(made.url, ["responses", d.hub.nodeId], canonicalJson(forged))
    const onA = await until(a, () => a.hub.sessions.show(made.url), v => v.refused.length === 1, "A refuses D's response")
    expect(onA.refused[0]).toEqual({ key: `responses/${d.hub.nodeId}`, reason: "Node not invited to this session" })
    expect(onA.participants).toBe(2)
    // the transcript of a public session is content: it stays with the participants
    expect(a.hub.policies.effective(made.transcript!)?.readers).toEqual([b.hub.nodeId])
    await expect(d.hub.docs.find(made.transcript!)).rejects.toMatchObject({ code: "DOC_NOT_FOUND" })
  })

  it("pauses, resumes and completes with the actual duration; ratings, trust and quality are derived", async () => {
    const { a, b, c, made } = await activeSession({}, { join: ["b"] })
    await expect(b.hub.sessions.transition(made.url, "pause")).rejects.toMatchObject({ code: "FORBIDDEN" })
    expect((await a.hub.sessions.transition(made.url, "pause", { reason: "lunch" })).status).toBe("paused")
    await expect(a.hub.sessions.send(made.url, { text: "x" })).rejects.toMatchObject({ code: "SESSION_STATE" })
    expect((await a.hub.sessions.transition(made.url, "resume")).status).toBe("active")
    await a.hub.sessions.rate(made.url, { satisfaction: 5, outputQuality: 4 })
    await b.hub.sessions.rate(made.url, { satisfaction: 3, outputQuality: 4, comment: "ok" })
    await expect(c.hub.sessions.rate(made.url, { satisfaction: 1, outputQuality: 1 })).rejects.toMatchObject({ code: "NOT_A_PARTICIPANT" })
    const done = await a.hub.sessions.transition(made.url, "complete")
    expect(done).toMatchObject({ status: "completed" })
    expect(done.endedAt).not.toBeNull()
    expect(done.metrics.duration).toBeGreaterThanOrEqual(0)
    expect(done.metrics.duration).toBeLessThanOrEqual(done.endedAt! - done.startedAt!)
    const onB = await until(b, () => b.hub.sessions.show(made.url), v => v.status === "completed" && v.metrics.ratings.length === 2, "B sees the end and the ratings")
    expect(onB.metrics).toMatchObject({ participantSatisfaction: 4, outputQuality: 4 })
    expect(onB.metrics.trustScore).toBeGreaterThanOrEqual(0)
    await expect(a.hub.sessions.transition(made.url, "resume")).rejects.toMatchObject({ code: "SESSION_STATE" })
  })

  it("expired content is purged from storage on every participant hub; the session keeps its metadata", async () => {
    const { a, b, c, made } = await activeSession({ dataSharing: { retentionPeriod: 1 } })
    await a.hub.sessions.send(made.url, { text: "to be forgotten" })
    const doc = await b.hub.sessions.createDocument(made.url, { title: "notes", text: "temporary" })
    for (const h of [a, c]) await until(h, () => h.hub.sessions.document(made.url, doc.documentId), v => v.text === "temporary", "the document arrives")
    for (const h of [b, c]) await until(h, () => h.hub.sessions.messages(made.url), v => v.messages.length === 1, "the message is recorded")
    const done = await a.hub.sessions.transition(made.url, "complete")
    for (const h of [b, c]) await until(h, () => h.hub.sessions.show(made.url), v => v.status === "completed", "completed everywhere")
    const content = [made.transcript!, doc.documentId]
    for (const h of [a, b, c]) {
      await h.hub.repo.flush()
      for (const id of content) expect((await storedFiles(h, id)).length, `${id} stored`).toBeGreaterThan(0)
      // a day minus a millisecond: kept
      expect((await h.hub.sessions.purgeExpired(done.endedAt! + DAY_MS - 1)).purged).toEqual([])
    }
    for (const h of [a, b, c]) {
      expect((await h.hub.sessions.purgeExpired(done.endedAt! + DAY_MS)).purged.sort()).toEqual([...content].sort())
      for (const id of content) expect(await storedFiles(h, id), `${id} purged`).toEqual([])
      expect((await storedFiles(h, made.documentId)).length).toBeGreaterThan(0)
      const v = await h.hub.sessions.show(made.url)
      expect(v).toMatchObject({ contentPurged: true, status: "completed", contentExpiresAt: done.endedAt! + DAY_MS })
      expect(v.documents[0]).toMatchObject({ title: "notes", held: false })
      expect((await h.hub.sessions.messages(made.url)).messages).toEqual([])
    }
  })
})
