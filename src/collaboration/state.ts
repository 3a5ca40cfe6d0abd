/**
 * Where a session stands, as a pure function of its signed records (the same on every
 * replica, in any order): who was invited, who joined or declined, when it became active
 * (at least half of the participants joined: the seed's rule), pauses, resumes, its end,
 * and the actual duration (active time only). Records that do not verify, are kept under
 * another node's key, or come from a node that was not invited are refused with a reason.
 */
import type { NodeId, SignedEnvelope } from "../identity/index.ts"
import type { SessionDefinition, SessionInvite, SessionParticipant, SessionResponse, SessionTransition } from "../schema/index.ts"
import { byCodeUnit, openSigned, SESSION_PURPOSE } from "./signed.ts"

/** The seed's session statuses. */
export type SessionStatus = "pending" | "active" | "paused" | "completed" | "failed"
/** A participant's status, from its signed response. */
export type ParticipantStatus = "invited" | "joined" | "declined"

/** A participant as every view shows it. */
export interface ParticipantState extends SessionParticipant {
  status: ParticipantStatus
  /** When it joined (its signed response's time); the initiator joined at creation. */
  joinedAt: number | null
  reason?: string
}

/** A record left out of every decision, with why. */
export interface RefusedEntry {
  key: string
  reason: string
}

/** The state of a session. */
export interface SessionState {
  status: SessionStatus
  reason: string
  participants: ParticipantState[]
  startedAt: number | null
  endedAt: number | null
  /** Active time so far (ms): paused time is not counted. */
  durationMs: number
  refused: RefusedEntry[]
}

/** The records a session document holds, as untrusted values. */
export interface SessionRecords {
  responses: Record<string, unknown>
  transitions: Record<string, unknown>
  invites: Record<string, unknown>
}

/** The participants: the definition's, plus later invitations signed by the initiator. */
export function participantsOf(def: SessionDefinition, invites: Record<string, unknown>, refused: RefusedEntry[] = []): SessionParticipant[] {
  const out = [...def.participants]
  const opened: SignedEnvelope<SessionInvite>[] = []
  for (const [key, value] of Object.entries(invites)) {
    const o = openSigned(value, SESSION_PURPOSE.invite, "session#SessionInvite")
    if (!o.ok) refused.push({ key: `invites/${key}`, reason: o.reason })
    else if (o.env.signer !== def.initiator) refused.push({ key: `invites/${key}`, reason: `an invitation signed by ${o.env.signer}, not the initiator` })
    else if (o.env.payload.sessionId !== def.sessionId) refused.push({ key: `invites/${key}`, reason: `an invitation to ${o.env.payload.sessionId}` })
    else opened.push(o.env)
  }
  opened.sort((a, b) => a.time - b.time || byCodeUnit(a.payload.participant.nodeId, b.payload.participant.nodeId))
  for (const env of opened) if (!out.some(p => p.nodeId === env.payload.participant.nodeId)) out.push(env.payload.participant)
  return out
}

/** The latest valid response of every invited node; responses of nodes not invited are refused ("Node not invited to this session"). */
export function responsesOf(def: SessionDefinition, participants: SessionParticipant[], responses: Record<string, unknown>, refused: RefusedEntry[] = []): Map<NodeId, SignedEnvelope<SessionResponse>> {
  const out = new Map<NodeId, SignedEnvelope<SessionResponse>>()
  for (const [key, value] of Object.entries(responses)) {
    const o = openSigned(value, SESSION_PURPOSE.response, "session#SessionResponse", "nodeId")
    if (!o.ok) refused.push({ key: `responses/${key}`, reason: o.reason })
    else if (o.env.signer !== key) refused.push({ key: `responses/${key}`, reason: `kept under ${key} but signed by ${o.env.signer}` })
    else if (o.env.payload.sessionId !== def.sessionId) refused.push({ key: `responses/${key}`, reason: `a response to ${o.env.payload.sessionId}` })
    else if (!participants.some(p => p.nodeId === o.env.signer)) refused.push({ key: `responses/${key}`, reason: "Node not invited to this session" })
    else if (o.env.signer === def.initiator) refused.push({ key: `responses/${key}`, reason: "the initiator takes part by starting the session" })
    else out.set(o.env.signer, o.env)
  }
  return out
}

