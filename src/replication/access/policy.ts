/**
 * Per-document access policies: signed, versioned records forming a DAG (each names
 * the versions it supersedes), stored as a grow-only set so concurrent edits merge.
 * Everything here is pure: a set of records and the document's id in, the valid
 * records, the heads, the effective policy and the refused records (with reasons) out.
 * Rules (docs/ACCESS.md): the document id commits to the owner; a version is valid
 * when its signer is the owner or an admin in EVERY parent; concurrent heads merge by
 * intersection, so a concurrent narrowing always wins and a widening waits for a merge.
 */
import { isValidDocumentId, parseAutomergeUrl, stringifyAutomergeUrl, type BinaryDocumentId } from "@automerge/automerge-repo"
import { FedhubError, type ErrorCode } from "../../errors.ts"
import {
  contentId,
  envelopeId,
  fromBase64Url,
  parseNodeId,
  randomNonce,
  signEnvelope,
  verifyEnvelope,
  type Identity,
  type NodeId,
  type SignedEnvelope,
} from "../../identity/index.ts"
import { validate, type Policy } from "../../schema/index.ts"

/** Purpose string of policy records (domain separation). */
export const POLICY_PURPOSE = "fedhub/policy/v1"
/** Domain of the hash a self-certifying document id is derived from. */
export const DOCUMENT_ID_PURPOSE = "fedhub/document-id/v1"
/** The reader entry that shares a document with every hub. */
export const PUBLIC = "public"

/** A signed policy version. */
export type PolicyRecord = SignedEnvelope<Policy>
/** A reader entry: a node id or "public". */
export type Reader = NodeId | typeof PUBLIC

/** The four granted lists of a policy. */
export interface PolicyLists {
  admins: NodeId[]
  writers: NodeId[]
  readers: Reader[]
  relays: NodeId[]
}

/** What a set of records is evaluated for. */
export interface PolicyContext {
  /** The document; records naming another are refused. */
  documentId: string
  /**
   * Pins the genesis by record id, for documents whose id is not derived from their
   * owner (created before self-certifying ids). Without it, a genesis is valid only
   * when `documentId === documentIdFor(owner, nonce)`.
   */
  genesisId?: string
}

/** A record left out of every view, with why (never silently dropped). */
export interface RefusedRecord {
  /** The record id when it could be computed (a well-formed envelope), else undefined. */
  id: string | undefined
  code: ErrorCode
  reason: string
  record: unknown
}

/** The policy every replica computes alike from the valid heads. */
export interface EffectivePolicy extends PolicyLists {
  documentId: string
  owner: NodeId
  /** Highest version among the heads. */
  version: number
  /** Ids of the valid heads, sorted; more than one is a conflict to report (rule 4). */
  heads: string[]
  /**
   * Document heads vouched for by a valid version signed by a node that is still an
   * admin (or the owner): every change up to them is accepted whoever wrote it. Sorted.
   */
  vouched: string[]
}

/** The outcome of evaluating a set of policy records. */
export interface PolicyState {
  documentId: string
  /** Valid records by id. */
  valid: Map<string, PolicyRecord>
  /** Valid records no other valid record names as parent, sorted by id. */
  heads: string[]
  /** Undefined when no valid genesis exists: then nothing is allowed (fail closed). */
  effective: EffectivePolicy | undefined
  /** True when there are several heads (concurrent versions not yet merged by an admin). */
  conflict: boolean
  /** Every record that is not valid, sorted by id (undefined ids last). */
  refused: RefusedRecord[]
}

/** A change to a policy: lists replaced (`set`), then entries added and removed. */
export interface PolicyChanges {
  set?: Partial<PolicyLists>
  add?: Partial<PolicyLists>
  remove?: Partial<PolicyLists>
  /** The document's heads as the signer holds it, vouched for by the new version (at most 64). */
  documentHeads?: readonly string[]
}

