/**
 * Measures what a peer's sync message would do to a document before Automerge
 * applies it: how many operations it carries and how deep the objects it creates
 * would nest. Automerge's wasm dies on a few thousand nested maps (README "Limits"),
 * so nothing deeper than the limit may reach a document: changes are decoded on the raw
 * backend without materializing, and a whole document is loaded with `A.load`, which
 * stays linear in depth (unlike `loadIncremental` into an empty document).
 */
import * as A from "@automerge/automerge"
import { FedhubError } from "../errors.ts"
import type { ChangeMeta } from "./access/signedHeads.ts"

/** The limits a sync message is measured against. */
export interface ChangeLimits {
  /** Deepest nesting an object may reach (the root's children are depth 1). */
  changeDepth: number
  /** Most operations in one change. */
  changeOps: number
  /** Most operations in one message. */
  messageOps: number
}

/** What a message carried once measured. */
export interface ChangeMeasure {
  changes: number
  ops: number
  /** Deepest object the message creates (0 when it creates none). */
  maxDepth: number
  /** Objects the message creates, with their depth (for messages checked before this one is applied). */
  created: Map<string, number>
  /** The whole document the message carried, loaded (with `keepDocument`); the caller frees it. */
  document?: A.Doc<unknown>
  /** The saved bytes `document` was loaded from (the message's only chunk). */
  documentBytes?: Uint8Array
  /** Hash, actor, deps and sequence number of every change carried as a change chunk (for attribution; whole documents go to `onDocument`). */
  metas: (ChangeMeta & { seq: number })[]
}

/** Automerge's raw backend (what `A.getBackend` returns). */
export type Backend = ReturnType<typeof A.getBackend>

/** Options of `inspectSyncMessage`. */
export interface InspectOptions {
  /**
   * Called with a whole document the message carries, loaded on a scratch backend that is
   * freed afterwards (attribution checks it there without listing every change); may throw.
   */
  onDocument?: (backend: Backend) => void
  /**
   * Keep a message's whole document, loaded, in `ChangeMeasure.document` (when it is the
   * message's only content), so a fresh replica can take it without loading it again.
   */
  keepDocument?: boolean
}

/** The depth of an object already in the replica (undefined when the replica does not hold it). */
export type DepthOf = (objectId: string) => number | undefined

const MAKE_ACTIONS: ReadonlySet<string> = new Set(["makeMap", "makeList", "makeText", "makeTable"])

/** Automerge chunk types (the byte after 4 magic and 4 checksum bytes). */
const DOCUMENT_CHUNK = 0
const CHANGE_CHUNK = 1
const COMPRESSED_CHANGE_CHUNK = 2

/**
 * Splits bytes into Automerge chunks (magic, checksum, type, uLEB128 body length, body):
 * one entry of a sync message may hold several changes back to back.
 */
export function splitChunks(bytes: Uint8Array): { type: number; bytes: Uint8Array }[] {
  const out: { type: number; bytes: Uint8Array }[] = []
  let at = 0
  while (at < bytes.byteLength) {
    let pos = at + 9
    if (pos > bytes.byteLength) throw new FedhubError("MALFORMED_FRAME", "a truncated Automerge chunk")
    const type = bytes[at + 8]!
    let length = 0
    let shift = 0
    for (;;) {
      if (pos >= bytes.byteLength || shift > 28) throw new FedhubError("MALFORMED_FRAME", "an Automerge chunk with a bad length")
      const b = bytes[pos++]!
      length += (b & 0x7f) * 2 ** shift
      shift += 7
      if ((b & 0x80) === 0) break
    }
    const end = pos + length
    if (end > bytes.byteLength) throw new FedhubError("MALFORMED_FRAME", "an Automerge chunk longer than its message")
    out.push({ type, bytes: bytes.subarray(at, end) })
    at = end
  }
  return out
}

/**
 * Decodes a sync message (automerge-repo's `sync`/`request` data) and measures the
 * changes it carries; throws MALFORMED_FRAME, TOO_MANY_OPS or TOO_DEEP. `depthOf`
 * answers for objects this message does not create itself.
 */
export function inspectSyncMessage(data: Uint8Array, limits: ChangeLimits, depthOf: DepthOf, opts: InspectOptions = {}): ChangeMeasure {
  let message: A.DecodedSyncMessage
  try {
    message = A.decodeSyncMessage(data)
  } catch (e) {
    throw new FedhubError("MALFORMED_FRAME", `not an Automerge sync message: ${(e as Error).message}`)
  }
  const measure: ChangeMeasure = { changes: 0, ops: 0, maxDepth: 0, created: new Map(), metas: [] }
  const keep = opts.keepDocument === true && message.changes.length === 1
  try {
    for (const entry of message.changes) measureEntry(entry, measure, limits, depthOf, { ...opts, keepDocument: keep })
  } catch (e) {
    if (measure.document) A.free(measure.document)
    throw e
  }
  return measure
}

