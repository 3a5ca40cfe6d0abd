/**
 * Reputation: EigenTrust anchored at the pre-trusted nodes, weighted by observed
 * reliability. A pure function of the local registry, so every replica computes
 * the same scores; a clique that only vouches for itself earns exactly 0.
 */
import { FedhubError } from "../errors.ts"
import { isNodeId, type NodeId } from "../identity/index.ts"

/** Default teleport probability back to the pre-trusted nodes. */
export const DEFAULT_ALPHA = 0.15
/** Default maximum number of power iterations. */
export const DEFAULT_ITERATIONS = 100
/** Default convergence threshold on the L1 change of the trust vector. */
export const DEFAULT_EPSILON = 1e-9
/** Uptime assumed for a node never observed: no evidence either way. */
export const UNOBSERVED_UPTIME = 0.5

/** The formula in one paragraph, for the README and the dashboard's help text. */
export const REPUTATION_FORMULA =
  "Reputation is EigenTrust anchored at the pre-trusted nodes (those an administrator set to trusted or partner). " +
  "Each node's local trust in others (endorsements count 1, successful interactions add their weight; negative, zero or " +
  "non-finite weights and self-edges are ignored) is normalized so its outgoing weights sum to 1; a node with no " +
  "outgoing trust hands its share to the pre-trusted set. Starting from t = p (uniform over the pre-trusted nodes), " +
  "the engine iterates t ← (1 − α)·Cᵀt + α·p (α = 0.15 by default) until the L1 change is below ε = 1e-9 or after " +
  "100 iterations. eigen = t / max(t), in [0, 1]. reliability = (successes + 1) / (successes + failures + 2) × uptime " +
  "(a Laplace estimate of the success rate; uptime in [0, 1], 0.5 when never observed). " +
  "score = eigen × (0.5 + 0.5 × reliability), so reliability can halve a score but never raise it above eigen, and a " +
  "node with no trust path from a pre-trusted node scores exactly 0 however reliable it is. With no pre-trusted node " +
  "there is no anchor: nothing is trusted and every score is 0."

/** What this hub observed of a node's behaviour. */
export interface Observation {
  successes: number
  failures: number
  /** Fraction of checks the node answered, 0..1. */
  uptime: number
}

/** One local-trust edge: `from` vouches for `to` with a positive weight. */
export interface ReputationEdge {
  from: NodeId
  to: NodeId
  weight: number
}

/** The inputs of `computeReputation`. */
export interface ReputationInput {
  /** The nodes to score (pre-trusted nodes are scored too); edges to or from other nodes are ignored. */
  nodes: readonly NodeId[]
  /** The anchors: nodes an administrator set to trusted or partner. */
  preTrusted: readonly NodeId[]
  /** Local trust: endorsements (weight 1) and successful interactions; non-positive or non-finite weights are ignored. */
  edges: readonly ReputationEdge[]
  /** Observed behaviour per node; a missing node counts as unobserved. */
  observed: ReadonlyMap<NodeId, Observation>
  /** Teleport probability to the pre-trusted set, 0..1 (default 0.15). */
  alpha?: number
  /** Maximum power iterations (default 100). */
  iterations?: number
  /** Stop when the L1 change falls below this (default 1e-9). */
  epsilon?: number
}

/** One node's reputation; every field is in [0, 1]. */
export interface ReputationEntry {
  /** eigen × (0.5 + 0.5 × reliability). */
  score: number
  /** Global trust relative to the most trusted node (t_i / max t). */
  eigen: number
  /** Laplace success rate × uptime. */
  reliability: number
}

const count = (n: unknown): number => (typeof n === "number" && Number.isFinite(n) && n > 0 ? n : 0)

