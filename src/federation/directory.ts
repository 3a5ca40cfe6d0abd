/**
 * The directory document: node id → latest self-signed descriptor, plus key
 * rotation records, endorsements and endorsement revocations. Each hub keeps its own; syncing another
 * hub's directory is peer exchange. Pure functions over the document, so every
 * replica computes the same view.
 */
import * as A from "@automerge/automerge"
import { canonicalJson, envelopeId, isNodeId, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import type { Endorsement, EndorsementRevocation, FederationNode } from "../schema/index.ts"
import { FedhubError, toFedhubError } from "../errors.ts"
import { verifyDescriptor } from "./descriptor.ts"
import { verifyEndorsement, verifyRevocation } from "./endorsement.ts"
import { verifyRotation, type KeyRotation } from "./rotation.ts"

/** The directory document's shape: every value is an ImmutableString of a signed envelope. */
export type DirectoryDoc = {
  entries: Record<string, A.ImmutableString>
  rotations: Record<string, A.ImmutableString>
  endorsements: Record<string, A.ImmutableString>
  /** `issuer:subject:endorsementId` → revocation; absent in directories made before revocations existed. */
  revocations?: Record<string, A.ImmutableString>
}

/** A descriptor that verified, as a view shows it. */
export interface DirectoryEntry {
  nodeId: NodeId
  descriptor: SignedEnvelope<FederationNode>
}

/** An entry left out of a view, and why (Rule 2: reported, never silently dropped). */
export interface RefusedEntry {
  key: string
  code: string
  detail: string
  /** For a refused endorsement or revocation: its envelope id ("" when it has none). */
  envelopeId?: string
  /** For a refused endorsement or revocation: the signer as given, not authenticated. */
  issuer?: string
  /** For a refused endorsement or revocation: the subject as given. */
  subject?: string
}

export interface DirectoryView {
  nodes: DirectoryEntry[]
  rotations: SignedEnvelope<KeyRotation>[]
  endorsements: SignedEnvelope<Endorsement>[]
  /** Revocations that verified on their own and are stored under their own key; computeTrust matches them to endorsements. */
  revocations: SignedEnvelope<EndorsementRevocation>[]
  refused: RefusedEntry[]
}

export interface ViewOptions {
  /** Nodes an administrator blocked: left out of the view (not reported as refusals). */
  blocked?: ReadonlySet<string>
  /** Highest descriptor sequence this hub has already seen per node; older ones are replays. */
  lastSequence?: ReadonlyMap<string, number>
  /** Clock for endorsement validity and rotation skew, ms since the epoch; defaults to Date.now(). */
  now?: number
}

/** An empty directory, to create the document with. */
export const emptyDirectory = (): DirectoryDoc => ({ entries: {}, rotations: {}, endorsements: {}, revocations: {} })

const text = (v: unknown): string => String(v)

/** Every concurrent value of one key (a plain read would show just one). */
function valuesOf(map: Record<string, unknown>, key: string): unknown[] {
  const conflicts = A.getConflicts(map as A.Doc<Record<string, unknown>>, key)
  return conflicts ? Object.values(conflicts) : [map[key]]
}

/**
 * Writes a verified descriptor under its node id, unless the directory already holds
 * one at least as new (DESCRIPTOR_REPLAYED). Call inside a change.
 */
export function putDescriptor(doc: DirectoryDoc, envelope: unknown, opts: ViewOptions = {}): DirectoryEntry {
  const verified = verifyDescriptor(envelope)
  const id = verified.payload.id
  const newest = newestSequence(doc, id, opts)
  if (newest !== undefined && verified.payload.sequence <= newest)
    throw new FedhubError(
      "DESCRIPTOR_REPLAYED",
      `descriptor of ${id} has sequence ${verified.payload.sequence}, this hub already has ${newest}`,
    )
  doc.entries[id] = new A.ImmutableString(canonicalJson(verified))
  return { nodeId: id as NodeId, descriptor: verified }
}

function newestSequence(doc: DirectoryDoc, id: string, opts: ViewOptions): number | undefined {
  let newest = opts.lastSequence?.get(id)
  if (doc.entries[id] === undefined) return newest
  for (const raw of valuesOf(doc.entries, id)) {
    try {
      const seq = verifyDescriptor(JSON.parse(text(raw))).payload.sequence
      if (newest === undefined || seq > newest) newest = seq
    } catch {
      // a bad value cannot make a good one look old
    }
  }
  return newest
}

/**
 * Records a key rotation under its own oldId, after verifying both signatures (old key,
 * and the new key's counter-signature). Idempotent for the same record; refuses
 * (INVALID_INPUT) to replace a valid stored rotation of the same old id by a different
 * one, so a second rotation cannot hide the first. Call inside a change.
 */
export function putRotation(doc: DirectoryDoc, envelope: unknown, opts: { now?: number } = {}): SignedEnvelope<KeyRotation> {
  const verified = verifyRotation(envelope, { now: opts.now })
  const key = verified.payload.oldId
  const id = envelopeId(verified)
  if (doc.rotations[key] !== undefined)
    for (const raw of valuesOf(doc.rotations, key)) {
      let stored: SignedEnvelope<KeyRotation>
      try {
        stored = verifyRotation(JSON.parse(text(raw)), { storedUnder: key, now: opts.now })
      } catch {
        continue // a bad stored value is replaced
      }
      if (envelopeId(stored) === id) return stored
      throw new FedhubError("INVALID_INPUT", `${key} already rotated to ${stored.payload.newId}; a directory keeps the first rotation of an old id`)
    }
  doc.rotations[key] = new A.ImmutableString(canonicalJson(verified))
  return verified
}

/**
 * Records an endorsement under `issuer:subject` after verifying it (signature, shape,
 * validity window at `now`): a forged or expired record is refused and never replaces
 * a stored one. A valid stored endorsement of the same pair is replaced only by a newer
 * one (later issuedAt); an older or equal one is refused (INVALID_INPUT), the same one is
 * a no-op. Call inside a change.
 */
export function putEndorsement(doc: DirectoryDoc, envelope: unknown, opts: { now?: number } = {}): SignedEnvelope<Endorsement> {
  const verified = verifyEndorsement(envelope, { now: opts.now })
  const key = `${verified.signer}:${verified.payload.subject}`
  const id = envelopeId(verified)
  if (doc.endorsements[key] !== undefined)
    for (const raw of valuesOf(doc.endorsements, key)) {
      let stored: SignedEnvelope<Endorsement>
      try {
        stored = endorsementUnder(key, raw, opts.now)
      } catch {
        continue // a forged or expired stored value is replaced
      }
      if (envelopeId(stored) === id) return stored
      if (stored.payload.issuedAt >= verified.payload.issuedAt)
        throw new FedhubError("INVALID_INPUT", `a newer endorsement of ${verified.payload.subject} by ${verified.signer} is already stored`)
    }
  doc.endorsements[key] = new A.ImmutableString(canonicalJson(verified))
  return verified
}

/** The key a revocation is stored under: `issuer:subject:endorsementId`. */
export const revocationKey = (r: SignedEnvelope<EndorsementRevocation>): string =>
  `${r.signer}:${r.payload.subject}:${r.payload.endorsementId}`

/**
 * Records an endorsement revocation under `issuer:subject:endorsementId` after verifying it
 * (signature, purpose, shape, time skew at `now`): a forged or altered record is refused
 * and never stored. When this directory holds the endorsement it names, the revocation
 * must be signed by that endorsement's issuer (WRONG_SIGNER) and name its subject
 * (WRONG_SUBJECT). Idempotent: a valid revocation already stored under the key is kept
 * (any of them withdraws the endorsement). Call inside a change.
 */
export function putRevocation(
  doc: DirectoryDoc,
  envelope: unknown,
  opts: { now?: number } = {},
): SignedEnvelope<EndorsementRevocation> {
  const verified = verifyRevocation(envelope, { now: opts.now })
  for (const key of Object.keys(doc.endorsements ?? {}))
    for (const raw of valuesOf(doc.endorsements, key)) {
      let e: SignedEnvelope<Endorsement>
      try {
        e = endorsementUnder(key, raw, opts.now, { expired: true })
      } catch {
        continue
      }
      if (envelopeId(e) !== verified.payload.endorsementId) continue
      if (e.signer !== verified.signer)
        throw new FedhubError("WRONG_SIGNER", `endorsement ${verified.payload.endorsementId} was issued by ${e.signer}; only its issuer can revoke it, not ${verified.signer}`)
      if (e.payload.subject !== verified.payload.subject)
        throw new FedhubError("WRONG_SUBJECT", `endorsement ${verified.payload.endorsementId} endorses ${e.payload.subject}, not ${verified.payload.subject}`)
    }
  const key = revocationKey(verified)
  if (!doc.revocations) doc.revocations = {}
  if (doc.revocations[key] !== undefined)
    for (const raw of valuesOf(doc.revocations, key)) {
      try {
        return revocationUnder(key, raw, opts.now)
      } catch {
        // a forged stored value is replaced
      }
    }
  doc.revocations[key] = new A.ImmutableString(canonicalJson(verified))
  return verified
}

/** Parses and verifies one stored revocation value; it must be stored under its own issuer:subject:endorsementId. */
function revocationUnder(key: string, raw: unknown, now: number | undefined): SignedEnvelope<EndorsementRevocation> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text(raw))
  } catch {
    throw new FedhubError("INVALID_INPUT", "entry is not JSON")
  }
  const env = verifyRevocation(parsed, { now })
  if (revocationKey(env) !== key)
    throw new FedhubError("WRONG_SIGNER", `revocation by ${env.signer} of ${env.payload.subject}'s endorsement ${env.payload.endorsementId} stored under ${key}`)
  return env
}