/** Measures one entry of a sync message: each change chunk decoded, a whole document (sync v2) walked. */
function measureEntry(entry: Uint8Array, m: ChangeMeasure, limits: ChangeLimits, depthOf: DepthOf, opts: InspectOptions): void {
  const chunks = splitChunks(entry)
  // a document is kept only when it is the entry's one chunk: a replica given it whole must miss nothing else the entry held
  if (chunks.length !== 1) opts = { ...opts, keepDocument: false }
  for (const chunk of chunks) {
    let change: A.DecodedChange
    try {
      if (chunk.type === DOCUMENT_CHUNK) {
        measureDocument(chunk.bytes, m, limits, opts)
        continue
      }
      if (chunk.type !== CHANGE_CHUNK && chunk.type !== COMPRESSED_CHANGE_CHUNK) throw new Error(`unknown chunk type ${chunk.type}`)
      change = A.decodeChange(chunk.bytes)
    } catch (e) {
      if (e instanceof FedhubError) throw e
      throw new FedhubError("MALFORMED_FRAME", `a change in the sync message does not decode: ${(e as Error).message}`)
    }
    measureChange(change, m, limits, depthOf)
  }
}

/**
 * A whole document (sent when the receiver has none of it): loaded (`A.load`), then its
 * operations counted and its objects walked breadth-first from the root (every concurrent
 * value included), refusing past the depth limit. Far cheaper than decoding each change;
 * objects deleted within the document's own history are not visible, so they are not walked.
 * `A.load` materializes in one pass: measured here, a document 3,000 maps deep loads in
 * 0.24 s and 1,000,000 deep (the op limit) in 15 s, where `loadIncremental` into an empty
 * document took 20 s and 770 MB at 3,000 deep; for a 62,500-item catalog shard it is also
 * about a third cheaper (0.28 s against 0.43 s).
 */
function measureDocument(bytes: Uint8Array, m: ChangeMeasure, limits: ChangeLimits, opts: InspectOptions): void {
  let doc: A.Doc<unknown>
  try {
    doc = A.load<unknown>(bytes)
  } catch (e) {
    throw new FedhubError("MALFORMED_FRAME", `a document in the sync message does not load: ${(e as Error).message}`)
  }
  const scratch = A.getBackend(doc)
  let kept = false
  try {
    const stats = scratch.stats()
    m.changes += stats.numChanges
    m.ops += stats.numOps
    if (m.ops > limits.messageOps)
      throw new FedhubError("TOO_MANY_OPS", `the message holds over ${limits.messageOps} operations, this hub's limit`)
    let level: { id: string; type: string }[] = [{ id: "_root", type: "map" }]
    for (let depth = 1; level.length > 0; depth++) {
      const next: { id: string; type: string }[] = []
      for (const { id, type } of level) {
        if (type === "text") continue
        const props: (string | number)[] = type === "list" ? Array.from({ length: scratch.length(id as A.ObjID) }, (_, i) => i) : scratch.keys(id as A.ObjID)
        for (const prop of props)
          for (const value of scratch.getAll(id as A.ObjID, prop as string)) {
            const [kind, child] = value
            if (kind !== "map" && kind !== "list" && kind !== "text" && kind !== "table") continue
            if (depth > limits.changeDepth)
              throw new FedhubError("TOO_DEEP", `a change nests objects ${depth} deep; this hub accepts ${limits.changeDepth}`)
            m.created.set(child as string, depth)
            if (depth > m.maxDepth) m.maxDepth = depth
            next.push({ id: child as string, type: kind === "table" ? "map" : kind })
          }
      }
      level = next
    }
    opts.onDocument?.(scratch)
    if (opts.keepDocument && !m.document) {
      m.document = doc
      m.documentBytes = bytes
      kept = true
    }
  } finally {
    if (!kept) A.free(doc)
  }
}

function measureChange(change: A.DecodedChange, m: ChangeMeasure, limits: ChangeLimits, depthOf: DepthOf): void {
  m.changes++
  m.metas.push({ hash: change.hash, actor: change.actor, deps: change.deps, seq: change.seq })
  if (change.ops.length > limits.changeOps)
    throw new FedhubError("TOO_MANY_OPS", `a change holds ${change.ops.length} operations; this hub accepts ${limits.changeOps}`)
  m.ops += change.ops.length
  if (m.ops > limits.messageOps)
    throw new FedhubError("TOO_MANY_OPS", `the message holds over ${limits.messageOps} operations, this hub's limit`)
  change.ops.forEach((op, i) => {
    if (!MAKE_ACTIONS.has(op.action)) return
    const parent = op.obj === "_root" ? 0 : (m.created.get(op.obj) ?? depthOf(op.obj))
    if (parent === undefined)
      throw new FedhubError("MALFORMED_FRAME", `a change creates an object inside ${op.obj}, which this hub does not hold`)
    const depth = parent + 1
    if (depth > limits.changeDepth)
      throw new FedhubError("TOO_DEEP", `a change nests objects ${depth} deep; this hub accepts ${limits.changeDepth}`)
    m.created.set(`${change.startOp + i}@${change.actor}`, depth)
    if (depth > m.maxDepth) m.maxDepth = depth
  })
}

/** The depth of an object in a document (its path length from the root), undefined if the document lacks it. */
export function depthInDoc(doc: A.Doc<unknown>, objectId: string): number | undefined {
  try {
    return A.getBackend(doc).objInfo(objectId as A.ObjID).path?.length
  } catch {
    return undefined
  }
}