/** Options of `genesisPolicy`. */
export interface GenesisOptions extends Partial<PolicyLists> {
  /** The nonce the document id was derived from (see `newDocumentId`); omit for a pinned legacy document. */
  nonce?: string
  /** Signing time in ms; defaults to Date.now(). */
  now?: number
}

/**
 * The self-certifying document id of `owner` and `nonce`: base58check of the first
 * 16 bytes of SHA-256 of canonical {purpose, owner, nonce}. Another node cannot sign a valid genesis for it.
 */
export function documentIdFor(owner: NodeId, nonce: string): string {
  const hex = contentId({ purpose: DOCUMENT_ID_PURPOSE, owner, nonce })
  const bytes = Uint8Array.from(Buffer.from(hex.slice(0, 32), "hex")) as BinaryDocumentId
  return parseAutomergeUrl(stringifyAutomergeUrl(bytes)).documentId
}

/** A fresh document id owned by `owner`, with the nonce its genesis must carry (`repo.import(bytes, { docId })` creates it). */
export function newDocumentId(owner: NodeId): { documentId: string; nonce: string } {
  const nonce = randomNonce()
  return { documentId: documentIdFor(owner, nonce), nonce }
}

const sortedUnique = <T extends string>(xs: Iterable<T>): T[] => [...new Set(xs)].sort()

function checkLists(lists: PolicyLists): PolicyLists {
  const nodes = (xs: unknown, name: string): NodeId[] => {
    if (!Array.isArray(xs)) throw new FedhubError("INVALID_INPUT", `${name} is a list of node ids`)
    return sortedUnique(xs.map((x) => parseNodeId(x)))
  }
  if (!Array.isArray(lists.readers)) throw new FedhubError("INVALID_INPUT", "readers is a list of node ids or \"public\"")
  return {
    admins: nodes(lists.admins, "admins"),
    writers: nodes(lists.writers, "writers"),
    readers: sortedUnique(lists.readers.map((r) => (r === PUBLIC ? PUBLIC : parseNodeId(r)))),
    relays: nodes(lists.relays, "relays"),
  }
}

function checkNow(now: number | undefined): number {
  const t = now ?? Date.now()
  if (!Number.isSafeInteger(t) || t < 0) throw new FedhubError("INVALID_INPUT", "a policy's time is a non-negative integer of milliseconds")
  return t
}

/**
 * Signs the first version of `documentId`'s policy, owned by `identity`. With `nonce`,
 * the id must be `documentIdFor(identity.nodeId, nonce)` (INVALID_INPUT otherwise).
 */
export function genesisPolicy(identity: Identity, documentId: string, opts: GenesisOptions = {}): PolicyRecord {
  if (!isValidDocumentId(documentId)) throw new FedhubError("BAD_DOC_URL", `not a document id: ${JSON.stringify(documentId)}`)
  if (opts.nonce !== undefined && documentIdFor(identity.nodeId, opts.nonce) !== documentId)
    throw new FedhubError("INVALID_INPUT", `${documentId} is not derived from ${identity.nodeId} and this nonce`)
  if (opts.nonce !== undefined) fromBase64Url(opts.nonce)
  const now = checkNow(opts.now)
  const lists = checkLists({ admins: opts.admins ?? [], writers: opts.writers ?? [], readers: opts.readers ?? [], relays: opts.relays ?? [] })
  const payload: Policy = {
    documentId,
    version: 1,
    owner: identity.nodeId,
    ...lists,
    parents: [],
    ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}),
    issuedAt: now,
  }
  return signEnvelope(identity, POLICY_PURPOSE, validate("policy", payload, { code: "POLICY_INVALID" }), now)
}

/**
 * Signs the next version after every head of `current` (so it also merges a conflict):
 * version = highest head version + 1, lists = the effective lists with `changes` applied.
 * NOT_AN_ADMIN unless `identity` is the owner or an admin in every head; POLICY_INVALID without a valid policy.
 */
