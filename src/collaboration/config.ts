/**
 * A session's definition (the seed's CrossInstanceSession, minus what is derived): the
 * seed's defaults filled in under what the initiator gives, then checked (schema, then the
 * rules a schema cannot say, then the participants' trust), answering a bad request with
 * ONE error that lists every problem.
 */
import { FedhubError } from "../errors.ts"
import { atLeast } from "../federation/trust.ts"
import { isNodeId, type NodeId } from "../identity/index.ts"
import { schemaProblems } from "../marketplace/schemaCheck.ts"
import type { SessionConfiguration, SessionCreateBody, SessionDefinition, SessionParticipant, SessionPermission, TrustLevel } from "../schema/index.ts"

/** The permissions a role has when the initiator names none. */
export const DEFAULT_PERMISSIONS: Record<SessionParticipant["role"], SessionPermission[]> = {
  initiator: ["read", "send", "edit", "vote", "sign", "moderate"],
  moderator: ["read", "send", "edit", "vote", "sign", "moderate"],
  participant: ["read", "send", "edit", "vote", "sign"],
  observer: ["read"],
}

/** The seed's defaults: private, content shared, no consensus, recorded, 30 days retention. */
export const defaultConfiguration = (): SessionConfiguration => ({
  privacyLevel: "private",
  dataSharing: { allowContent: true, allowPersonalData: false, allowModelSharing: false, retentionPeriod: 30 },
  consensusRequired: false,
  recordingEnabled: true,
  maxParticipants: 50,
})

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

function merge(under: unknown, over: unknown): unknown {
  if (over === undefined) return structuredClone(under)
  if (!isPlain(under) || !isPlain(over)) return structuredClone(over)
  const out: Record<string, unknown> = {}
  for (const k of new Set([...Object.keys(under), ...Object.keys(over)])) out[k] = merge(under[k], over[k])
  return out
}

/** A participant as given (a node id or an object) made whole, or why it cannot be. */
export function participantOf(p: unknown): SessionParticipant | string {
  if (typeof p === "string") return isNodeId(p) ? { nodeId: p as NodeId, role: "participant", permissions: DEFAULT_PERMISSIONS.participant } : `${JSON.stringify(p)} is not a node id`
  if (!isPlain(p) || typeof p.nodeId !== "string" || !isNodeId(p.nodeId)) return `${JSON.stringify(p)} names no node id`
  const role = (p.role ?? "participant") as SessionParticipant["role"]
  if (!(role in DEFAULT_PERMISSIONS) || role === "initiator") return `${p.nodeId}: role ${JSON.stringify(role)} is not moderator, participant or observer`
  const permissions = (Array.isArray(p.permissions) ? p.permissions : DEFAULT_PERMISSIONS[role]) as SessionPermission[]
  return { nodeId: p.nodeId as NodeId, role, permissions: [...new Set(["read" as const, ...permissions])] }
}

/** What the definition must also satisfy: one entry per node, the initiator first, the maximum respected. */
export function definitionRuleProblems(d: SessionDefinition): string[] {
  const out: string[] = []
  const seen = new Set<string>()
  d.participants.forEach((p, i) => {
    if (seen.has(p.nodeId)) out.push(`/participants/${i}: ${p.nodeId} is named twice`)
    seen.add(p.nodeId)
    if (i > 0 && p.role === "initiator") out.push(`/participants/${i}: only the first participant is the initiator`)
  })
  if (d.participants[0]?.nodeId !== d.initiator || d.participants[0]?.role !== "initiator") out.push("/participants/0 must be the initiator, with role initiator")
  if (d.participants.length > d.configuration.maxParticipants)
    out.push(`/participants: ${d.participants.length} participants, more than maxParticipants ${d.configuration.maxParticipants}`)
  if (d.participants.length < 2) out.push("/participants: a session needs at least one participant beside its initiator")
  return out
}

/** Every problem of a definition ([] when valid): schema first, then the rules. */
export function definitionProblems(d: unknown): string[] {
  const schema = schemaProblems("session", d)
  return schema.length > 0 ? schema : definitionRuleProblems(d as SessionDefinition)
}

/** What building a definition needs to know of the federation. */
export interface DefinitionContext {
  initiator: NodeId
  sessionId: string
  now: number
  /** A node's trust level on this hub, undefined when it is not a known node. */
  trustOf: (nodeId: NodeId) => TrustLevel | undefined
  minTrust: TrustLevel
  transcript?: string
}

/**
 * The definition of a new session from an API body, with the seed's defaults; throws
 * SESSION_INVALID listing every problem (extra.problems), participants' trust included.
 */
export function createDefinition(body: SessionCreateBody, ctx: DefinitionContext): SessionDefinition {
  const problems: string[] = []
  const participants: SessionParticipant[] = [{ nodeId: ctx.initiator, role: "initiator", permissions: DEFAULT_PERMISSIONS.initiator }]
  ;(body.participants ?? []).forEach((raw, i) => {
    const p = participantOf(raw)
    if (typeof p === "string") return void problems.push(`/participants/${i}: ${p}`)
    if (p.nodeId === ctx.initiator) return void problems.push(`/participants/${i}: the initiator takes part already`)
    const level = ctx.trustOf(p.nodeId as NodeId)
    if (level === undefined) problems.push(`/participants/${i}: ${p.nodeId} is not a known node`)
    else if (!atLeast(level, ctx.minTrust)) problems.push(`/participants/${i}: ${p.nodeId} is ${level}, below the required trust level ${ctx.minTrust}`)
    participants.push(p)
  })
  const def = {
    sessionId: ctx.sessionId,
    name: body.name ?? "session",
    description: body.description ?? "",
    type: body.type ?? "knowledge_sharing",
    initiator: ctx.initiator,
    participants,
    configuration: merge(defaultConfiguration(), body.configuration) as SessionConfiguration,
    metadata: { createdAt: ctx.now, expectedDuration: body.expectedDuration ?? 60, tags: body.tags ?? [], category: body.category ?? "" },
    ...(ctx.transcript ? { transcript: ctx.transcript } : {}),
  }
  problems.push(...definitionProblems(def))
  if (problems.length > 0) throw new FedhubError("SESSION_INVALID", `${problems.length} problem(s): ${problems.join("; ")}`, { problems })
  return def as SessionDefinition
}
