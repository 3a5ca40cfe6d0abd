/**
 * Signed heads: an author's signature over the latest changes of its actor in a
 * document. A change hash covers its ancestors, so one signature vouches for a whole
 * batch; per-change signing is the same record with one head per change. The pure
 * verifier here attributes each decoded change to the node its actor is bound to,
 * or refuses it with a reason, at one ed25519 verification per record (never per change).
 */
import * as A from "@automerge/automerge"
import { FedhubError, type ErrorCode } from "../../errors.ts"
import { signEnvelope, verifyEnvelope, type Identity, type NodeId, type SignedEnvelope } from "../../identity/index.ts"
import { validate, type SignedHeads } from "../../schema/index.ts"
import { ACTOR_BINDING_PURPOSE, checkBinding } from "./actorBinding.ts"
import { mayWrite, recordId, type EffectivePolicy, type RefusedRecord } from "./policy.ts"

/** Purpose string of signed-heads records (domain separation). */
export const HEADS_PURPOSE = "fedhub/heads/v1"

/** A signed-heads record. */
export type SignedHeadsRecord = SignedEnvelope<SignedHeads>

/** What the verifier needs of a change: the fields `A.decodeChange` yields. */
export interface ChangeMeta {
  hash: string
  actor: string
  deps: readonly string[]
}

/** Why a change is not attributed to a writer. */
export type AttributionRefusal =
  /** no valid binding names the change's actor */
  | "unbound-actor"
  /** no signed heads of the bound node cover it */
  | "no-covering-signature"
  /** only records whose signature (or shape) is invalid claim it */
  | "signature-invalid"
  /** valid heads cover it, but signed by a node its actor is not bound to (a relay forging an author) */
  | "signer-not-bound-node"
  /** attributed, but the author is not a writer under the effective policy (see `refuseNonWriters`) */
  | "not-a-writer"

/**
 * The verdict on one change. `vouched`: an admin's policy version names document heads
 * that reach it (docs/ACCESS.md §1), so it is accepted even when `ok` is false.
 */
export type Attribution =
  | { hash: string; actor: string; ok: true; author: NodeId; vouched?: true }
  | { hash: string; actor: string; ok: false; reason: AttributionRefusal; author?: NodeId; vouched?: true }

/** What `attributeChanges` checks. */
export interface AttributionInput {
  documentId: string
  /** The batch, e.g. `bytes.map(A.decodeChange)`; any order. */
  changes: readonly ChangeMeta[]
  /** Signed-heads records (untrusted), for this batch or earlier ones. */
  signedHeads: Iterable<unknown>
  /** Actor bindings (untrusted). */
  bindings: Iterable<unknown>
  /**
   * Keys (`recordCacheKey`) of records already verified, so a record seen in an
   * earlier batch costs no second ed25519 verification; verified records are added.
   */
  verified?: Set<string>
  /** Document heads an admin vouched for (`EffectivePolicy.vouched`): changes they reach are marked `vouched`. */
  vouched?: readonly string[]
}

/** What `attributeChanges` found. */
export interface AttributionReport {
  /** One verdict per change, in input order. */
  results: Attribution[]
  /** Signed-heads and binding records refused, with why. */
  refusedRecords: RefusedRecord[]
  /** ed25519 verifications performed (records and bindings not found in the cache). */
  verifications: number
}

/**
 * Signs `heads` (hashes of changes by `actor`, the signer's own actor) for `documentId`.
 * The record vouches for those changes and every ancestor written by the signer's bound actors.
 */
export function signHeads(identity: Identity, documentId: string, actor: string, heads: readonly string[], now: number = Date.now()): SignedHeadsRecord {
  const payload = validate("signed-heads", { documentId, actor, heads: [...new Set(heads)].sort() }, { code: "INVALID_INPUT" })
  return signEnvelope(identity, HEADS_PURPOSE, payload, now)
}

