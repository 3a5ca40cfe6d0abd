/**
 * Reputation: EigenTrust anchored at the pre-trusted nodes, weighted by observed
 * reliability over time (hourly periods up, not connection attempts). A pure function
 * of the local registry and a clock, so every replica computes the same scores; a
 * clique that only vouches for itself earns exactly 0, and reconnecting buys nothing.
 */
import { FedhubError } from "../errors.ts"
import { isNodeId, type NodeId } from "../identity/index.ts"

/** Default teleport probability back to the pre-trusted nodes. */
export const DEFAULT_ALPHA = 0.15
/** Default maximum number of power iterations. */
export const DEFAULT_ITERATIONS = 100
/** Default convergence threshold on the L1 change of the trust vector. */
export const DEFAULT_EPSILON = 1e-9
/** One observation period: a node seen up (or failing) any number of times within one counts once. */
export const PERIOD_MS = 3_600_000
/** Observations older than this many periods (30 days) are forgotten. */
export const OBSERVATION_WINDOW_PERIODS = 720
/** This hub's own trust edge to a node needs it observed up over at least this many periods (24 h)… */
export const MIN_RELIABLE_SPAN_PERIODS = 24
/** …and up in at least this fraction of the periods since it was first observed. */
export const MIN_RELIABLE_UPTIME = 0.5
/** At most this many ranges are kept per list (the most recent); older ones are dropped. */
export const MAX_OBSERVED_RANGES = 256

/** The formula in one paragraph, for the README and the dashboard's help text. */
export const REPUTATION_FORMULA =
  "Reputation is EigenTrust anchored at the pre-trusted nodes (this hub and those an administrator set to trusted or partner). " +
  "Local trust: each accepted endorsement counts 1 (a refused record never removes an accepted one), and this hub's own edge to a " +
  "node weighs its observed uptime, not its connection count. Observations are hourly periods (a node seen up any number of times " +
  "in one hour counts once; a link held open counts every hour it stays up), kept for 30 days: with U periods up, D periods with a " +
  "failure only and M periods with both, N periods from the first observation in the window to now, uptime = (U + M/2) / N and " +
  "span = last up period − first up period + 1. The hub's edge weight is uptime when span ≥ 24 periods and uptime ≥ 0.5, else 0: " +
  "reconnecting never adds weight, and a node that connected once weighs 0 until it has been observed up over a day. " +
  "Negative, zero or non-finite weights and self-edges are ignored. Each node's outgoing weights are normalized to sum to 1; a node " +
  "with no outgoing trust hands its share to the pre-trusted set. Starting from t = p (uniform over the pre-trusted nodes), the " +
  "engine iterates t ← (1 − α)·Cᵀt + α·p (α = 0.15 by default) until the L1 change is below ε = 1e-9 or after 100 iterations. " +
  "eigen = t / max(t), in [0, 1]. reliability = (U + M/2 + 1) / (N + 2) (a Laplace estimate of uptime, 0.5 when never observed). " +
  "score = eigen × (0.5 + 0.5 × reliability), so reliability can halve a score but never raise it above eigen, and a node with no " +
  "trust path from a pre-trusted node scores exactly 0 however reliable it is. With no pre-trusted node there is no anchor: " +
  "nothing is trusted and every score is 0."

/** An inclusive range [first, last] of period numbers (floor(ms / PERIOD_MS)). */
export type PeriodRange = [number, number]

/**
 * What this hub observed of a node over time, as ascending, disjoint ranges of periods.
 * This is the registry's stored shape (`RegistryNode.observed`).
 */
export interface Observation {
  /** Periods in which the node was seen up: a link established, or held open through the period. */
  up: PeriodRange[]
  /** Periods in which a link with it failed. */
  down: PeriodRange[]
  /** While a link is believed open: when the current up interval started (ms). Not part of the formula. */
  upSince?: number
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
  /** Local trust: accepted endorsements (weight 1); non-positive or non-finite weights are ignored. */
  edges: readonly ReputationEdge[]
  /** Observed behaviour per node; a missing node counts as unobserved. */
  observed: ReadonlyMap<NodeId, Observation>
  /** The node whose observations `observed` holds (this hub): it gets an edge to each node weighted by `observedWeight`. */
  observer?: NodeId
  /** The clock the observations are judged at, ms since the epoch. */
  now: number
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
  /** Laplace estimate of uptime over the observed periods. */
  reliability: number
}

/** An observation reduced to the figures of the formula. */
export interface ObservationSummary {
  /** Periods up with no failure (U), with a failure only (D), with both (M). */
  up: number
  down: number
  mixed: number
  /** Periods from the first observation in the window to now (N); 0 when unobserved. */
  periods: number
  /** (U + M/2) / N, 0 when unobserved. */
  uptime: number
  /** Last up period − first up period + 1 within the window; 0 when never seen up. */
  spanPeriods: number
  /** (U + M/2 + 1) / (N + 2). */
  reliability: number
  /** This hub's edge weight: uptime when spanPeriods ≥ MIN_RELIABLE_SPAN_PERIODS and uptime ≥ MIN_RELIABLE_UPTIME, else 0. */
  weight: number
}

/** The period a time falls in. */
export const periodOf = (ms: number): number => Math.floor(ms / PERIOD_MS)

const isPeriod = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/** Ranges sorted, merged (adjacent ones too) and cut to [lo, hi], keeping the `max` most recent. */
function normalize(ranges: readonly unknown[], lo: number, hi: number, max = MAX_OBSERVED_RANGES): PeriodRange[] {
  const valid: PeriodRange[] = []
  for (const r of ranges) {
    if (!Array.isArray(r) || r.length !== 2 || !isPeriod(r[0]) || !isPeriod(r[1]) || r[0] > r[1]) continue
    const a = Math.max(r[0], lo)
    const b = Math.min(r[1], hi)
    if (a <= b) valid.push([a, b])
  }
  valid.sort((x, y) => x[0] - y[0] || x[1] - y[1])
  const out: PeriodRange[] = []
  for (const [a, b] of valid) {
    const last = out[out.length - 1]
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b)
    else out.push([a, b])
  }
  return out.slice(Math.max(0, out.length - max))
}

