/**
 * Marketplace metadata edits and their conflicts (issue 13 part 9): each edit of one
 * field is a `MetadataEdit` signed by the marketplace's owner or an admin, stored as its
 * canonical JSON under `meta[field]` of the marketplace document. Two admins editing one
 * field while apart both keep their edit: Automerge holds both values as a conflict on
 * that key (`A.getConflicts(meta, field)`), and `metadataView` shows them all.
 *
 * - The effective value of a field is its latest verified edit (payload time, ties: the
 *   greater envelope id), the same on every replica whatever value Automerge shows first.
 * - Refused and listed, each with its reason: a value that is not a signed edit, does not
 *   verify, is signed by neither the owner nor an admin, names another field than its key,
 *   or belongs to another marketplace. A refused value never becomes effective.
 * - `resolveEdit` signs the chosen value dated after every conflicting edit; the service
 *   writes it (`putMetadataEdit`) in a new change on top of both, so it supersedes them and
 *   the conflict is gone on every replica that merges it.
 */
import * as A from "@automerge/automerge"
import { FedhubError, isFedhubError } from "../errors.ts"
import { canonicalJson, envelopeId, type Identity, type NodeId, signEnvelope, type SignedEnvelope } from "../identity/index.ts"
import type { MetadataEdit } from "../schema/index.ts"
import { byCodeUnit, MARKET_PURPOSE, openSigned } from "./signed.ts"
import { schemaProblems } from "./schemaCheck.ts"

/** A metadata value. */
export type MetadataValue = MetadataEdit["value"]

/** One value a field holds (one of several when the field is in conflict). */
export interface MetadataFieldValue {
  /** The edit's value; null when the stored value is not a readable edit. */
  value: MetadataValue | null
  /** The signer, when the record is an envelope. */
  by: NodeId | null
  time: number | null
  verified: boolean
  /** Why it does not count, when `verified` is false. */
  reason?: string
  /** The Automerge op id that wrote it ("" outside an Automerge document). */
  opId: string
  edit: SignedEnvelope<MetadataEdit> | null
}
/** A field holding more than one concurrent value. */
export interface MetadataConflict {
  field: string
  values: MetadataFieldValue[]
}
/** A stored value that does not count. */
export interface RefusedEdit {
  field: string
  by: NodeId | null
  opId: string
  reason: string
}
/** What `metadataView` shows. */
export interface MetadataView {
  /** The effective value per field, keys sorted. */
  values: Record<string, MetadataValue>
  /** Who set each effective value, and when. */
  setBy: Record<string, { by: NodeId; time: number }>
  conflicts: MetadataConflict[]
  refused: RefusedEdit[]
}

/** The longest stored edit text read (bigger ones are refused before parsing). */
export const MAX_EDIT_TEXT = 32_768

/** Signs an edit of `edit.field` as `identity`, dated `edit.time`; throws METADATA_EDIT_INVALID for a payload its schema refuses. */
export function signMetadataEdit(identity: Identity, edit: MetadataEdit): SignedEnvelope<MetadataEdit> {
  const problems = schemaProblems("market-trade#MetadataEdit", edit)
  if (problems.length > 0) throw new FedhubError("METADATA_EDIT_INVALID", problems.join("; "), { problems })
  return signEnvelope(identity, MARKET_PURPOSE.metadataEdit, edit, edit.time)
}

/**
 * Writes a signed edit under `meta[edit.payload.field]`; call inside `A.change` on the
 * marketplace document's `meta` map. Verifies first (METADATA_EDIT_INVALID), so nothing
 * unverified or oversized reaches Automerge; who may write is the caller's check.
 */
export function putMetadataEdit(meta: Record<string, unknown>, edit: unknown): SignedEnvelope<MetadataEdit> {
  const opened = openSigned(edit, MARKET_PURPOSE.metadataEdit, "market-trade#MetadataEdit")
  if (!opened.ok) throw new FedhubError("METADATA_EDIT_INVALID", opened.reason)
  const text = canonicalJson(opened.env)
  if (text.length > MAX_EDIT_TEXT) throw new FedhubError("METADATA_EDIT_INVALID", `an edit is at most ${MAX_EDIT_TEXT} characters of JSON`)
  meta[opened.env.payload.field] = new A.ImmutableString(text)
  return opened.env
}

/** Every value stored under `key`: all concurrent ones in an Automerge map, with their op ids. */
function storedValues(meta: Record<string, unknown>, key: string): [string, unknown][] {
  let conflicts: Record<string, unknown> | undefined
  try {
    conflicts = A.getConflicts(meta as A.Doc<Record<string, unknown>>, key)
  } catch {
    conflicts = undefined // not an Automerge object: a plain map
  }
  return conflicts ? Object.entries(conflicts) : [["", meta[key]]]
}