export function nextPolicy(identity: Identity, current: PolicyState, changes: PolicyChanges, now?: number): PolicyRecord {
  const eff = current.effective
  if (!eff) throw new FedhubError("POLICY_INVALID", `${current.documentId} has no valid policy to change`)
  for (const id of eff.heads) {
    const head = current.valid.get(id)!
    if (!isAdminIn(head.payload, identity.nodeId))
      throw new FedhubError("NOT_AN_ADMIN", `${identity.nodeId} is not the owner or an admin in policy version ${id}`, { head: id })
  }
  const apply = <K extends keyof PolicyLists>(key: K): PolicyLists[K] => {
    let list: string[] = [...(changes.set?.[key] ?? eff[key])]
    const add: string[] = changes.add?.[key] ?? []
    const remove = new Set<string>(changes.remove?.[key] ?? [])
    list = [...list, ...add].filter((x) => !remove.has(x))
    return list as PolicyLists[K]
  }
  const lists = checkLists({ admins: apply("admins"), writers: apply("writers"), readers: apply("readers"), relays: apply("relays") })
  const t = checkNow(now)
  const payload: Policy = {
    documentId: eff.documentId,
    version: Math.max(...eff.heads.map((id) => current.valid.get(id)!.payload.version)) + 1,
    owner: eff.owner,
    ...lists,
    parents: [...eff.heads],
    ...(changes.documentHeads && changes.documentHeads.length > 0 ? { documentHeads: sortedUnique(changes.documentHeads) } : {}),
    issuedAt: t,
  }
  return signEnvelope(identity, POLICY_PURPOSE, validate("policy", payload, { code: "POLICY_INVALID" }), t)
}

const isAdminIn = (p: Policy, node: string): boolean => node === p.owner || p.admins.includes(node)

/** A well-formed, correctly signed record of this document (not yet checked against its parents). */
interface Candidate {
  id: string
  record: PolicyRecord
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Refusals in a set-independent order: by id (none last), then code, reason and content. */
const compareRefused = (a: RefusedRecord, b: RefusedRecord): number =>
  (a.id === undefined ? (b.id === undefined ? 0 : 1) : b.id === undefined ? -1 : cmp(a.id, b.id)) ||
  cmp(a.code, b.code) ||
  cmp(a.reason, b.reason) ||
  cmp(safeJson(a.record), safeJson(b.record))

/** The id of an untrusted record when it has an envelope's fields, else undefined (never throws). */
export function recordId(record: unknown): string | undefined {
  if (typeof record !== "object" || record === null) return undefined
  const r = record as Record<string, unknown>
  if (r.v !== 1 || typeof r.purpose !== "string" || typeof r.signer !== "string" || typeof r.time !== "number") return undefined
  try {
    return envelopeId({ v: 1, purpose: r.purpose, signer: r.signer as NodeId, time: r.time, payload: r.payload })
  } catch {
    return undefined
  }
}

/** JSON text of untrusted input for ordering and de-duplication; never throws. */
function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v)
  } catch {
    return String(v)
  }
}

/**
 * Evaluates a set of policy records for one document, in any order, duplicates
 * allowed: the same set always yields the same valid records, heads, effective policy and refusals.
 */