/** Parses and verifies one stored endorsement value; it must be stored under its own issuer:subject. */
function endorsementUnder(
  key: string,
  raw: unknown,
  now: number | undefined,
  opts: { expired?: boolean } = {},
): SignedEnvelope<Endorsement> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text(raw))
  } catch {
    throw new FedhubError("INVALID_INPUT", "entry is not JSON")
  }
  let env: SignedEnvelope<Endorsement>
  try {
    env = verifyEndorsement(parsed, { now })
  } catch (e) {
    // an expired endorsement still has an issuer, which is all putRevocation needs to know
    if (!opts.expired || toFedhubError(e).code !== "ENDORSEMENT_EXPIRED") throw e
    env = parsed as SignedEnvelope<Endorsement>
  }
  if (`${env.signer}:${env.payload.subject}` !== key)
    throw new FedhubError("WRONG_SIGNER", `endorsement of ${env.payload.subject} by ${env.signer} stored under ${key}`)
  return env
}

/** Best-effort identity of a refused stored endorsement, for reports. */
function describeEndorsement(raw: unknown): { envelopeId: string; issuer: string; subject: string } {
  try {
    const v = JSON.parse(text(raw)) as { signer?: unknown; payload?: { subject?: unknown } } | null
    let id = ""
    try {
      id = envelopeId(v as SignedEnvelope)
    } catch {
      // malformed
    }
    return {
      envelopeId: id,
      issuer: typeof v?.signer === "string" ? v.signer : "",
      subject: typeof v?.payload?.subject === "string" ? v.payload.subject : "",
    }
  } catch {
    return { envelopeId: "", issuer: "", subject: "" }
  }
}

