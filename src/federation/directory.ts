/**
 * The directory document: node id → latest self-signed descriptor, plus key
 * rotation records and endorsements. Each hub keeps its own; syncing another
 * hub's directory is peer exchange. Pure functions over the document, so every
 * replica computes the same view.
 */
import * as A from "@automerge/automerge"
import { canonicalJson, isNodeId, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import type { Endorsement, FederationNode } from "../schema/index.ts"
import { FedhubError, toFedhubError } from "../errors.ts"
import { verifyDescriptor } from "./descriptor.ts"
import { verifyRotation, type KeyRotation } from "./rotation.ts"

/** The directory document's shape: every value is an ImmutableString of a signed envelope. */
export type DirectoryDoc = {
  entries: Record<string, A.ImmutableString>
  rotations: Record<string, A.ImmutableString>
  endorsements: Record<string, A.ImmutableString>
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
}

export interface DirectoryView {
  nodes: DirectoryEntry[]
  rotations: SignedEnvelope<KeyRotation>[]
  endorsements: SignedEnvelope<Endorsement>[]
  refused: RefusedEntry[]
}

export interface ViewOptions {
  /** Nodes an administrator blocked: left out of the view (not reported as refusals). */
  blocked?: ReadonlySet<string>
  /** Highest descriptor sequence this hub has already seen per node; older ones are replays. */
  lastSequence?: ReadonlyMap<string, number>
}

/** An empty directory, to create the document with. */
export const emptyDirectory = (): DirectoryDoc => ({ entries: {}, rotations: {}, endorsements: {} })

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

/** Records a key rotation signed by the old key. Call inside a change. */
export function putRotation(doc: DirectoryDoc, envelope: unknown): SignedEnvelope<KeyRotation> {
  const verified = verifyRotation(envelope)
  doc.rotations[verified.payload.oldId] = new A.ImmutableString(canonicalJson(verified))
  return verified
}

/** Records an endorsement under `issuer:subject` (the issuer writes only its own keys). */
export function putEndorsement(doc: DirectoryDoc, envelope: SignedEnvelope<Endorsement>): void {
  doc.endorsements[`${envelope.signer}:${envelope.payload.subject}`] = new A.ImmutableString(canonicalJson(envelope))
}

/**
 * The verified view of a directory: for each node the newest valid descriptor among
 * all concurrent values; forged, mismatched or replayed entries are listed in `refused`.
 */
export function readDirectory(doc: DirectoryDoc | undefined, opts: ViewOptions = {}): DirectoryView {
  const view: DirectoryView = { nodes: [], rotations: [], endorsements: [], refused: [] }
  if (!doc) return view
  const refuse = (key: string, e: unknown) => {
    const err = toFedhubError(e)
    view.refused.push({ key, code: err.code, detail: err.detail })
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
        refuse(key, e instanceof SyntaxError ? new FedhubError("INVALID_INPUT", "entry is not JSON") : e)
      }
    }
    if (best) view.nodes.push({ nodeId: key as NodeId, descriptor: best })
  }
  for (const key of Object.keys(doc.rotations ?? {}).sort()) {
    if (opts.blocked?.has(key)) continue
    try {
      view.rotations.push(verifyRotation(JSON.parse(text(doc.rotations[key]))))
    } catch (e) {
      refuse(`rotation:${key}`, e)
    }
  }
  for (const key of Object.keys(doc.endorsements ?? {}).sort()) {
    const [issuer, subject] = key.split(":")
    if (!isNodeId(issuer) || !isNodeId(subject)) {
      refuse(`endorsement:${key}`, new FedhubError("INVALID_INPUT", "endorsement key is not issuer:subject"))
      continue
    }
    if (opts.blocked?.has(issuer) || opts.blocked?.has(subject)) continue
    try {
      const env = JSON.parse(text(doc.endorsements[key])) as SignedEnvelope<Endorsement>
      if (env.signer !== issuer || env.payload?.subject !== subject)
        throw new FedhubError("WRONG_SIGNER", "endorsement stored under another issuer:subject")
      view.endorsements.push(env) // signature and expiry are judged by computeTrust
    } catch (e) {
      refuse(`endorsement:${key}`, e)
    }
  }
  return view
}