/** Opens one stored value of field `key`. */
function readValue(raw: unknown, key: string, opId: string, admins: ReadonlySet<string>, marketplaceId: string | undefined): MetadataFieldValue {
  const bad = (reason: string, env?: SignedEnvelope<MetadataEdit>): MetadataFieldValue => ({
    value: env?.payload.value ?? null,
    by: env?.signer ?? null,
    time: env?.payload.time ?? null,
    verified: false,
    reason,
    opId,
    edit: env ?? null,
  })
  const text = raw instanceof A.ImmutableString ? raw.val : typeof raw === "string" ? raw : undefined
  if (text === undefined) return bad("not a signed edit (not a string)")
  if (text.length > MAX_EDIT_TEXT) return bad(`longer than ${MAX_EDIT_TEXT} characters`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return bad("not JSON")
  }
  const opened = openSigned(value, MARKET_PURPOSE.metadataEdit, "market-trade#MetadataEdit")
  if (!opened.ok) {
    const signer = typeof value === "object" && value !== null ? (value as { signer?: unknown }).signer : undefined
    return { ...bad(`does not verify: ${opened.reason}`), by: typeof signer === "string" ? (signer as NodeId) : null }
  }
  const env = opened.env
  if (!admins.has(env.signer)) return bad(`signed by ${env.signer}, neither the owner nor an admin`, env)
  if (env.payload.field !== key) return bad(`an edit of ${env.payload.field} stored under ${key}`, env)
  if (marketplaceId !== undefined && env.payload.marketplaceId !== marketplaceId) return bad("an edit in another marketplace", env)
  return { value: env.payload.value, by: env.signer, time: env.payload.time, verified: true, opId, edit: env }
}

const later = (a: MetadataFieldValue, b: MetadataFieldValue): boolean =>
  a.time! > b.time! || (a.time === b.time && byCodeUnit(envelopeId(a.edit!), envelopeId(b.edit!)) > 0)

/**
 * The effective metadata, every conflict and every refused value of `meta` (the
 * marketplace document's `meta` map; pass the live document, not an `A.view`, since
 * `getConflicts` ignores a view's heads). `admins` are the nodes that may edit: the
 * owner and the policy's admins.
 */
export function metadataView(meta: Record<string, unknown> | undefined, admins: readonly string[], options: { marketplaceId?: string } = {}): MetadataView {
  const may = new Set(admins)
  const view: MetadataView = { values: {}, setBy: {}, conflicts: [], refused: [] }
  if (meta === undefined || meta === null || typeof meta !== "object") return view
  for (const field of Object.keys(meta).sort(byCodeUnit)) {
    const values = storedValues(meta, field).map(([opId, raw]) => readValue(raw, field, opId, may, options.marketplaceId))
    values.sort((a, b) => (b.time ?? -1) - (a.time ?? -1) || byCodeUnit(a.opId, b.opId))
    let best: MetadataFieldValue | undefined
    for (const v of values) {
      if (!v.verified) view.refused.push({ field, by: v.by, opId: v.opId, reason: v.reason! })
      else if (best === undefined || later(v, best)) best = v
    }
    if (best !== undefined) {
      view.values[field] = best.value!
      view.setBy[field] = { by: best.by!, time: best.time! }
    }
    if (values.length > 1) view.conflicts.push({ field, values })
  }
  return view
}

/**
 * Signs the edit that resolves `conflict` to `chosenValue` (one of its verified values),
 * dated after every conflicting edit and no earlier than `now`, so it supersedes them
 * wherever it is merged. Throws METADATA_EDIT_INVALID for a value not in the conflict.
 */
export function resolveEdit(
  identity: Identity,
  marketplaceId: string,
  conflict: MetadataConflict,
  chosenValue: MetadataValue,
  now: number = Date.now(),
): SignedEnvelope<MetadataEdit> {
  const offered = conflict.values.filter((v) => v.verified)
  if (!offered.some((v) => v.value === chosenValue))
    throw new FedhubError(
      "METADATA_EDIT_INVALID",
      `${JSON.stringify(chosenValue)} is not one of the verified values of ${conflict.field}: ${offered.map((v) => JSON.stringify(v.value)).join(", ")}`,
    )
  const time = Math.max(now, ...offered.map((v) => v.time! + 1))
  try {
    return signMetadataEdit(identity, { marketplaceId, field: conflict.field, value: chosenValue, time })
  } catch (e) {
    throw isFedhubError(e) ? e : new FedhubError("METADATA_EDIT_INVALID", String(e))
  }
}