/** Verifies an untrusted signed-heads record of `documentId`: the envelope, the payload's schema, the document. */
export function verifyHeads(record: unknown, documentId: string): SignedHeadsRecord {
  const env = verifyEnvelope<unknown>(record, { purpose: HEADS_PURPOSE })
  const payload = validate("signed-heads", env.payload, { code: "SCHEMA_INVALID", label: "signed heads" })
  if (payload.documentId !== documentId)
    throw new FedhubError("INVALID_INPUT", `signed heads of document ${payload.documentId}, not ${documentId}`)
  return { ...env, payload }
}

/** The cache key of a record: its content id and signature (a forged signature has the same id). */
export const recordCacheKey = (id: string, sig: string): string => `${id}:${sig}`

/** Decodes change bytes (as a sync message carries them); MALFORMED_FRAME for bytes that are not one change. */
export function decodeChanges(changes: readonly Uint8Array[]): A.DecodedChange[] {
  return changes.map((bytes, i) => {
    try {
      return A.decodeChange(bytes)
    } catch (e) {
      throw new FedhubError("MALFORMED_FRAME", `change ${i} is not an Automerge change: ${(e as Error).message}`)
    }
  })
}

/** Verifies an envelope once, consulting and filling the cache (keyed by content id and signature); counts verifications. */
function verifyCached<T>(record: unknown, purpose: string, verified: Set<string> | undefined, count: { n: number }): SignedEnvelope<T> {
  const r = record as Partial<SignedEnvelope<T>>
  const id = verified !== undefined ? recordId(record) : undefined // no cache: no id to compute
  const key = id !== undefined && typeof r.sig === "string" ? recordCacheKey(id, r.sig) : undefined
  if (key !== undefined && r.purpose === purpose && verified?.has(key))
    return { v: 1, purpose, signer: r.signer!, time: r.time!, payload: r.payload as T, sig: r.sig! }
  count.n++
  const env = verifyEnvelope<T>(record, { purpose })
  if (key !== undefined) verified?.add(key)
  return env
}

/** The claimed actor and heads of an untrusted record, for reporting what a bad signature claimed. */
function claimedOf(record: unknown): { actor: string; heads: string[] } | undefined {
  const p = (record as { payload?: { actor?: unknown; heads?: unknown } } | null)?.payload
  if (typeof p?.actor !== "string" || !Array.isArray(p.heads)) return undefined
  return { actor: p.actor, heads: p.heads.filter((h): h is string => typeof h === "string").slice(0, 64) }
}

/**
 * Attributes each change of a batch to its author or refuses it. A change is vouched
 * for when its actor is bound to node N and a valid record signed by N has a head
 * that is the change or one of its descendants in the batch. Pure; walks deps iteratively.
 */