/**
 * The verified view of a directory (Rule 2: an entry that fails is left out and listed in
 * `refused` with its reason, never shown). For each node, the newest valid descriptor among
 * all concurrent values. Rotations: every valid record stored under its own oldId (kept
 * even when the old id is blocked: they carry the block to the new id). Endorsements: every
 * concurrent value is verified on its own (signature, validity at `now`, stored under its
 * own issuer:subject), so a forged value never hides a valid one of the same pair.
 * Revocations: every concurrent value verified on its own and stored under its own
 * issuer:subject:endorsementId; a forged, altered or misfiled one is listed under `refused`
 * (key `revocation:…`), never returned. Matching them to endorsements is computeTrust's.
 */
export function readDirectory(doc: DirectoryDoc | undefined, opts: ViewOptions = {}): DirectoryView {
  const view: DirectoryView = { nodes: [], rotations: [], endorsements: [], revocations: [], refused: [] }
  if (!doc) return view
  const now = opts.now ?? Date.now()
  const refuse = (key: string, e: unknown, extra: Partial<RefusedEntry> = {}) => {
    const err = e instanceof SyntaxError ? new FedhubError("INVALID_INPUT", "entry is not JSON") : toFedhubError(e)
    view.refused.push({ key, code: err.code, detail: err.detail, ...extra })
  }
  for (const key of Object.keys(doc.entries ?? {}).sort()) {
    if (opts.blocked?.has(key)) continue
    let best: SignedEnvelope<FederationNode> | undefined
    for (const raw of valuesOf(doc.entries, key)) {
      try {
        const env = verifyDescriptor(JSON.parse(text(raw)))
        if (env.payload.id !== key) throw new FedhubError("WRONG_SIGNER", `entry ${key} holds the descriptor of ${env.payload.id}`)
        const seen = opts.lastSequence?.get(key)
        if (seen !== undefined && env.payload.sequence < seen)
          throw new FedhubError("DESCRIPTOR_REPLAYED", `sequence ${env.payload.sequence} is older than ${seen}, already seen`)
        if (!best || env.payload.sequence > best.payload.sequence) best = env
      } catch (e) {
        refuse(key, e)
      }
    }
    if (best) view.nodes.push({ nodeId: key as NodeId, descriptor: best })
  }
  for (const key of Object.keys(doc.rotations ?? {}).sort()) {
    const seen = new Set<string>()
    for (const raw of valuesOf(doc.rotations, key)) {
      try {
        const env = verifyRotation(JSON.parse(text(raw)), { storedUnder: key, now })
        const id = envelopeId(env)
        if (!seen.has(id)) view.rotations.push(env)
        seen.add(id)
      } catch (e) {
        refuse(`rotation:${key}`, e)
      }
    }
  }
  for (const key of Object.keys(doc.endorsements ?? {}).sort()) {
    const parts = key.split(":")
    const [issuer, subject] = parts
    if (parts.length !== 2 || !isNodeId(issuer) || !isNodeId(subject)) {
      refuse(`endorsement:${key}`, new FedhubError("INVALID_INPUT", "endorsement key is not issuer:subject"))
      continue
    }
    if (opts.blocked?.has(issuer) || opts.blocked?.has(subject)) continue
    const seen = new Set<string>()
    for (const raw of valuesOf(doc.endorsements, key)) {
      try {
        const env = endorsementUnder(key, raw, now)
        const id = envelopeId(env)
        if (!seen.has(id)) view.endorsements.push(env)
        seen.add(id)
      } catch (e) {
        refuse(`endorsement:${key}`, e, describeEndorsement(raw))
      }
    }
  }
  for (const key of Object.keys(doc.revocations ?? {}).sort()) {
    const parts = key.split(":")
    const [issuer, subject] = parts
    if (parts.length !== 3 || !isNodeId(issuer) || !isNodeId(subject)) {
      refuse(`revocation:${key}`, new FedhubError("INVALID_INPUT", "revocation key is not issuer:subject:endorsementId"))
      continue
    }
    if (opts.blocked?.has(issuer) || opts.blocked?.has(subject)) continue
    const seen = new Set<string>()
    for (const raw of valuesOf(doc.revocations!, key)) {
      try {
        const env = revocationUnder(key, raw, now)
        const id = envelopeId(env)
        if (!seen.has(id)) view.revocations.push(env)
        seen.add(id)
      } catch (e) {
        refuse(`revocation:${key}`, e, describeEndorsement(raw))
      }
    }
  }
  return view
}
