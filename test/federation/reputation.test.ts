import { describe, expect, it } from "vitest"
import {
  computeReputation,
  emptyObservation,
  MAX_OBSERVED_RANGES,
  migrateObservation,
  MIN_RELIABLE_SPAN_PERIODS,
  observedWeight,
  observeDown,
  observeUp,
  OBSERVATION_WINDOW_PERIODS,
  PERIOD_MS,
  periodOf,
  REPUTATION_FORMULA,
  reliabilityOf,
  summarizeObservation,
  type Observation,
  type ReputationEdge,
  type ReputationInput,
} from "../../src/federation/reputation.ts"
import { Identity, nodeIdFromPublicKey, type NodeId } from "../../src/identity/index.ts"

const node = (n: number): NodeId => Identity.fromSeed(new Uint8Array(32).fill(n)).nodeId
const T = node(1)
const A = node(2)
const B = node(3)
const C = node(4)

/** The clock of these tests: the end of period 10,000. */
const NOW_P = 10_000
const NOW = NOW_P * PERIOD_MS + PERIOD_MS - 1
/** Up in every period of the window. */
const perfect: Observation = { up: [[NOW_P - OBSERVATION_WINDOW_PERIODS + 1, NOW_P]], down: [] }
/** Up in each of the last `n` periods (ending now). */
const upFor = (n: number): Observation => ({ up: [[NOW_P - n + 1, NOW_P]], down: [] })
const allPerfect = (ids: NodeId[]) => new Map(ids.map((id) => [id, perfect]))
const edge = (from: NodeId, to: NodeId, weight = 1): ReputationEdge => ({ from, to, weight })
const rep = (input: Partial<ReputationInput> & Pick<ReputationInput, "nodes">) =>
  computeReputation({ preTrusted: [T], edges: [], observed: new Map(), now: NOW, ...input })