export function attributeChanges(input: AttributionInput): AttributionReport {
  const { documentId, changes } = input
  const count = { n: 0 }
  const refusedRecords: RefusedRecord[] = []
  const refuse = (record: unknown, e: unknown): void => {
    const err = e instanceof FedhubError ? e : new FedhubError("INVALID_INPUT", String(e))
    refusedRecords.push({ id: recordId(record), code: err.code as ErrorCode, reason: err.detail, record })
  }

  // bindings: actor -> node
  const bound = new Map<string, NodeId>()
  for (const record of input.bindings) {
    try {
      const b = checkBinding(verifyCached<unknown>(record, ACTOR_BINDING_PURPOSE, input.verified, count), { documentId })
      bound.set(b.payload.actorId, b.signer) // derived ids: one node per actor
    } catch (e) {
      refuse(record, e)
    }
  }

  // the batch's graph
  const index = new Map<string, number>()
  changes.forEach((c, i) => index.set(c.hash, i))
  const n = changes.length
  const walk = (heads: readonly string[], visited: Uint8Array): void => {
    const stack: number[] = []
    for (const h of heads) {
      const i = index.get(h)
      if (i !== undefined && visited[i] === 0) {
        visited[i] = 1
        stack.push(i)
      }
    }
    while (stack.length > 0) {
      const i = stack.pop()!
      for (const d of changes[i]!.deps) {
        const j = index.get(d)
        if (j !== undefined && visited[j] === 0) {
          visited[j] = 1
          stack.push(j)
        }
      }
    }
  }
  const marksOf = (m: Map<string, Uint8Array>, key: string): Uint8Array => {
    let v = m.get(key)
    if (!v) m.set(key, (v = new Uint8Array(n)))
    return v
  }
  const coveredBy = new Map<string, Uint8Array>() // signer -> changes its valid heads of its bound actors reach
  const claimedByOther = new Map<string, Uint8Array>() // actor -> reached by valid heads of a node it is not bound to
  const claimedInvalid = new Map<string, Uint8Array>() // actor -> reached by records that do not verify

  for (const record of input.signedHeads) {
    let env: SignedHeadsRecord
    try {
      const raw = verifyCached<unknown>(record, HEADS_PURPOSE, input.verified, count)
      const payload = validate("signed-heads", raw.payload, { code: "SCHEMA_INVALID", label: "signed heads" })
      env = { ...raw, payload }
    } catch (e) {
      refuse(record, e)
      const claimed = claimedOf(record)
      if (claimed) walk(claimed.heads, marksOf(claimedInvalid, claimed.actor))
      continue
    }
    const { payload, signer } = env
    if (payload.documentId !== documentId) {
      refuse(record, new FedhubError("INVALID_INPUT", `signed heads of document ${payload.documentId}, not ${documentId}`))
      continue
    }
    const wrongActor = payload.heads.find((h) => {
      const i = index.get(h)
      return i !== undefined && changes[i]!.actor !== payload.actor
    })
    if (wrongActor !== undefined) {
      refuse(record, new FedhubError("INVALID_INPUT", `head ${wrongActor} is not a change of actor ${payload.actor}`))
      continue
    }
    if (bound.get(payload.actor) === signer) walk(payload.heads, marksOf(coveredBy, signer))
    else walk(payload.heads, marksOf(claimedByOther, payload.actor))
  }

  const vouched = new Uint8Array(n)
  if (input.vouched && input.vouched.length > 0) walk(input.vouched, vouched)
  const results: Attribution[] = changes.map((c, i) => {
    const r = attribution(c, i)
    return vouched[i] === 1 ? { ...r, vouched: true } : r
  })
  return { results, refusedRecords, verifications: count.n }

  function attribution(c: ChangeMeta, i: number): Attribution {
    const { hash, actor } = c
    const author = bound.get(actor)
    if (author === undefined) return { hash, actor, ok: false, reason: "unbound-actor" }
    if (coveredBy.get(author)?.[i] === 1) return { hash, actor, ok: true, author }
    const reason: AttributionRefusal =
      claimedInvalid.get(actor)?.[i] === 1
        ? "signature-invalid"
        : claimedByOther.get(actor)?.[i] === 1
          ? "signer-not-bound-node"
          : "no-covering-signature"
    return { hash, actor, ok: false, reason, author }
  }
}

/** Whether a verdict lets the change in: attributed (and, after `refuseNonWriters`, a writer's), or vouched for by an admin. */
export const accepted = (r: Attribution): boolean => r.ok || r.vouched === true

/** Turns attributed changes whose author may not write under `policy` into "not-a-writer" refusals. */
export function refuseNonWriters(report: AttributionReport, policy: EffectivePolicy | undefined): AttributionReport {
  return {
    ...report,
    results: report.results.map((r) =>
      r.ok && !mayWrite(policy, r.author)
        ? { hash: r.hash, actor: r.actor, ok: false, reason: "not-a-writer", author: r.author, ...(r.vouched ? { vouched: true as const } : {}) }
        : r,
    ),
  }
}

/** Throws CHANGE_UNATTRIBUTED (or NOT_A_WRITER) for the first refused change, naming it and the reason. */
export function assertAllAttributed(report: AttributionReport): void {
  const bad = report.results.find((r) => !accepted(r))
  if (bad && !bad.ok)
    throw new FedhubError(bad.reason === "not-a-writer" ? "NOT_A_WRITER" : "CHANGE_UNATTRIBUTED", `change ${bad.hash} (actor ${bad.actor}): ${bad.reason}`, {
      hash: bad.hash,
      actor: bad.actor,
      reason: bad.reason,
    })
}
