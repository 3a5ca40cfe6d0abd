/**
 * Decisions and agreements of a session, as pure functions of its signed records.
 *
 * - A proposal is signed by a participant with the `vote` permission; its id is its envelope id.
 * - One counted vote per voter and proposal (the latest by signed time), by a joined
 *   participant with the `vote` permission; others are refused with a reason.
 * - The rule is the session's `consensusRequired`: true, every joined voter must approve
 *   (one no rejects); false, more than half of the joined voters (a half that can no longer
 *   be reached rejects).
 * - An agreement is a text signed by its proposer; each participant signs the SHA-256 of its
 *   exact text, so changing one character invalidates every signature. Every hub shows who
 *   signed what and whether it verifies.
 */
import { createHash } from "node:crypto"
import { envelopeId, signEnvelope, type Identity, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import type { AgreementSignature, DecisionVote, Proposal, SessionAgreement } from "../schema/index.ts"
import type { ParticipantState, RefusedEntry } from "./state.ts"
import { byCodeUnit, openSigned, SESSION_PURPOSE } from "./signed.ts"

/** Where a proposal stands. */
export type DecisionStatus = "approved" | "rejected" | "pending"

export interface DecisionView {
  proposalId: string
  title: string
  description?: string
  proposer: NodeId
  time: number
  status: DecisionStatus
  reason: string
  tally: { yes: number; no: number; eligible: number }
  votes: { voter: NodeId; approve: boolean; time: number; reason?: string }[]
  refusedVotes: RefusedEntry[]
}

export interface AgreementView {
  agreementId: string
  title: string
  text: string
  textHash: string
  proposer: NodeId
  time: number
  /** Every signature found, verifying or not. */
  signatures: { signer: string; verified: boolean; reason?: string; time: number | null }[]
  /** Joined participants with `sign` whose valid signature is missing. */
  missing: NodeId[]
  /** Every joined signer signed this exact text. */
  complete: boolean
}

export const sha256Hex = (s: string): string => createHash("sha256").update(s, "utf8").digest("hex")

export const signProposal = (id: Identity, p: Proposal, time?: number): SignedEnvelope<Proposal> => signEnvelope(id, SESSION_PURPOSE.proposal, p, time)
export const signDecisionVote = (id: Identity, v: DecisionVote, time?: number): SignedEnvelope<DecisionVote> => signEnvelope(id, SESSION_PURPOSE.vote, v, time)
export const signAgreement = (id: Identity, a: SessionAgreement, time?: number): SignedEnvelope<SessionAgreement> => signEnvelope(id, SESSION_PURPOSE.agreement, a, time)
/** Signs the exact text of an agreement. */
export const signAgreementText = (id: Identity, sessionId: string, agreementId: string, text: string, time?: number): SignedEnvelope<AgreementSignature> =>
  signEnvelope(id, SESSION_PURPOSE.agreementSignature, { sessionId, agreementId, textHash: sha256Hex(text) }, time)

const may = (participants: ParticipantState[], node: string, permission: "vote" | "sign"): boolean =>
  participants.some(p => p.nodeId === node && p.status === "joined" && p.permissions.includes(permission))

/** The outcome of a vote under the session's rule (pure). */
export function decide(yes: number, no: number, eligible: number, consensusRequired: boolean): { status: DecisionStatus; reason: string } {
  if (eligible === 0) return { status: "pending", reason: "no participant may vote yet" }
  if (consensusRequired) {
    if (no > 0) return { status: "rejected", reason: `consensus required: ${no} voted no` }
    if (yes === eligible) return { status: "approved", reason: `consensus: all ${eligible} voted yes` }
    return { status: "pending", reason: `consensus required: ${yes} of ${eligible} voted yes` }
  }
  if (yes * 2 > eligible) return { status: "approved", reason: `majority: ${yes} of ${eligible} voted yes` }
  if ((eligible - no) * 2 <= eligible) return { status: "rejected", reason: `majority can no longer be reached: ${no} of ${eligible} voted no` }
  return { status: "pending", reason: `${yes} yes, ${no} no of ${eligible}; more than half needed` }
}

/** Every proposal with its counted votes and outcome. */
export function decisionsOf(
  sessionId: string,
  participants: ParticipantState[],
  consensusRequired: boolean,
  proposals: Record<string, unknown>,
  votes: Record<string, unknown>,
  refused: RefusedEntry[] = [],
): DecisionView[] {
  const eligible = participants.filter(p => p.status === "joined" && p.permissions.includes("vote")).length
  const out: DecisionView[] = []
  const opened = new Map<string, SignedEnvelope<Proposal>>()
  for (const [key, value] of Object.entries(proposals)) {
    const o = openSigned(value, SESSION_PURPOSE.proposal, "session#Proposal")
    if (!o.ok) refused.push({ key: `proposals/${key}`, reason: o.reason })
    else if (o.id !== key) refused.push({ key: `proposals/${key}`, reason: `kept under ${key} but its id is ${o.id}` })
    else if (o.env.payload.sessionId !== sessionId) refused.push({ key: `proposals/${key}`, reason: `a proposal in ${o.env.payload.sessionId}` })
    else if (!may(participants, o.env.signer, "vote")) refused.push({ key: `proposals/${key}`, reason: `${o.env.signer} is not a joined participant that may vote` })
    else opened.set(o.id, o.env)
  }
  const byProposal = new Map<string, { refused: RefusedEntry[]; latest: Map<string, SignedEnvelope<DecisionVote>> }>()
  for (const id of opened.keys()) byProposal.set(id, { refused: [], latest: new Map() })
  for (const [key, value] of Object.entries(votes)) {
    const o = openSigned(value, SESSION_PURPOSE.vote, "session#DecisionVote")
    const pid = key.split(":")[0] ?? ""
    const slot = byProposal.get(o.ok ? o.env.payload.proposalId : pid)
    if (!o.ok) {
      ;(slot?.refused ?? refused).push({ key: `votes/${key}`, reason: o.reason })
      continue
    }
    if (!slot || o.env.payload.sessionId !== sessionId) {
      refused.push({ key: `votes/${key}`, reason: "a vote on no proposal of this session" })
      continue
    }
    if (key !== `${o.env.payload.proposalId}:${o.env.signer}`) slot.refused.push({ key: `votes/${key}`, reason: `kept under ${key} but signed by ${o.env.signer}` })
    else if (!may(participants, o.env.signer, "vote")) slot.refused.push({ key: `votes/${key}`, reason: `${o.env.signer} is not a joined participant that may vote` })
    else {
      const prev = slot.latest.get(o.env.signer)
      if (!prev || prev.time < o.env.time || (prev.time === o.env.time && byCodeUnit(envelopeId(prev), o.id) < 0)) slot.latest.set(o.env.signer, o.env)
    }
  }
  for (const [id, env] of opened) {
    const slot = byProposal.get(id)!
    const counted = [...slot.latest.values()].sort((a, b) => byCodeUnit(a.signer, b.signer))
    const yes = counted.filter(v => v.payload.approve).length
    const no = counted.length - yes
    out.push({
      proposalId: id,
      title: env.payload.title,
      ...(env.payload.description ? { description: env.payload.description } : {}),
      proposer: env.signer,
      time: env.time,
      ...decide(yes, no, eligible, consensusRequired),
      tally: { yes, no, eligible },
      votes: counted.map(v => ({ voter: v.signer, approve: v.payload.approve, time: v.time, ...(v.payload.reason ? { reason: v.payload.reason } : {}) })),
      refusedVotes: slot.refused,
    })
  }
  return out.sort((a, b) => a.time - b.time || byCodeUnit(a.proposalId, b.proposalId))
}

/** Every agreement with who signed its exact text and whether each signature verifies. */
export function agreementsOf(
  sessionId: string,
  participants: ParticipantState[],
  agreements: Record<string, unknown>,
  signatures: Record<string, unknown>,
  refused: RefusedEntry[] = [],
): AgreementView[] {
  const out: AgreementView[] = []
  for (const [key, value] of Object.entries(agreements)) {
    const o = openSigned(value, SESSION_PURPOSE.agreement, "session#SessionAgreement")
    if (!o.ok) {
      refused.push({ key: `agreements/${key}`, reason: o.reason })
      continue
    }
    if (o.id !== key || o.env.payload.sessionId !== sessionId) {
      refused.push({ key: `agreements/${key}`, reason: o.id !== key ? `kept under ${key} but its id is ${o.id}` : `an agreement of ${o.env.payload.sessionId}` })
      continue
    }
    const text = o.env.payload.text
    const textHash = sha256Hex(text)
    const sigs: AgreementView["signatures"] = []
    for (const [skey, svalue] of Object.entries(signatures)) {
      if (!skey.startsWith(`${key}:`)) continue
      const signer = skey.slice(key.length + 1)
      const s = openSigned(svalue, SESSION_PURPOSE.agreementSignature, "session#AgreementSignature")
      if (!s.ok) sigs.push({ signer, verified: false, reason: s.reason, time: null })
      else if (s.env.signer !== signer) sigs.push({ signer, verified: false, reason: `kept under ${signer} but signed by ${s.env.signer}`, time: s.env.time })
      else if (s.env.payload.agreementId !== key || s.env.payload.sessionId !== sessionId) sigs.push({ signer, verified: false, reason: "signs another agreement", time: s.env.time })
      else if (s.env.payload.textHash !== textHash) sigs.push({ signer, verified: false, reason: "signs another text (the text changed since)", time: s.env.time })
      else if (!may(participants, signer, "sign")) sigs.push({ signer, verified: false, reason: `${signer} is not a joined participant that may sign`, time: s.env.time })
      else sigs.push({ signer, verified: true, time: s.env.time })
    }
    sigs.sort((a, b) => byCodeUnit(a.signer, b.signer))
    const signers = participants.filter(p => p.status === "joined" && p.permissions.includes("sign")).map(p => p.nodeId)
    const missing = (signers as NodeId[]).filter(n => !sigs.some(s => s.signer === n && s.verified))
    out.push({ agreementId: key, title: o.env.payload.title, text, textHash, proposer: o.env.signer, time: o.env.time, signatures: sigs, missing, complete: signers.length > 0 && missing.length === 0 })
  }
  return out.sort((a, b) => a.time - b.time || byCodeUnit(a.agreementId, b.agreementId))
}

/** Checks one agreement text against signatures, off any document: which signers verify for exactly this text. */
export function verifyAgreementText(sessionId: string, agreementId: string, text: string, signatures: readonly unknown[]): { signer: string; verified: boolean; reason?: string }[] {
  const hash = sha256Hex(text)
  return signatures.map(v => {
    const s = openSigned(v, SESSION_PURPOSE.agreementSignature, "session#AgreementSignature")
    if (!s.ok) return { signer: (v as { signer?: string } | null)?.signer ?? "?", verified: false, reason: s.reason }
    if (s.env.payload.sessionId !== sessionId || s.env.payload.agreementId !== agreementId) return { signer: s.env.signer, verified: false, reason: "signs another agreement" }
    if (s.env.payload.textHash !== hash) return { signer: s.env.signer, verified: false, reason: "signs another text" }
    return { signer: s.env.signer, verified: true }
  })
}
