/**
 * The pure parts of live channel repair (no network): the window of signed batches, the
 * inbox's gaps, the request schedule (delay, doubling waits, suppression, give-up) and
 * the answers (rate, span, suppression, one answer per loss).
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { Identity, signEnvelope } from "../../src/identity/index.ts"
import { ChannelInbox } from "../../src/collaboration/channel.ts"
import { RepairSchedule } from "../../src/collaboration/gaps.ts"
import { batchKey, rangesProblem, RepairAnswers } from "../../src/collaboration/repair.ts"
import { SESSION_PURPOSE } from "../../src/collaboration/signed.ts"
import { BatchWindow, type HeldBatch } from "../../src/collaboration/window.ts"

const SID = "2NEpo7TZRRrLZSi2UmJ7wD"
const a = Identity.generate()
const batch = (who: Identity, seqs: number[], epoch = 1) => signEnvelope(who, SESSION_PURPOSE.messages, { sessionId: SID, epoch, messages: seqs.map(seq => ({ channel: "main", seq, text: `m${seq}` })) })
const held = (first: number, last: number, text = `t${first}-${last}`, sender = "A"): Omit<HeldBatch, "at"> => ({ session: SID, sender, epoch: 1, first, last, text })

describe("the batch window", () => {
  it("finds the batches holding any seq of the ranges, in order, each once, within a byte budget", () => {
    const w = new BatchWindow()
    for (const [f, l] of [[1, 3], [7, 9], [4, 6], [10, 10]] as const) w.add(held(f, l), 0)
    expect(w.add(held(4, 6), 0)).toBe(false)
    expect(w.size).toBe(4)
    const firsts = (bs: HeldBatch[]) => bs.map(b => b.first)
    expect(firsts(w.find(SID, "A", 1, [[2, 5]], 0))).toEqual([1, 4])
    expect(firsts(w.find(SID, "A", 1, [[3, 3], [6, 7], [10, 12]], 0))).toEqual([1, 4, 7, 10])
    expect(firsts(w.find(SID, "A", 1, [[11, 20]], 0))).toEqual([])
    expect(firsts(w.find(SID, "A", 2, [[1, 20]], 0))).toEqual([])
    expect(firsts(w.find(SID, "A", 1, [[1, 10]], 0, 10))).toEqual([1, 4])
    expect(firsts(w.find(SID, "A", 1, [[1, 10]], 0, 3))).toEqual([1])
    expect(w.text(SID, "A", 1, 7)).toBe("t7-9")
    expect(w.latest(SID)).toEqual([{ sender: "A", epoch: 1, seq: 10 }])
  })

  it("stays within its count, characters and age, dropping the oldest first", () => {
    const w = new BatchWindow({ maxBatches: 3, maxBytes: 1_000, maxAgeMs: 100 })
    for (let i = 0; i < 10; i++) w.add(held(i * 2 + 1, i * 2 + 2), i)
    expect(w.size).toBe(3)
    expect(w.find(SID, "A", 1, [[1, 20]], 9).map(b => b.first)).toEqual([15, 17, 19])
    w.add(held(21, 22, "x".repeat(990)), 10)
    expect(w.bytes).toBeLessThanOrEqual(1_000)
    w.prune(1_000)
    expect(w.size).toBe(0)
    // any order of adds: what is held is always within the limits and findable
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 5 }), fc.constantFrom("A", "B")), { maxLength: 200 }), adds => {
        const v = new BatchWindow({ maxBatches: 50, maxBytes: 500, maxAgeMs: 1e9 })
        adds.forEach(([f, n, s], t) => v.add(held(f, f + n, `${f}`, s), t))
        expect(v.size).toBeLessThanOrEqual(50)
        expect(v.bytes).toBeLessThanOrEqual(500)
        for (const s of ["A", "B"]) {
          const got = v.find(SID, s, 1, [[1, 300]], adds.length)
          expect(got.map(b => b.first)).toEqual([...got.map(b => b.first)].sort((x, y) => x - y))
        }
      }),
    )
  })
})

describe("the inbox's gaps", () => {
  it("lists what is missing after a later seq or an announcement, holds what it has, and gives up on a gap", () => {
    const inbox = new ChannelInbox(SID, () => true)
    expect(inbox.accept(batch(a, [1, 2]), 0).map(m => m.seq)).toEqual([1, 2])
    expect(inbox.firstMissing(a.nodeId)).toBeUndefined()
    inbox.accept(batch(a, [5]), 0)
    inbox.accept(batch(a, [8, 9]), 0)
    expect(inbox.firstMissing(a.nodeId)).toEqual({ epoch: 1, next: 3 })
    expect(inbox.missing(a.nodeId, 100)).toEqual({ epoch: 1, ranges: [[3, 4], [6, 7]] })
    // an announcement reaches past what came: the tail is missing too
    inbox.announce(a.nodeId, 1, 12)
    expect(inbox.missing(a.nodeId, 100)?.ranges).toEqual([[3, 4], [6, 7], [10, 12]])
    expect(inbox.missing(a.nodeId, 4)?.ranges).toEqual([[3, 4], [6, 6]])
    expect(inbox.holds({ sender: a.nodeId, epoch: 1, first: 1, last: 2 })).toBe(true)
    expect(inbox.holds({ sender: a.nodeId, epoch: 1, first: 4, last: 5 })).toBe(false)
    expect(inbox.latest()).toEqual([{ sender: a.nodeId, epoch: 1, seq: 9 }])
    // the repair fills the first gap: delivered in order, counted as repaired
    expect(inbox.accept(batch(a, [3, 4]), 0, { repair: true }).map(m => m.seq)).toEqual([3, 4, 5])
    expect(inbox.counts.repaired).toBe(2)
    // the second is given up on: what waits behind it comes out; the late one is delivered marked late
    expect(inbox.giveUp(a.nodeId).map(m => m.seq)).toEqual([8, 9])
    expect(inbox.counts.skipped).toBe(2)
    expect(inbox.missing(a.nodeId, 100)?.ranges).toEqual([[10, 12]])
    // an announced tail nobody sends is forgotten
    expect(inbox.giveUp(a.nodeId)).toEqual([])
    expect(inbox.firstMissing(a.nodeId)).toBeUndefined()
    expect(inbox.accept(batch(a, [6]), 0)).toEqual([expect.objectContaining({ seq: 6, late: true })])
    expect(inbox.counts.duplicates).toBe(0)
  })

  it("a newer epoch lets out what waited in the older one", () => {
    const inbox = new ChannelInbox(SID, () => true)
    inbox.accept(batch(a, [1]), 0)
    inbox.accept(batch(a, [3]), 0)
    expect(inbox.accept(batch(a, [1], 2), 0).map(m => [m.epoch, m.seq])).toEqual([[1, 3], [2, 1]])
  })
})

describe("the repair schedule", () => {
  it("asks after a short delay, again after doubling waits, then gives up; progress starts over", () => {
    const s = new RepairSchedule({ delayMs: 10, waitMs: 100, attempts: 3 }, () => 0)
    s.observe("A", 1, 5, 0)
    expect(s.due(9)).toEqual([])
    expect(s.due(10)).toEqual([{ kind: "request", sender: "A", epoch: 1 }])
    expect(s.nextAt()).toBe(110)
    expect(s.due(110)).toEqual([{ kind: "request", sender: "A", epoch: 1 }])
    expect(s.nextAt()).toBe(310)
    // messages in order behind the gap (an announced tail nobody sends) change nothing
    s.observe("A", 1, 6, 120)
    expect(s.nextAt()).toBe(310)
    // a repair filled part of the gap: what remains is asked for soon, with a fresh count
    s.observe("A", 1, 7, 150, true)
    expect(s.nextAt()).toBe(160)
    s.due(160)
    s.due(260)
    s.due(460)
    expect(s.due(860)).toEqual([{ kind: "give-up", sender: "A", epoch: 1 }])
    expect(s.active).toBe(false)
  })

  it("another hub's request for the same gap counts as ours (one loss is asked for about once)", () => {
    const s = new RepairSchedule({ delayMs: 10, waitMs: 100, attempts: 2 }, () => 0.5)
    s.observe("A", 1, 5, 0)
    s.heard("A", 1, 3, 9, 1)
    expect(s.due(15)).toEqual([])
    expect(s.nextAt()).toBe(101)
    // a request that does not cover our first missing seq changes nothing
    s.heard("A", 1, 6, 9, 50)
    expect(s.nextAt()).toBe(101)
    s.observe("A", 1, undefined, 60)
    expect(s.nextAt()).toBeUndefined()
  })
})

describe("repair answers", () => {
  const key = (f: number) => batchKey(SID, "A", 1, f)
  it("the sender answers at once, another holder after a delay unless it sees an answer first; one answer per hold time", () => {
    const r = new RepairAnswers({ delayMs: 10, holdMs: 200 }, () => 0.5)
    expect(r.plan([{ key: key(1), text: "one" }], true, 0)).toBe(1)
    expect(r.plan([{ key: key(4), text: "four" }, { key: key(7), text: "seven" }], false, 0)).toBe(2)
    expect(r.due(0)).toEqual([["one"]])
    // another hub answered batch 4: ours is not needed
    r.heard(key(4), 5)
    expect(r.nextAt()).toBe(20)
    expect(r.due(20)).toEqual([["seven"]])
    // asked again at once (another hub's request for the same loss): not answered again within holdMs
    expect(r.plan([{ key: key(1), text: "one" }, { key: key(4), text: "four" }, { key: key(7), text: "seven" }], true, 100)).toBe(0)
    expect(r.plan([{ key: key(1), text: "one" }], true, 300)).toBe(1)
  })

  it("groups answers in frames of bounded size and serves each hub at a bounded rate", () => {
    const r = new RepairAnswers({ frameBytes: 10, perSecond: 10, burst: 3 })
    r.plan([1, 2, 3].map(f => ({ key: key(f), text: "xxxxxx" })), true, 0)
    expect(r.due(0)).toEqual([["xxxxxx"], ["xxxxxx"], ["xxxxxx"]])
    expect([1, 2, 3, 4, 5].map(() => r.admit("B", 0))).toEqual([true, true, true, false, false])
    expect(r.admit("C", 0)).toBe(true)
    expect(r.admit("B", 100)).toBe(true)
    expect(r.admit("B", 100)).toBe(false)
  })

  it("refuses ranges that are empty, out of order or too wide", () => {
    expect(rangesProblem([[1, 10], [20, 30]], 100)).toBeUndefined()
    expect(rangesProblem([[5, 4]], 100)).toMatch(/empty/)
    expect(rangesProblem([[10, 20], [15, 30]], 100)).toMatch(/overlaps/)
    expect(rangesProblem([[1, 1_000_000]], 4096)).toMatch(/more than 4096/)
  })
})
