/**
 * Trust levels: a pure function of administrator decisions, proven connections and
 * signed endorsements and their revocations, so every replica of the local registry
 * computes the same levels. Trust above "verified" only ever comes from an administrator.
 */
import { FedhubError, toFedhubError, type ErrorCode } from "../errors.ts"
import { contentId, envelopeId, isNodeId, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import type { Endorsement, EndorsementRevocation, TrustLevel } from "../schema/index.ts"
import { revocationApplies, verifyEndorsement, verifyRevocation } from "./endorsement.ts"
import type { RotationOutcome } from "./rotation.ts"

/** Every trust level, weakest first; a level's index is its rank. */
export const TRUST_ORDER = ["unknown", "basic", "verified", "trusted", "partner"] as const satisfies readonly TrustLevel[]

/** Default longest endorsement chain (links from a trusted node) that still makes a node verified. */
export const DEFAULT_MAX_CHAIN_LENGTH = 3

/** What an administrator may set for a node: a trust anchor, or blocked (never above unknown). */
export type AdminLevel = "trusted" | "partner" | "blocked"

/** The inputs of `computeTrust`, all read from the local registry. */
export interface TrustInput {
  /** The nodes to rate (nodes named in adminLevels or proven are rated too). */
  nodes: readonly NodeId[]
  /** Levels set by an administrator; undefined means none. */
  adminLevels: ReadonlyMap<NodeId, AdminLevel | undefined>
  /** Nodes that proved possession of their key by connecting (authenticated handshake). */
  proven: ReadonlySet<NodeId>
  /** Endorsement envelopes as received: each is verified here; invalid ones are refused and reported. */
  endorsements: readonly unknown[]
  /**
   * Revocation envelopes as received (see revokeEndorsement): each is verified here. A verified
   * revocation by an endorsement's issuer withdraws it (see revocationApplies); one that fails,
   * or names an endorsement its signer did not issue, is refused and reported, and changes nothing.
   */
  revocations?: readonly unknown[]
  /** Clock for the validity windows, in ms since the epoch. */
  now: number
  /** Longest chain of endorsements from a trusted node; default DEFAULT_MAX_CHAIN_LENGTH. */
  maxChainLength?: number
}

/** One node's computed trust and why. */
export interface TrustEntry {
  level: TrustLevel
  /** A sentence for the API, CLI and dashboard. */
  reason: string
  /** For "verified": the chain of endorsers, the trusted anchor first, the direct endorser last. */
  via?: NodeId[]
}

/** An endorsement that conferred nothing, with the reason as a stable error code. */
export interface RefusedEndorsement {
  /** envelopeId of the envelope (content hash of its signed body), or "" when it has none. */
  envelopeId: string
  /** The envelope's signer as given ("" when absent); not authenticated when the signature failed. */
  issuer: string
  /** The payload's subject as given ("" when absent). */
  subject: string
  code: ErrorCode
  detail: string
  /** "revocation" for a refused revocation record (then envelopeId is the revocation's); absent for an endorsement. */
  kind?: "revocation"
}

/** A verified endorsement withdrawn by a verified revocation of its issuer: it confers nothing. */
export interface RevokedEndorsement {
  /** envelopeId of the revoked endorsement. */
  envelopeId: string
  issuer: NodeId
  subject: NodeId
  /** envelopeId of the revocation that withdrew it (the earliest one when several apply). */
  revocationId: string
  /** That revocation's time, ms since the epoch. */
  revokedAt: number
}

/** An endorsement that verified and whose issuer is an anchor or verified within the chain limit. */
export interface AcceptedEndorsement {
  /** envelopeId of the envelope (content hash of its signed body). */
  envelopeId: string
  /** The envelope's signer, authenticated by its signature. */
  issuer: NodeId
  subject: NodeId
}

/** The result of `computeTrust`. */
export interface TrustResult {
  /** One entry per rated node, in node id order. */
  levels: Map<NodeId, TrustEntry>
  /** Every endorsement that conferred nothing, sorted by envelope id. */
  refused: RefusedEndorsement[]
  /**
   * Every endorsement that conferred trust, one per distinct signed body, sorted by envelope id.
   * Judged per envelope: a refused record (forged, expired, untrusted) never removes an accepted one,
   * even when it names the same issuer and subject or has the same envelope id.
   */
  accepted: AcceptedEndorsement[]
  /**
   * Every verified endorsement withdrawn by a verified revocation of its issuer, sorted by envelope id;
   * neither in `accepted` nor in `refused`. Only a verified revocation removes an endorsement.
   */
  revoked: RevokedEndorsement[]
  /** What each key rotation record carried (set by FederationManager.trust; see carryRotations). */
  rotations?: RotationOutcome[]
}

const RANK: ReadonlyMap<string, number> = new Map(TRUST_ORDER.map((level, i) => [level, i]))

/** The rank of a level in TRUST_ORDER; throws INVALID_INPUT for anything else. */
function rank(level: TrustLevel): number {
  const r = RANK.get(level)
  if (r === undefined) throw new FedhubError("INVALID_INPUT", `not a trust level: ${JSON.stringify(level)}`)
  return r
}

/** Orders two trust levels: negative when `a` is weaker than `b`, 0 when equal, positive when stronger. */
export const compareTrust = (a: TrustLevel, b: TrustLevel): number => rank(a) - rank(b)

/** True when `level` is `min` or stronger, e.g. atLeast(peer, "verified") before sharing a document. */
export const atLeast = (level: TrustLevel, min: TrustLevel): boolean => compareTrust(level, min) >= 0

const ADMIN_LEVELS: ReadonlySet<unknown> = new Set(["trusted", "partner", "blocked", undefined])

/** A verified endorsement reduced to what the chain search needs. */
interface Link {
  id: string
  issuer: NodeId
  subject: NodeId
  env: SignedEnvelope<Endorsement>
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** True when chain `a` sorts before chain `b` (element by element, then by length). */
function chainLess(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]!
  return a.length < b.length
}

/** Best-effort id of an envelope that may be malformed: its envelopeId, else a hash of the whole value, else "". */
function safeEnvelopeId(raw: unknown): string {
  if (typeof raw === "object" && raw !== null) {
    try {
      return envelopeId(raw as SignedEnvelope)
    } catch {
      // fall through to hashing the whole value
    }
  }
  try {
    return contentId(raw)
  } catch {
    return ""
  }
}

/** A string field of an untrusted object, or "". */
function field(raw: unknown, ...path: string[]): string {
  let v: unknown = raw
  for (const key of path) {
    if (typeof v !== "object" || v === null || !Object.hasOwn(v, key)) return ""
    v = (v as Record<string, unknown>)[key]
  }
  return typeof v === "string" ? v : ""
}

function checkNodeId(id: unknown, where: string): NodeId {
  if (!isNodeId(id)) throw new FedhubError("INVALID_INPUT", `computeTrust: ${where} holds ${JSON.stringify(id)}, not a node id`)
  return id
}

/**
 * Merges lists of refused endorsements (e.g. computeTrust's and a directory view's)
 * into one, identical reports counted once, sorted by envelope id, code, detail, issuer, subject.
 */
export function mergeRefused(...lists: readonly (readonly RefusedEndorsement[])[]): RefusedEndorsement[] {
  const out = new Map<string, RefusedEndorsement>()
  for (const list of lists) for (const r of list) out.set(JSON.stringify([r.envelopeId, r.code, r.detail, r.issuer, r.subject]), r)
  return [...out.values()].sort(
    (a, b) =>
      byString(a.envelopeId, b.envelopeId) ||
      byString(a.code, b.code) ||
      byString(a.detail, b.detail) ||
      byString(a.issuer, b.issuer) ||
      byString(a.subject, b.subject),
  )
}

/**
 * Computes every node's trust level. Rules, first match wins: an administrator's
 * trusted/partner; blocked → unknown; an unexpired endorsement chain of at most
 * maxChainLength links from a trusted/partner node, each issuer itself trusted or
 * verified through the chain → verified; proven key possession → basic; else unknown.
 * Endorsements that confer nothing are reported in `refused`, those that confer trust
 * in `accepted`; each envelope is judged on its own, so a refused record never
 * affects a valid one. A verified endorsement withdrawn by a verified revocation of
 * its issuer (revocationApplies) is listed in `revoked` and confers nothing; a revocation
 * that fails verification or names an endorsement another node issued (WRONG_SIGNER) or
 * of another subject (WRONG_SUBJECT) is refused and changes nothing. The result does not
 * depend on the order of any input.
 */
export function computeTrust(input: TrustInput): TrustResult {
  const { adminLevels, proven, endorsements, now } = input
  const maxChain = input.maxChainLength ?? DEFAULT_MAX_CHAIN_LENGTH
  if (!Number.isSafeInteger(maxChain) || maxChain < 0)
    throw new FedhubError("INVALID_INPUT", "computeTrust: maxChainLength is a non-negative integer")
  if (!Number.isSafeInteger(now) || now < 0)
    throw new FedhubError("INVALID_INPUT", "computeTrust: now is a non-negative integer of milliseconds")
  if (!Array.isArray(endorsements)) throw new FedhubError("INVALID_INPUT", "computeTrust: endorsements is an array")
  const revocations = input.revocations ?? []
  if (!Array.isArray(revocations)) throw new FedhubError("INVALID_INPUT", "computeTrust: revocations is an array")

  const rated = new Set<NodeId>()
  for (const n of input.nodes) rated.add(checkNodeId(n, "nodes"))
  for (const [n, level] of adminLevels) {
    rated.add(checkNodeId(n, "adminLevels"))
    if (!ADMIN_LEVELS.has(level))
      throw new FedhubError("INVALID_INPUT", `computeTrust: administrator level of ${n} is ${JSON.stringify(level)}; expected trusted, partner or blocked`)
  }
  for (const n of proven) rated.add(checkNodeId(n, "proven"))
  const adminOf = (n: NodeId): AdminLevel | undefined => adminLevels.get(n)
  const isBlocked = (n: NodeId): boolean => adminOf(n) === "blocked"

  // 1. verify every endorsement on its own; identical bodies count once
  const refused = new Map<string, RefusedEndorsement>()
  const refuse = (r: RefusedEndorsement): void => {
    refused.set(JSON.stringify([r.envelopeId, r.code, r.detail, r.issuer, r.subject]), r)
  }
  const links = new Map<string, Link>()
  for (const raw of endorsements) {
    let env: SignedEnvelope<Endorsement>
    try {
      env = verifyEndorsement(raw, { now })
    } catch (e) {
      const err = toFedhubError(e)
      refuse({
        envelopeId: safeEnvelopeId(raw),
        issuer: field(raw, "signer"),
        subject: field(raw, "payload", "subject"),
        code: err.code,
        detail: err.detail,
      })
      continue
    }
    const id = envelopeId(env)
    if (!links.has(id)) links.set(id, { id, issuer: env.signer, subject: env.payload.subject as NodeId, env })
  }

  // 1b. verify every revocation on its own; only one by the endorsement's issuer withdraws it
  const validRevocations = new Map<string, SignedEnvelope<EndorsementRevocation>>()
  for (const raw of revocations) {
    const described = {
      envelopeId: safeEnvelopeId(raw),
      issuer: field(raw, "signer"),
      subject: field(raw, "payload", "subject"),
      kind: "revocation" as const,
    }
    let rev: SignedEnvelope<EndorsementRevocation>
    try {
      rev = verifyRevocation(raw, { now })
    } catch (e) {
      const err = toFedhubError(e)
      refuse({ ...described, code: err.code, detail: `revocation: ${err.detail}` })
      continue
    }
    const named = links.get(rev.payload.endorsementId)
    if (named && named.issuer !== rev.signer) {
      refuse({
        ...described,
        code: "WRONG_SIGNER",
        detail: `revocation by ${rev.signer} names endorsement ${named.id} issued by ${named.issuer}; only its issuer can revoke it`,
      })
      continue
    }
    if (named && named.subject !== rev.payload.subject) {
      refuse({
        ...described,
        code: "WRONG_SUBJECT",
        detail: `revocation names subject ${rev.payload.subject}, but endorsement ${named.id} endorses ${named.subject}`,
      })
      continue
    }
    validRevocations.set(envelopeId(rev), rev)
  }
  const revoked: RevokedEndorsement[] = []
  const sortedRevocations = [...validRevocations].sort(
    ([ia, a], [ib, b]) => a.payload.revokedAt - b.payload.revokedAt || byString(ia, ib),
  )
  for (const link of [...links.values()].sort((a, b) => byString(a.id, b.id))) {
    const hit = sortedRevocations.find(([, rev]) => revocationApplies(rev, link.env))
    if (!hit) continue
    links.delete(link.id)
    revoked.push({ envelopeId: link.id, issuer: link.issuer, subject: link.subject, revocationId: hit[0], revokedAt: hit[1].payload.revokedAt })
  }
  const revokedSubjects = new Set<string>(revoked.map(r => r.subject))
  const sortedLinks = [...links.values()].sort((a, b) => byString(a.id, b.id))
  const byIssuer = new Map<NodeId, Link[]>()
  for (const link of sortedLinks) {
    const list = byIssuer.get(link.issuer)
    if (list) list.push(link)
    else byIssuer.set(link.issuer, [link])
  }

  // 2. breadth-first from the anchors: each node's shortest chain, ties broken by the smallest chain
  const chains = new Map<NodeId, NodeId[]>() // anchor first, the node itself last
  let frontier: NodeId[] = [...adminLevels.keys()]
    .filter((n) => adminOf(n) === "trusted" || adminOf(n) === "partner")
    .sort(byString)
  for (const anchor of frontier) chains.set(anchor, [anchor])
  for (let depth = 1; depth <= maxChain && frontier.length > 0; depth++) {
    const next = new Map<NodeId, NodeId[]>()
    for (const issuer of frontier) {
      const issuerChain = chains.get(issuer)!
      for (const { subject } of byIssuer.get(issuer) ?? []) {
        if (chains.has(subject) || isBlocked(subject)) continue
        const candidate = [...issuerChain, subject]
        const current = next.get(subject)
        if (!current || chainLess(candidate, current)) next.set(subject, candidate)
      }
    }
    for (const [n, chain] of next) chains.set(n, chain)
    frontier = [...next.keys()].sort(byString)
  }

  // 3. an endorsement counts only when its issuer is an anchor or verified within the chain limit
  const accepted: AcceptedEndorsement[] = []
  for (const link of sortedLinks) {
    const issuerChain = chains.get(link.issuer)
    const base = { envelopeId: link.id, issuer: link.issuer, subject: link.subject }
    if (isBlocked(link.issuer))
      refuse({ ...base, code: "UNTRUSTED_ENDORSER", detail: `issuer ${link.issuer} is blocked by an administrator` })
    else if (!issuerChain)
      refuse({
        ...base,
        code: "UNTRUSTED_ENDORSER",
        detail: `issuer ${link.issuer} is neither trusted nor verified through a chain from a trusted node`,
      })
    else if (issuerChain.length - 1 >= maxChain)
      refuse({
        ...base,
        code: "ENDORSEMENT_CHAIN_TOO_LONG",
        detail: `issuer ${link.issuer} is ${issuerChain.length - 1} link(s) from trusted node ${issuerChain[0]}; its endorsement would exceed maxChainLength ${maxChain}`,
      })
    else accepted.push({ envelopeId: link.id, issuer: link.issuer, subject: link.subject })
  }
  const refusedList = mergeRefused([...refused.values()])

  // 4. one entry per rated node
  const refusedBySubject = new Map<string, RefusedEndorsement[]>()
  for (const r of refusedList) {
    const list = refusedBySubject.get(r.subject)
    if (list) list.push(r)
    else refusedBySubject.set(r.subject, [r])
  }
  const levels = new Map<NodeId, TrustEntry>()
  for (const n of [...rated].sort(byString)) {
    const admin = adminOf(n)
    if (admin === "trusted" || admin === "partner") {
      levels.set(n, { level: admin, reason: `set to ${admin} by an administrator` })
      continue
    }
    if (admin === "blocked") {
      levels.set(n, { level: "unknown", reason: "blocked by an administrator" })
      continue
    }
    const chain = chains.get(n)
    if (chain) {
      const anchor = chain[0]!
      levels.set(n, {
        level: "verified",
        reason: `endorsement chain of ${chain.length - 1} link(s) from ${adminOf(anchor)} node ${anchor}: ${chain.join(" → ")}`,
        via: chain.slice(0, -1),
      })
      continue
    }
    const parts = [proven.has(n) ? "proved key possession by connecting" : "never proved key possession by connecting"]
    const mine = refusedBySubject.get(n) ?? []
    const untrusted = mine.some((r) => r.code === "UNTRUSTED_ENDORSER")
    const tooLong = mine.some((r) => r.code === "ENDORSEMENT_CHAIN_TOO_LONG")
    if (untrusted && tooLong)
      parts.push(`endorsed only by untrusted nodes or through chains longer than ${maxChain} link(s)`)
    else if (untrusted) parts.push("endorsed only by untrusted nodes")
    else if (tooLong) parts.push(`endorsed only through chains longer than ${maxChain} link(s)`)
    else if (mine.some((r) => r.kind !== "revocation")) parts.push(`its ${mine.filter((r) => r.kind !== "revocation").length} endorsement(s) were refused`)
    else if (revokedSubjects.has(n)) parts.push("its endorsement(s) were revoked by their issuer")
    else parts.push("no endorsement chain from a trusted node")
    levels.set(n, { level: proven.has(n) ? "basic" : "unknown", reason: parts.join("; ") })
  }
  return { levels, refused: refusedList, accepted, revoked }
}
