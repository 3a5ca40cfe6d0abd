import { describe, expect, it } from "vitest"
import {
  computeReputation,
  REPUTATION_FORMULA,
  reliabilityOf,
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

const perfect: Observation = { successes: 1000, failures: 0, uptime: 1 }
const allPerfect = (ids: NodeId[]) => new Map(ids.map((id) => [id, perfect]))
const edge = (from: NodeId, to: NodeId, weight = 1): ReputationEdge => ({ from, to, weight })
const rep = (input: Partial<ReputationInput> & Pick<ReputationInput, "nodes">) =>
  computeReputation({ preTrusted: [T], edges: [], observed: new Map(), ...input })

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
        [B, { successes: 1, failures: 99, uptime: 0.5 }],
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

  it("computes reliability as a Laplace success rate times uptime, uptime 0.5 when unobserved", () => {
    expect(reliabilityOf({ successes: 8, failures: 0, uptime: 1 })).toBeCloseTo(0.9, 12)
    expect(reliabilityOf({ successes: 3, failures: 1, uptime: 0.5 })).toBeCloseTo((4 / 6) * 0.5, 12)
    expect(reliabilityOf(undefined)).toBe(0.25)
    expect(reliabilityOf({ successes: -5, failures: Number.NaN, uptime: 7 })).toBe(0.5)
  })

  it("gives every node 0 when no node is pre-trusted: nothing anchors trust", () => {
    const nodes = [T, A, B]
    const scores = computeReputation({
      nodes,
      preTrusted: [],
      edges: [edge(T, A), edge(A, B), edge(B, T)],
      observed: allPerfect(nodes),
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
      observed.set(id, { successes: Math.floor(random() * 100), failures: Math.floor(random() * 20), uptime: random() })
    const scores = computeReputation({ nodes, preTrusted: nodes.slice(0, 5), edges, observed })
    expect(scores.size).toBe(1000)
    expectInRange(scores)
    expect(Math.max(...[...scores.values()].map((s) => s.eigen))).toBe(1)
  })

  it("states its formula in one paragraph", () => {
    expect(REPUTATION_FORMULA).toContain("(1 − α)·Cᵀt + α·p")
    expect(REPUTATION_FORMULA).not.toContain("\n")
  })
})
