/**
 * A session's quality, derived from what happened (never stored as racing counters):
 * participant satisfaction and output quality from the participants' signed ratings
 * (one per node, the latest), the trust score from the federation layer's reputation of
 * the joined participants, and the conflict count from the documents' concurrent values
 * and the rejected decisions.
 */
import type { NodeId, SignedEnvelope } from "../identity/index.ts"
import type { SessionRating } from "../schema/index.ts"
import type { ParticipantState, RefusedEntry } from "./state.ts"
import { openSigned, SESSION_PURPOSE } from "./signed.ts"

export interface QualityView {
  /** Mean satisfaction 1..5 over the ratings (null: none yet). */
  participantSatisfaction: number | null
  /** Mean output quality 1..5 over the ratings. */
  outputQuality: number | null
  ratings: { rater: NodeId; satisfaction: number; outputQuality: number; comment?: string; time: number }[]
  /** Mean reputation (0..1) of the joined participants, as this hub's federation layer computes it. */
  trustScore: number
  /** Fields with concurrent values in the session's documents, plus rejected decisions. */
  conflictCount: number
}

const mean = (xs: number[]): number | null => (xs.length === 0 ? null : Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100)

/** Quality from the ratings, reputations and conflicts (pure). */
export function qualityOf(
  sessionId: string,
  participants: ParticipantState[],
  ratings: Record<string, unknown>,
  reputation: (node: NodeId) => number,
  conflicts: number,
  refused: RefusedEntry[] = [],
): QualityView {
  const kept: SignedEnvelope<SessionRating>[] = []
  for (const [key, value] of Object.entries(ratings)) {
    const o = openSigned(value, SESSION_PURPOSE.rating, "session#SessionRating")
    if (!o.ok) refused.push({ key: `ratings/${key}`, reason: o.reason })
    else if (o.env.signer !== key) refused.push({ key: `ratings/${key}`, reason: `kept under ${key} but signed by ${o.env.signer}` })
    else if (o.env.payload.sessionId !== sessionId) refused.push({ key: `ratings/${key}`, reason: `a rating of ${o.env.payload.sessionId}` })
    else if (!participants.some(p => p.nodeId === key && p.status === "joined")) refused.push({ key: `ratings/${key}`, reason: `${key} is not a joined participant` })
    else kept.push(o.env)
  }
  kept.sort((a, b) => (a.signer < b.signer ? -1 : 1))
  const joined = participants.filter(p => p.status === "joined").map(p => reputation(p.nodeId as NodeId))
  return {
    participantSatisfaction: mean(kept.map(r => r.payload.satisfaction)),
    outputQuality: mean(kept.map(r => r.payload.outputQuality)),
    ratings: kept.map(r => ({ rater: r.signer, satisfaction: r.payload.satisfaction, outputQuality: r.payload.outputQuality, ...(r.payload.comment ? { comment: r.payload.comment } : {}), time: r.time })),
    trustScore: mean(joined) ?? 0,
    conflictCount: conflicts,
  }
}