export function evaluatePolicies(records: Iterable<unknown>, ctx: PolicyContext): PolicyState {
  const refused: RefusedRecord[] = []
  const refuse = (id: string | undefined, code: ErrorCode, reason: string, record: unknown): void => {
    refused.push({ id, code, reason, record })
  }
  // 1. each record on its own: envelope, signature, schema, document
  const candidates = new Map<string, Candidate>()
  const seenRefused = new Set<string>()
  for (const record of records) {
    const id = recordId(record)
    try {
      const env = verifyEnvelope<unknown>(record, { purpose: POLICY_PURPOSE })
      const payload = validate("policy", env.payload, { code: "POLICY_INVALID", label: "policy" })
      if (payload.documentId !== ctx.documentId)
        throw new FedhubError("POLICY_INVALID", `names document ${payload.documentId}, not ${ctx.documentId}`)
      if (payload.issuedAt !== env.time) throw new FedhubError("POLICY_INVALID", "issuedAt differs from the envelope time")
      const cid = envelopeId(env)
      const known = candidates.get(cid)
      // the same content twice is one record; of two valid signatures (a non-deterministic signer) keep the smaller
      if (!known || env.sig < known.record.sig) candidates.set(cid, { id: cid, record: { ...env, payload } })
    } catch (e) {
      const err = e instanceof FedhubError ? e : new FedhubError("POLICY_INVALID", String(e))
      const key = `${id ?? ""}\u0000${err.code}\u0000${err.detail}\u0000${safeJson(record)}`
      if (seenRefused.has(key)) continue
      seenRefused.add(key)
      refuse(id, err.code, err.detail, record)
    }
  }
  // 2. against parents, in topological order (Kahn): a record is judged once all its parents are
  const valid = new Map<string, PolicyRecord>()
  const children = new Map<string, string[]>()
  const waiting = new Map<string, number>()
  const ready: string[] = []
  for (const c of candidates.values()) {
    const parents = c.record.payload.parents
    let missing = 0
    for (const p of parents) {
      if (!candidates.has(p)) continue
      missing++
      const list = children.get(p)
      if (list) list.push(c.id)
      else children.set(p, [c.id])
    }
    waiting.set(c.id, missing)
    if (missing === 0) ready.push(c.id)
  }
  ready.sort()
  const judged = new Set<string>()
  // ready is a stack; the order of judging does not change the outcome (each record depends on its parents only)
  while (ready.length > 0) {
    const id = ready.pop()!
    judged.add(id)
    const c = candidates.get(id)!
    const why = judge(c, valid, candidates, ctx)
    if (why === undefined) valid.set(id, c.record)
    else refuse(id, "POLICY_INVALID", why, c.record)
    for (const child of children.get(id) ?? []) {
      const n = waiting.get(child)! - 1
      waiting.set(child, n)
      if (n === 0) ready.push(child)
    }
  }
  for (const c of candidates.values())
    if (!judged.has(c.id)) refuse(c.id, "POLICY_INVALID", "its parents form a cycle", c.record) // needs a hash preimage; kept for safety
  refused.sort(compareRefused)
  // 3. heads and the effective policy
  const named = new Set<string>()
  for (const r of valid.values()) for (const p of r.payload.parents) named.add(p)
  const heads = [...valid.keys()].filter((id) => !named.has(id)).sort()
  return { documentId: ctx.documentId, valid, heads, effective: effectiveOf(heads, valid), conflict: heads.length > 1, refused }
}

/** The document heads vouched for by valid versions whose signer is an admin (or the owner) of `eff`. */
function vouchedOf(valid: Map<string, PolicyRecord>, eff: Omit<EffectivePolicy, "vouched">): string[] {
  const out: string[] = []
  for (const r of valid.values())
    if (r.payload.documentHeads && (r.signer === eff.owner || eff.admins.includes(r.signer))) out.push(...r.payload.documentHeads)
  return sortedUnique(out)
}

/** Why a well-formed record is not valid given its (already judged) parents, or undefined when it is. */
function judge(c: Candidate, valid: Map<string, PolicyRecord>, candidates: Map<string, Candidate>, ctx: PolicyContext): string | undefined {
  const { payload, signer } = c.record
  if (payload.parents.length === 0) {
    if (payload.version !== 1) return `a genesis has version 1, not ${payload.version}`
    if (signer !== payload.owner) return `a genesis is signed by its owner ${payload.owner}, not by ${signer}`
    if (ctx.genesisId !== undefined) {
      if (c.id !== ctx.genesisId) return `not the pinned genesis ${ctx.genesisId} of ${ctx.documentId}`
    } else if (payload.nonce === undefined) {
      return `a genesis of a document whose id is not derived from its owner needs a pinned genesis id`
    } else if (documentIdFor(payload.owner as NodeId, payload.nonce) !== ctx.documentId) {
      return `${ctx.documentId} is not derived from owner ${payload.owner} and this nonce`
    }
    return undefined
  }
  if (payload.nonce !== undefined) return "only a genesis carries a nonce"
  for (const p of payload.parents) {
    const parent = valid.get(p)
    if (!parent) return candidates.has(p) ? `its parent ${p} is refused` : `its parent ${p} is unknown`
    if (parent.payload.owner !== payload.owner) return `changes the owner from ${parent.payload.owner} to ${payload.owner}`
    if (payload.version <= parent.payload.version)
      return `version ${payload.version} is not above its parent ${p}'s version ${parent.payload.version}`
    if (!isAdminIn(parent.payload, signer)) return `signer ${signer} is not the owner or an admin in its parent ${p}`
  }
  return undefined
}