/** Reliability of one node: (successes + 1) / (successes + failures + 2) × uptime, uptime 0.5 when unobserved. */
export function reliabilityOf(obs: Observation | undefined): number {
  const s = count(obs?.successes)
  const f = count(obs?.failures)
  const u = obs?.uptime
  const uptime = typeof u === "number" && Number.isFinite(u) ? Math.min(1, Math.max(0, u)) : UNOBSERVED_UPTIME
  return ((s + 1) / (s + f + 2)) * uptime
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

function option(value: number | undefined, fallback: number, name: string, ok: (n: number) => boolean): number {
  const v = value ?? fallback
  if (typeof v !== "number" || !ok(v)) throw new FedhubError("INVALID_INPUT", `computeReputation: invalid ${name} ${String(v)}`)
  return v
}

/**
 * Scores every node of `nodes` and `preTrusted` (see REPUTATION_FORMULA). Deterministic:
 * inputs are sorted before any floating-point sum, so input order never changes a score.
 * Throws INVALID_INPUT for a bad option or a node list entry that is not a node id.
 */
export function computeReputation(input: ReputationInput): Map<NodeId, ReputationEntry> {
  const alpha = option(input.alpha, DEFAULT_ALPHA, "alpha", (a) => a >= 0 && a <= 1)
  const iterations = option(input.iterations, DEFAULT_ITERATIONS, "iterations", (i) => Number.isSafeInteger(i) && i >= 0)
  const epsilon = option(input.epsilon, DEFAULT_EPSILON, "epsilon", (e) => Number.isFinite(e) && e >= 0)

  const universe = new Set<NodeId>()
  for (const n of [...input.nodes, ...input.preTrusted]) {
    if (!isNodeId(n)) throw new FedhubError("INVALID_INPUT", `computeReputation: ${JSON.stringify(n)} is not a node id`)
    universe.add(n)
  }
  const ids = [...universe].sort(byString)
  const size = ids.length
  const index = new Map<string, number>(ids.map((id, i) => [id, i]))

  // p: uniform over the pre-trusted nodes
  const p = new Float64Array(size)
  const anchors = [...new Set(input.preTrusted)]
  for (const a of anchors) p[index.get(a)!] = 1 / anchors.length

  // C: valid edges, summed per pair and normalized per row, all in sorted order
  const valid: [number, number, number][] = []
  for (const e of input.edges) {
    const i = index.get(e?.from)
    const j = index.get(e?.to)
    const w = e?.weight
    if (i === undefined || j === undefined || i === j) continue
    if (typeof w !== "number" || !Number.isFinite(w) || w <= 0) continue
    valid.push([i, j, w])
  }
  valid.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2])
  const rowStart = new Int32Array(size + 1)
  const cols: number[] = []
  const vals: number[] = []
  let k = 0
  for (let i = 0; i < size; i++) {
    rowStart[i] = cols.length
    const first = cols.length
    while (k < valid.length && valid[k]![0] === i) {
      const [, j, w] = valid[k]!
      if (cols.length > first && cols[cols.length - 1] === j) vals[vals.length - 1]! += w
      else {
        cols.push(j)
        vals.push(w)
      }
      k++
    }
    // scale by the row's largest weight before summing, so huge weights cannot overflow to Infinity
    let max = 0
    for (let x = first; x < cols.length; x++) max = Math.max(max, vals[x]!)
    let sum = 0
    for (let x = first; x < cols.length; x++) sum += vals[x]! / max
    for (let x = first; x < cols.length; x++) vals[x] = vals[x]! / max / sum
  }
  rowStart[size] = cols.length

  // power iteration: t ← (1 − α)·Cᵀt + α·p, dangling rows hand their share to p
  let t = Float64Array.from(p)
  if (anchors.length > 0) {
    for (let it = 0; it < iterations; it++) {
      const next = new Float64Array(size)
      let dangling = 0
      for (let i = 0; i < size; i++) {
        const ti = t[i]!
        if (ti === 0) continue
        const start = rowStart[i]!
        const end = rowStart[i + 1]!
        if (start === end) dangling += ti
        else for (let x = start; x < end; x++) next[cols[x]!]! += ti * vals[x]!
      }
      const toAnchors = (1 - alpha) * dangling + alpha
      let delta = 0
      for (let j = 0; j < size; j++) {
        next[j] = (1 - alpha) * next[j]! + toAnchors * p[j]!
        delta += Math.abs(next[j]! - t[j]!)
      }
      t = next
      if (delta < epsilon) break
    }
  }

  let top = 0
  for (let i = 0; i < size; i++) top = Math.max(top, t[i]!)
  const out = new Map<NodeId, ReputationEntry>()
  for (let i = 0; i < size; i++) {
    const id = ids[i]! as NodeId
    const eigen = top > 0 ? Math.min(1, Math.max(0, t[i]! / top)) : 0
    const reliability = reliabilityOf(input.observed.get(id))
    out.set(id, { score: eigen * (0.5 + 0.5 * reliability), eigen, reliability })
  }
  return out
}