/** A small deterministic PRNG (mulberry32), so the random graph is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const expectInRange = (scores: Map<NodeId, { score: number; eigen: number; reliability: number }>) => {
  for (const { score, eigen, reliability } of scores.values())
    for (const v of [score, eigen, reliability]) {
      expect(Number.isFinite(v)).toBe(true)
      expect(v).toBeGreaterThanOrEqual(0)
      expect(v).toBeLessThanOrEqual(1)
    }
}

describe("computeReputation", () => {
  it("gives exactly 0 to fifty nodes that endorse one another with no path from a trusted node", () => {
    const clique = Array.from({ length: 50 }, (_, i) => node(10 + i))
    const edges: ReputationEdge[] = [edge(T, A)]
    for (const from of clique) for (const to of clique) if (from !== to) edges.push(edge(from, to, 1_000_000))
    const nodes = [T, A, ...clique]
    const scores = rep({ nodes, edges, observed: allPerfect(nodes) })
    for (const id of clique) expect(scores.get(id)).toEqual({ score: 0, eigen: 0, reliability: expect.any(Number) as number })
    expect(scores.get(clique[0]!)!.reliability).toBeGreaterThan(0.99)
    expect(scores.get(A)!.score).toBeGreaterThan(0)
  })

  it("ranks the pre-trusted node highest when every node is equally reliable", () => {
    const nodes = [T, A, B, C]
    // C endorses no one, so its share returns to the pre-trusted set
    const scores = rep({ nodes, edges: [edge(T, A), edge(T, B), edge(A, B), edge(B, C)], observed: allPerfect(nodes) })
    expect(scores.get(T)!.eigen).toBe(1)
    for (const id of [A, B, C]) expect(scores.get(id)!.score).toBeLessThan(scores.get(T)!.score)
  })

  it("can rank a closed cycle reached from the anchor above the anchor itself (EigenTrust, not a bug)", () => {
    const nodes = [T, A, B, C]
    const scores = rep({ nodes, edges: [edge(T, A), edge(A, B), edge(B, C), edge(C, A)], observed: allPerfect(nodes) })
    expect(scores.get(T)!.eigen).toBeLessThan(1)
    for (const id of [A, B, C]) expect(scores.get(id)!.score).toBeGreaterThan(0)
  })

  it("lets reliability lower a score but never raise it above eigen", () => {
    const nodes = [T, A, B]
    const scores = rep({
      nodes,
      edges: [edge(T, A), edge(T, B)],
      observed: new Map([
        [A, perfect],
        [B, { up: [[NOW_P - 99, NOW_P - 99]], down: [[NOW_P - 98, NOW_P]] }],
      ]),
    })
    const a = scores.get(A)!
    const b = scores.get(B)!
    expect(a.eigen).toBeCloseTo(b.eigen, 12)
    expect(b.score).toBeLessThan(a.score)
    for (const s of scores.values()) {
      expect(s.score).toBeLessThanOrEqual(s.eigen)
      expect(s.score).toBeGreaterThanOrEqual(s.eigen / 2)
    }
  })

  it("computes reliability as a Laplace estimate of uptime over hourly periods, 0.5 when unobserved", () => {
    // 8 periods up, observed for 8 periods: (8 + 1) / (8 + 2)
    expect(reliabilityOf(upFor(8), NOW)).toBeCloseTo(0.9, 12)
    // up 3 periods, then 1 with a failure only, then 1 with both, observed 5 periods: (3 + 0.5 + 1) / (5 + 2)
    const mixed: Observation = { up: [[NOW_P - 4, NOW_P - 2], [NOW_P, NOW_P]], down: [[NOW_P - 1, NOW_P]] }
    expect(summarizeObservation(mixed, NOW)).toMatchObject({ up: 3, down: 1, mixed: 1, periods: 5 })
    expect(reliabilityOf(mixed, NOW)).toBeCloseTo(4.5 / 7, 12)
    expect(reliabilityOf(undefined, NOW)).toBe(0.5)
    expect(reliabilityOf(emptyObservation(), NOW)).toBe(0.5)
    // garbage ranges are ignored, not trusted
    const garbage = { up: [[5, 1], [-3, 2], ["a", 4], [NOW_P + 5, NOW_P + 9]], down: [] } as unknown as Observation
    expect(reliabilityOf(garbage, NOW)).toBe(0.5)
  })

  it("counts a node seen up any number of times in one period once: reconnecting 50 times raises nothing", () => {
    const nodes = [T, A]
    let once = emptyObservation()
    once = observeUp(once, NOW - 1000, NOW - 1000, NOW)
    let fifty = emptyObservation()
    for (let i = 0; i < 50; i++) fifty = observeUp(fifty, NOW - 1000 - i, NOW - 1000 - i, NOW)
    expect(fifty).toEqual(once)
    // the same with a node that earned an edge: 50 more reconnects in the last period change nothing
    let reliable = upFor(48)
    const before = rep({ nodes, observer: T, observed: new Map([[A, reliable]]) }).get(A)!
    for (let i = 0; i < 50; i++) reliable = observeUp(reliable, NOW - i, NOW - i, NOW)
    const after = rep({ nodes, observer: T, observed: new Map([[A, reliable]]) }).get(A)!
    expect(before.score).toBeGreaterThan(0)
    expect(after).toEqual(before)
  })

  it("gives a node that connected once exactly 0 until it was observed up over the minimum span", () => {
    const nodes = [T, A]
    const score = (obs: Observation) => rep({ nodes, observer: T, observed: new Map([[A, obs]]) }).get(A)!.score
    expect(score(upFor(1))).toBe(0)
    expect(observedWeight(upFor(1), NOW)).toBe(0)
    expect(score(upFor(MIN_RELIABLE_SPAN_PERIODS - 1))).toBe(0)
    expect(observedWeight(upFor(MIN_RELIABLE_SPAN_PERIODS), NOW)).toBe(1)
    expect(score(upFor(MIN_RELIABLE_SPAN_PERIODS))).toBeGreaterThan(0)
    // connected once a day ago and not since: seen up in 1 of 24 periods, no edge
    const onceLongAgo: Observation = { up: [[NOW_P - 30, NOW_P - 30]], down: [] }
    expect(score(onceLongAgo)).toBe(0)
    // two sightings 30 periods apart span the minimum but show an uptime of 2/31: no edge either
    const twoSightings: Observation = { up: [[NOW_P - 30, NOW_P - 30], [NOW_P, NOW_P]], down: [] }
    expect(summarizeObservation(twoSightings, NOW).spanPeriods).toBe(31)
    expect(observedWeight(twoSightings, NOW)).toBe(0)
    expect(score(twoSightings)).toBe(0)
  })

  it("weighs the observer's edge by uptime, never above 1, whatever the history length", () => {
    const week = upFor(7 * 24)
    const month = perfect
    expect(observedWeight(week, NOW)).toBe(1)
    expect(observedWeight(month, NOW)).toBe(1)
    // up 3 of every 4 periods over 100 periods
    let flaky = emptyObservation()
    for (let p = NOW_P - 99; p <= NOW_P; p++)
      flaky = p % 4 === 0 ? observeDown(flaky, p * PERIOD_MS, NOW) : observeUp(flaky, p * PERIOD_MS, p * PERIOD_MS, NOW)
    expect(observedWeight(flaky, NOW)).toBeCloseTo(0.75, 12)
    const scores = rep({ nodes: [T, A, B], observer: T, observed: new Map([[A, week], [B, flaky]]) })
    expect(scores.get(B)!.score).toBeGreaterThan(0)
    expect(scores.get(B)!.score).toBeLessThan(scores.get(A)!.score)
  })

  it("forgets periods older than the window and keeps a bounded number of ranges", () => {
    let obs = emptyObservation()
    for (let p = NOW_P - 2000; p <= NOW_P; p += 2) obs = observeUp(obs, p * PERIOD_MS, p * PERIOD_MS, NOW)
    expect(obs.up.length).toBeLessThanOrEqual(MAX_OBSERVED_RANGES)
    for (const [a] of obs.up) expect(a).toBeGreaterThan(NOW_P - OBSERVATION_WINDOW_PERIODS)
    // a month later nothing of it counts
    const later = NOW + (OBSERVATION_WINDOW_PERIODS + 1) * PERIOD_MS
    expect(summarizeObservation(obs, later).periods).toBe(0)
    expect(observedWeight(obs, later)).toBe(0)
  })

  it("an up interval covers every period it spans", () => {
    const obs = observeUp(emptyObservation(), (NOW_P - 30) * PERIOD_MS + 5, NOW, NOW)
    expect(obs.up).toEqual([[NOW_P - 30, NOW_P]])
    expect(periodOf(NOW)).toBe(NOW_P)
  })

  it("migrates the old success counters to an empty observation and closes an open interval at lastSeen", () => {
    expect(migrateObservation({ successes: 5000, failures: 0, uptime: 1 })).toEqual(emptyObservation())
    expect(migrateObservation(undefined)).toEqual(emptyObservation())
    expect(migrateObservation("nonsense")).toEqual(emptyObservation())
    const open = { up: [[NOW_P - 2, NOW_P - 2]], down: [], upSince: (NOW_P - 2) * PERIOD_MS }
    const migrated = migrateObservation(open, NOW)
    expect(migrated).toEqual({ up: [[NOW_P - 2, NOW_P]], down: [] })
    expect(migrated.upSince).toBeUndefined()
  })

  it("refuses a missing clock", () => {
    expect(() => computeReputation({ nodes: [T], preTrusted: [T], edges: [], observed: new Map() } as unknown as ReputationInput)).toThrow(
      /now/,
    )
  })

  it("gives every node 0 when no node is pre-trusted: nothing anchors trust", () => {
    const nodes = [T, A, B]
    const scores = computeReputation({
      nodes,
      preTrusted: [],
      edges: [edge(T, A), edge(A, B), edge(B, T)],
      observed: allPerfect(nodes),
      now: NOW,
    })
    for (const s of scores.values()) {
      expect(s.score).toBe(0)
      expect(s.eigen).toBe(0)
    }
    expect(scores.get(A)!.reliability).toBeGreaterThan(0.99)
  })

  it("ignores negative, zero, NaN and self edges and edges to nodes it does not score", () => {
    const stranger = nodeIdFromPublicKey(new Uint8Array(32).fill(99))
    const scores = rep({
      nodes: [T, A, B, C],
      edges: [edge(T, A, -5), edge(T, B, Number.NaN), edge(T, C, 0), edge(C, C, 10), edge(T, stranger, 3)],
    })
    for (const id of [A, B, C]) expect(scores.get(id)!.score).toBe(0)
    expect(scores.has(stranger)).toBe(false)
    expect(scores.get(T)!.eigen).toBe(1)
  })

  it("gives the same scores whatever the order of nodes and edges", () => {
    const nodes = [T, A, B, C]
    const edges = [edge(T, A, 3), edge(T, B, 1), edge(A, B, 2), edge(B, C, 5), edge(C, A, 0.7), edge(A, B, 0.1)]
    const first = rep({ nodes, edges })
    const second = rep({ nodes: [...nodes].reverse(), edges: [...edges].reverse() })
    expect([...second]).toEqual([...first])
  })

  it("keeps every score in [0, 1] and converges on a random graph of 1,000 nodes", () => {
    const random = prng(42)
    const nodes = Array.from({ length: 1000 }, (_, i) => {
      const key = new Uint8Array(32)
      new DataView(key.buffer).setUint32(0, i + 1)
      return nodeIdFromPublicKey(key)
    })
    const edges: ReputationEdge[] = []
    for (let i = 0; i < 10_000; i++) {
      const from = nodes[Math.floor(random() * nodes.length)]!
      const to = nodes[Math.floor(random() * nodes.length)]!
      edges.push(edge(from, to, random() * 10))
    }
    const observed = new Map<NodeId, Observation>()
    for (const id of nodes.slice(0, 500))
      observed.set(id, {
        up: [[NOW_P - Math.floor(random() * 700), NOW_P - Math.floor(random() * 10)]],
        down: [[NOW_P - Math.floor(random() * 5), NOW_P]],
      })
    const scores = computeReputation({ nodes, preTrusted: nodes.slice(0, 5), edges, observed, observer: nodes[0], now: NOW })
    expect(scores.size).toBe(1000)
    expectInRange(scores)
    expect(Math.max(...[...scores.values()].map((s) => s.eigen))).toBe(1)
  })

  it("states its formula in one paragraph", () => {
    expect(REPUTATION_FORMULA).toContain("(1 − α)·Cᵀt + α·p")
    expect(REPUTATION_FORMULA).not.toContain("\n")
  })
})