/** The pure merge of concurrent heads: each list is the intersection over the heads. */
function effectiveOf(heads: string[], valid: Map<string, PolicyRecord>): EffectivePolicy | undefined {
  if (heads.length === 0) return undefined
  const records = heads.map((id) => valid.get(id)!.payload)
  const first = records[0]!
  const intersect = <T extends string>(pick: (p: Policy) => readonly string[]): T[] => {
    const sets = records.slice(1).map((p) => new Set(pick(p)))
    return sortedUnique(pick(first).filter((x) => sets.every((s) => s.has(x)))) as T[]
  }
  const eff = {
    documentId: first.documentId,
    owner: first.owner as NodeId,
    admins: intersect<NodeId>((p) => p.admins),
    writers: intersect<NodeId>((p) => p.writers),
    readers: intersect<Reader>((p) => p.readers),
    relays: intersect<NodeId>((p) => p.relays),
    version: Math.max(...records.map((p) => p.version)),
    heads: [...heads],
  }
  return { ...eff, vouched: vouchedOf(valid, eff) }
}

/** True when `nodeId` may change the policy: the owner or an admin. */
export const mayAdminister = (policy: EffectivePolicy | undefined, nodeId: string): boolean =>
  policy !== undefined && (nodeId === policy.owner || policy.admins.includes(nodeId as NodeId))

/** True when changes authored by `nodeId` are applied: a writer, an admin or the owner. */
export const mayWrite = (policy: EffectivePolicy | undefined, nodeId: string): boolean =>
  mayAdminister(policy, nodeId) || (policy !== undefined && policy.writers.includes(nodeId as NodeId))

/** True when the document may be shared with `nodeId` and shown to it: a reader (or "public"), writer, admin or owner. */
export const mayRead = (policy: EffectivePolicy | undefined, nodeId: string): boolean =>
  mayWrite(policy, nodeId) ||
  (policy !== undefined && (policy.readers.includes(PUBLIC) || policy.readers.includes(nodeId as Reader)))

/**
 * True when `nodeId` may hold the document and forward its (signed) changes: a relay
 * or anyone who may read. A relay that is not a reader never shows the document in its own views.
 */
export const mayRelay = (policy: EffectivePolicy | undefined, nodeId: string): boolean =>
  mayRead(policy, nodeId) || (policy !== undefined && policy.relays.includes(nodeId as NodeId))

/** Throws NOT_A_WRITER unless `nodeId` may write under `policy`. */
export function assertMayWrite(policy: EffectivePolicy | undefined, nodeId: string): void {
  if (!mayWrite(policy, nodeId))
    throw new FedhubError("NOT_A_WRITER", `${nodeId} is not a writer of ${policy?.documentId ?? "this document"}`, { nodeId })
}

/** Throws NOT_A_READER unless `nodeId` may read under `policy`. */
export function assertMayRead(policy: EffectivePolicy | undefined, nodeId: string): void {
  if (!mayRead(policy, nodeId))
    throw new FedhubError("NOT_A_READER", `${nodeId} may not read ${policy?.documentId ?? "this document"}`, { nodeId })
}