/** Whether `joined` of `total` participants is enough to activate (at least half: the seed's rule). */
export const activates = (joined: number, total: number): boolean => joined * 2 >= total

/** The state of a session at `now`, from its definition and records. */
export function sessionState(def: SessionDefinition, records: SessionRecords, now: number): SessionState {
  const refused: RefusedEntry[] = []
  const invited = participantsOf(def, records.invites, refused)
  const responses = responsesOf(def, invited, records.responses, refused)
  const participants: ParticipantState[] = invited.map(p => {
    if (p.nodeId === def.initiator) return { ...p, status: "joined", joinedAt: def.metadata.createdAt }
    const r = responses.get(p.nodeId as NodeId)
    if (!r) return { ...p, status: "invited", joinedAt: null }
    return { ...p, status: r.payload.response === "join" ? "joined" : "declined", joinedAt: r.payload.response === "join" ? r.time : null, ...(r.payload.reason ? { reason: r.payload.reason } : {}) }
  })
  // activation: the time the joins (in time order) first reached half of the participants
  const joinTimes = participants.filter(p => p.status === "joined").map(p => p.joinedAt!).sort((a, b) => a - b)
  const total = participants.length
  const need = Math.ceil(total / 2)
  const startedAt = joinTimes.length >= need ? joinTimes[need - 1]! : null
  const undecided = participants.filter(p => p.status === "invited").length
  // transitions by the initiator or a moderator, in time order
  const moderators = new Set(participants.filter(p => p.role === "initiator" || p.permissions.includes("moderate")).map(p => p.nodeId))
  const transitions: SignedEnvelope<SessionTransition>[] = []
  for (const [key, value] of Object.entries(records.transitions)) {
    const o = openSigned(value, SESSION_PURPOSE.transition, "session#SessionTransition")
    if (!o.ok) refused.push({ key: `transitions/${key}`, reason: o.reason })
    else if (o.env.payload.sessionId !== def.sessionId) refused.push({ key: `transitions/${key}`, reason: `a transition of ${o.env.payload.sessionId}` })
    else if (!moderators.has(o.env.signer)) refused.push({ key: `transitions/${key}`, reason: `${o.env.signer} may not moderate this session` })
    else transitions.push(o.env)
  }
  transitions.sort((a, b) => a.time - b.time || byCodeUnit(a.sig, b.sig))
  let status: SessionStatus = "pending"
  let reason = `${joinTimes.length} of ${total} joined; active at ${need}`
  let endedAt: number | null = null
  let activeSince: number | null = null
  let durationMs = 0
  if (startedAt === null && (joinTimes.length + undecided) < need) {
    status = "failed"
    reason = `too many declined: at most ${joinTimes.length + undecided} of ${total} can join, ${need} needed`
  }
  if (startedAt !== null) {
    status = "active"
    reason = `${joinTimes.length} of ${total} joined`
    activeSince = startedAt
  }
  for (const t of transitions) {
    if (status === "completed" || status === "failed") break
    const a = t.payload.action
    const at = Math.max(t.time, startedAt ?? t.time)
    if (a === "fail") {
      if (activeSince !== null) durationMs += Math.max(0, at - activeSince)
      status = "failed"
      endedAt = t.time
      reason = `failed${t.payload.reason ? `: ${t.payload.reason}` : ""} (by ${t.signer})`
    } else if (status === "pending") continue
    else if (a === "pause" && status === "active") {
      durationMs += Math.max(0, at - activeSince!)
      activeSince = null
      status = "paused"
      reason = `paused${t.payload.reason ? `: ${t.payload.reason}` : ""} (by ${t.signer})`
    } else if (a === "resume" && status === "paused") {
      activeSince = at
      status = "active"
      reason = `resumed (by ${t.signer})`
    } else if (a === "complete") {
      if (activeSince !== null) durationMs += Math.max(0, at - activeSince)
      activeSince = null
      status = "completed"
      endedAt = at
      reason = `completed${t.payload.reason ? `: ${t.payload.reason}` : ""} (by ${t.signer})`
    }
  }
  if (activeSince !== null && (status === "active")) durationMs += Math.max(0, now - activeSince)
  return { status, reason, participants, startedAt, endedAt, durationMs, refused }
}
