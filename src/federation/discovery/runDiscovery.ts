/**
 * Runs every discovery method in parallel, de-duplicates candidates by node id
 * (or URL when no id is claimed), verifies each, and reports per method what was
 * found, verified or refused and why, and how long it took. A failing method or
 * candidate is reported and counted, never fatal.
 */
import { toFedhubError } from "../../errors.ts"
import { syncEndpoint } from "../../replication/handshake.ts"
import type { VerifiedNode } from "../verifyCandidate.ts"
import type { Candidate, DiscoveryMethod, DiscoverySource, SourceProblem } from "./types.ts"

export interface MethodReport {
  method: DiscoveryMethod
  found: number
  problems: SourceProblem[]
  durationMs: number
}

export interface CandidateReport {
  methods: DiscoveryMethod[]
  url: string
  claimedId?: string
  status: "verified" | "refused" | "skipped"
  nodeId?: string
  code?: string
  reason?: string
  durationMs: number
}

export interface DiscoveryReport {
  startedAt: number
  durationMs: number
  methods: MethodReport[]
  candidates: CandidateReport[]
  verified: VerifiedNode[]
}

export interface RunOptions {
  verify: (c: { url: string; nodeId?: string }) => Promise<VerifiedNode>
  /** Returns a reason to skip a candidate without dialing it (blocked, ourselves), or undefined. */
  skip?: (c: { url: string; nodeId?: string }) => string | undefined
  timeoutMs?: number
  signal?: AbortSignal
  /** Most verifications at once. */
  concurrency?: number
}

const keyOf = (c: Candidate): string => {
  if (c.nodeId) return `id:${c.nodeId}`
  try {
    return `url:${syncEndpoint(c.url)}`
  } catch {
    return `raw:${c.url}`
  }
}

/** Discovers with every source at once and verifies what they found. */
export async function runDiscovery(sources: DiscoverySource[], opts: RunOptions): Promise<DiscoveryReport> {
  const startedAt = Date.now()
  const t0 = performance.now()
  const methods = await Promise.all(
    sources.map(async source => {
      const s0 = performance.now()
      try {
        const r = await source.discover({ timeoutMs: opts.timeoutMs, signal: opts.signal })
        return { source, result: r, durationMs: performance.now() - s0 }
      } catch (e) {
        const err = toFedhubError(e)
        const problem: SourceProblem = { method: source.method, source: source.method, code: err.code, detail: err.detail }
        return { source, result: { candidates: [], problems: [problem] }, durationMs: performance.now() - s0 }
      }
    }),
  )
  const groups = new Map<string, { candidate: Candidate; methods: Set<DiscoveryMethod> }>()
  for (const { result } of methods)
    for (const c of result.candidates) {
      const key = keyOf(c)
      const g = groups.get(key)
      if (g) g.methods.add(c.method)
      else groups.set(key, { candidate: c, methods: new Set([c.method]) })
    }

  const reports: CandidateReport[] = []
  const verified = new Map<string, VerifiedNode>()
  const queue = [...groups.values()]
  const worker = async () => {
    for (let g = queue.shift(); g; g = queue.shift()) {
      const c0 = performance.now()
      const base = { methods: [...g.methods].sort(), url: g.candidate.url, claimedId: g.candidate.nodeId }
      const skip = opts.skip?.(g.candidate)
      if (skip) {
        reports.push({ ...base, status: "skipped", reason: skip, durationMs: 0 })
        continue
      }
      try {
        const v = await opts.verify(g.candidate)
        if (!verified.has(v.nodeId)) verified.set(v.nodeId, v)
        reports.push({ ...base, status: "verified", nodeId: v.nodeId, durationMs: Math.round(performance.now() - c0) })
      } catch (e) {
        const err = toFedhubError(e)
        // a refusal after the key was proven (a policy, e.g. NOT_ALLOWED) names the node, so an administrator can admit it
        const nodeId = typeof err.extra?.nodeId === "string" ? err.extra.nodeId : undefined
        reports.push({ ...base, status: "refused", ...(nodeId ? { nodeId } : {}), code: err.code, reason: err.detail, durationMs: Math.round(performance.now() - c0) })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 16) }, worker))
  return {
    startedAt,
    durationMs: Math.round(performance.now() - t0),
    methods: methods.map(m => ({
      method: m.source.method,
      found: m.result.candidates.length,
      problems: m.result.problems,
      durationMs: Math.round(m.durationMs),
    })),
    candidates: reports.sort((a, b) => a.url.localeCompare(b.url)),
    verified: [...verified.values()],
  }
}