/** An observation with nothing observed. */
export const emptyObservation = (): Observation => ({ up: [], down: [] })

/**
 * Reads a stored observation of any shape: the current one is normalized; anything else
 * (the old `{ successes, failures, uptime }` counters, which measured connection attempts,
 * not time) becomes an empty observation. An open `upSince` is closed at `lastSeenMs`
 * (the last time this hub touched the record), since the link cannot have outlived the
 * process that held it.
 */
export function migrateObservation(raw: unknown, lastSeenMs?: number): Observation {
  const o = raw as Partial<Record<keyof Observation, unknown>> | null
  if (typeof o !== "object" || o === null || !Array.isArray(o.up) || !Array.isArray(o.down)) return emptyObservation()
  let obs: Observation = { up: normalize(o.up, 0, Number.MAX_SAFE_INTEGER), down: normalize(o.down, 0, Number.MAX_SAFE_INTEGER) }
  if (isPeriod(o.upSince) && isPeriod(lastSeenMs) && lastSeenMs >= o.upSince) obs = observeUp(obs, o.upSince, lastSeenMs, lastSeenMs)
  return obs
}

/** `obs` plus the node seen up from `fromMs` to `toMs` (each period touched counts), trimmed to the window at `now`. */
export function observeUp(obs: Observation, fromMs: number, toMs: number, now: number): Observation {
  const hi = periodOf(now)
  const lo = hi - OBSERVATION_WINDOW_PERIODS + 1
  const a = periodOf(Math.min(fromMs, toMs))
  const b = periodOf(Math.max(fromMs, toMs))
  return { ...obs, up: normalize([...obs.up, [a, b]], lo, hi), down: normalize(obs.down, lo, hi) }
}

/** `obs` plus a failure at `atMs`, trimmed to the window at `now`. */
export function observeDown(obs: Observation, atMs: number, now: number): Observation {
  const hi = periodOf(now)
  const lo = hi - OBSERVATION_WINDOW_PERIODS + 1
  const p = periodOf(atMs)
  return { ...obs, up: normalize(obs.up, lo, hi), down: normalize([...obs.down, [p, p]], lo, hi) }
}

/** The figures of the formula for one node at `now` (see REPUTATION_FORMULA); `undefined` is unobserved. */
export function summarizeObservation(obs: Observation | undefined, now: number): ObservationSummary {
  const hi = periodOf(now)
  const lo = hi - OBSERVATION_WINDOW_PERIODS + 1
  const up = new Set<number>()
  const down = new Set<number>()
  for (const [a, b] of normalize(obs?.up ?? [], lo, hi, Infinity)) for (let p = a; p <= b; p++) up.add(p)
  for (const [a, b] of normalize(obs?.down ?? [], lo, hi, Infinity)) for (let p = a; p <= b; p++) down.add(p)
  let mixed = 0
  let first = Infinity
  let firstUp = Infinity
  let lastUp = -Infinity
  for (const p of up) {
    if (down.has(p)) mixed++
    first = Math.min(first, p)
    firstUp = Math.min(firstUp, p)
    lastUp = Math.max(lastUp, p)
  }
  for (const p of down) first = Math.min(first, p)
  const U = up.size - mixed
  const D = down.size - mixed
  const periods = Number.isFinite(first) ? hi - first + 1 : 0
  const upWeight = U + mixed / 2
  const uptime = periods > 0 ? Math.min(1, upWeight / periods) : 0
  const spanPeriods = up.size > 0 ? lastUp - firstUp + 1 : 0
  const reliability = Math.min(1, (upWeight + 1) / (periods + 2))
  const weight = spanPeriods >= MIN_RELIABLE_SPAN_PERIODS && uptime >= MIN_RELIABLE_UPTIME ? uptime : 0
  return { up: U, down: D, mixed, periods, uptime, spanPeriods, reliability, weight }
}

/** Reliability of one node at `now`: (U + M/2 + 1) / (N + 2), 0.5 when unobserved. */
export const reliabilityOf = (obs: Observation | undefined, now: number): number => summarizeObservation(obs, now).reliability

/** The weight of the observer's own edge to a node at `now`; 0 until it was observed reliable over MIN_RELIABLE_SPAN_PERIODS. */
export const observedWeight = (obs: Observation | undefined, now: number): number => summarizeObservation(obs, now).weight

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
  const now = option(input.now, Number.NaN, "now", (n) => Number.isSafeInteger(n) && n >= 0)

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

  // the observer's own edges, weighted by observed uptime (never by connection count)
  const summaries = new Map<NodeId, ObservationSummary>()
  for (const id of ids) summaries.set(id as NodeId, summarizeObservation(input.observed.get(id as NodeId), now))
  const edges: ReputationEdge[] = [...input.edges]
  if (input.observer !== undefined && index.has(input.observer))
    for (const id of ids) {
      const w = summaries.get(id as NodeId)!.weight
      if (id !== input.observer && w > 0) edges.push({ from: input.observer, to: id as NodeId, weight: w })
    }

  // C: valid edges, summed per pair and normalized per row, all in sorted order
  const valid: [number, number, number][] = []
  for (const e of edges) {
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
    const reliability = summaries.get(id)!.reliability
    out.set(id, { score: eigen * (0.5 + 0.5 * reliability), eigen, reliability })
  }
  return out
}
