/**
 * Read-only views of an Automerge document's history: the change log, the document at
 * given heads, readable diffs between heads, and the fields holding concurrent values
 * (Rule 4: no silent last-writer-wins). Pure functions over `A.Doc`; no Repo needed.
 */
import * as A from "@automerge/automerge"
import { FedhubError } from "../errors.ts"
import { formatPath, MAX_READ_DEPTH, toPlain, type PathSegment } from "./docValues.ts"

/** A set of change hashes (64 lowercase hex chars each) naming a version of a document. */
export type Heads = string[]

const HASH_RE = /^[0-9a-f]{64}$/

/**
 * Parses heads typed by a user: change hashes separated by commas and/or spaces, or a
 * JSON array of them. Lower-cases and de-duplicates. Throws BAD_HEADS on anything else.
 */
export function parseHeads(s: string): Heads {
  if (typeof s !== "string") throw new FedhubError("BAD_HEADS", `heads must be a string, got ${typeof s}`)
  const t = s.trim()
  let parts: unknown[]
  if (t.startsWith("[")) {
    try {
      parts = JSON.parse(t) as unknown[]
    } catch {
      throw new FedhubError("BAD_HEADS", `heads look like JSON but do not parse: ${short(t)}`)
    }
    if (!Array.isArray(parts)) throw new FedhubError("BAD_HEADS", "heads in JSON must be an array of change hashes")
  } else {
    parts = t.split(/[\s,]+/).filter(p => p !== "")
  }
  if (parts.length === 0) throw new FedhubError("BAD_HEADS", "no heads given (expected one or more 64-hex change hashes)")
  return checkHeads(parts)
}

/** Formats heads the way {@link parseHeads} reads them back (comma-separated). */
export const formatHeads = (h: readonly string[]): string => h.join(",")

const short = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s)

/** Validates the shape of each hash (not whether a document has it). */
const checkHeads = (parts: readonly unknown[]): Heads => {
  const out: string[] = []
  for (const p of parts) {
    if (typeof p !== "string") throw new FedhubError("BAD_HEADS", `a change hash is a string, got ${JSON.stringify(p) ?? typeof p}`)
    const h = p.toLowerCase()
    if (!HASH_RE.test(h)) throw new FedhubError("BAD_HEADS", `not a change hash (64 hex characters): ${short(p)}`)
    if (!out.includes(h)) out.push(h)
  }
  return out
}

/**
 * Checks that `heads` are well formed and all in `doc`'s history; throws BAD_HEADS naming
 * the unknown ones. (`A.view` and `A.diff` do not reliably refuse unknown heads themselves:
 * in 3.5 `diff` silently returns [] and `hasHeads` throws a non-Error on malformed hashes.)
 */
export function assertKnownHeads(doc: A.Doc<unknown>, heads: readonly unknown[], label = "heads"): Heads {
  if (!Array.isArray(heads)) throw new FedhubError("BAD_HEADS", `${label} must be an array of change hashes`)
  const valid = checkHeads(heads)
  const unknown = valid.filter(h => !A.hasHeads(doc, [h]))
  if (unknown.length > 0)
    throw new FedhubError("BAD_HEADS", `${label}: this document has no change ${unknown.join(", ")}`, { unknown })
  return valid
}

/** One change of a document, as listed by `fedhub doc log`. */
export interface ChangeEntry {
  hash: string
  actor: string
  seq: number
  /** Milliseconds since the epoch (Automerge records whole seconds); 0 when unknown. */
  time: number
  message: string | null
  /** Number of operations in the change (0 for an empty change). */
  ops: number
  deps: string[]
  /** The node the change's actor is bound to (verified on receipt), when attributed. */
  author?: string
  /** That node's name, when this hub knows it. */
  authorName?: string
  /**
   * True when the change is attributed to `author` (docs/ACCESS.md §2-3); false for a change
   * from before attribution (or in a document without a policy): its actor names no node.
   */
  attributed: boolean
}

/** Who an actor is: the node it is bound to, and its name. */
export interface ActorAuthor {
  nodeId: string
  name?: string
}

/** Resolves an actor of the document to its author, or undefined for an unattributed actor. */
export type AuthorOf = (actor: string) => ActorAuthor | undefined

/** Options for {@link changeLog}. */
export interface ChangeLogOptions {
  /** Resolves actors to authors (none: every change is unattributed). */
  authorOf?: AuthorOf
  /** At most this many entries (the newest ones). */
  limit?: number | undefined
}

/**
 * Lists a document's changes newest first: the reverse of the causal (topological) order
 * `A.getChangesMetaSince(doc, [])` returns, which is stable for a given set of changes.
 * Uses change metadata only (no op decoding, unlike the O(n²) `A.getHistory`); the op
 * count is `maxOp - startOp + 1`, since a change's ops take consecutive counters.
 */
export function changeLog(doc: A.Doc<unknown>, opts: ChangeLogOptions = {}): ChangeEntry[] {
  const { limit } = opts
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0))
    throw new FedhubError("INVALID_INPUT", `limit must be a non-negative integer, got ${String(limit)}`)
  const metas = A.getChangesMetaSince(doc, [])
  const n = limit === undefined ? metas.length : Math.min(limit, metas.length)
  const out: ChangeEntry[] = []
  for (let i = metas.length - 1; out.length < n; i--) {
    const m = metas[i] as A.ChangeMetadata
    const who = opts.authorOf?.(m.actor)
    out.push({
      hash: m.hash,
      actor: m.actor,
      seq: m.seq,
      time: m.time > 0 ? m.time * 1000 : 0,
      message: m.message ?? null,
      ops: Math.max(0, m.maxOp - m.startOp + 1),
      deps: [...m.deps],
      ...(who ? { author: who.nodeId, ...(who.name !== undefined ? { authorName: who.name } : {}) } : {}),
      attributed: who !== undefined,
    })
  }
  return out
}

/** A value of the document now and who wrote it (several writers when concurrent values stand). */
export interface WrittenValue {
  path: string
  value: unknown
  writers: { actor: string; author?: string; authorName?: string }[]
}

/**
 * Who wrote what: every value of the document now (a text or an empty container is one
 * value; maps and lists are walked), with the author of each standing value; `by` keeps the
 * values some change of that node wrote.
 */
export function writtenBy(doc: A.Doc<unknown>, authorOf: AuthorOf = () => undefined, by?: string): WrittenValue[] {
  const out: WrittenValue[] = []
  const backend = A.getBackend(doc)
  const walk = (obj: object, path: PathSegment[]): void => {
    const visit = (key: string | number, child: unknown): void => {
      const here = [...path, key]
      // a map or list is walked (texts are strings here: one value each)
      if (isContainer(child) && path.length < MAX_READ_DEPTH && Object.keys(child as object).length > 0) return walk(child as object, here)
      // every standing value with its op id (the last element; an object's id is the op that made it)
      const values = backend.getAll((A.getObjectId(obj) ?? "_root") as A.ObjID, key as string) as unknown[][]
      const writers = values.map(v => String(v[v.length - 1])).map(opId => {
        const { actor } = splitOpId(opId)
        const who = authorOf(actor)
        return { actor, ...(who ? { author: who.nodeId, ...(who.name !== undefined ? { authorName: who.name } : {}) } : {}) }
      })
      if (by === undefined || writers.some(w => w.author === by)) out.push({ path: formatPath(here), value: toPlain(child), writers })
    }
    if (Array.isArray(obj)) for (let i = 0; i < obj.length; i++) visit(i, obj[i])
    else for (const key of Object.keys(obj)) visit(key, (obj as Record<string, unknown>)[key])
  }
  if (isContainer(doc)) walk(doc, [])
  return out
}

/** Formats `writtenBy` for a terminal: path, writer(s), value. */
export function formatWritten(values: readonly WrittenValue[]): string {
  if (values.length === 0) return "no values"
  return values
    .map(v => `${v.path}  ${v.writers.map(w => w.authorName ?? w.author ?? `unattributed ${w.actor.slice(0, 8)}`).join(" | ")}  ${json(v.value, 120)}`)
    .join("\n")
}

/**
 * The document as it was at `heads`, as plain JSON (cheap: `A.view` shares memory).
 * Throws BAD_HEADS naming any hash the document does not have.
 */
export function docAt(doc: A.Doc<unknown>, heads: Heads): unknown {
  const valid = assertKnownHeads(doc, heads)
  return toPlain(A.view(doc, valid))
}

/** One readable step of a diff; `path` is a JSON pointer ("/a/0/b", "" for the root). */
export interface ReadablePatch {
  op: "put" | "del" | "insert" | "splice" | "inc" | "mark" | "unmark" | "conflict"
  path: string
  /**
   * put: the new value (a new map/list/text appears empty, filled by later patches);
   * insert: the array of inserted values; splice: the inserted text; inc: the increment;
   * mark: the marks `{name, value, start, end}[]`; unmark: `{name, start, end}`.
   */
  value?: unknown
  /** del: how many elements/characters (1 when Automerge omits it); insert: how many values. */
  length?: number
  /** True when the value put (or one inserted) now competes with a concurrent one. */
  conflict?: boolean
}

/**
 * The readable patches that take the document from heads `from` to heads `to`, built from
 * `A.diff`, with values converted to plain JSON. Throws BAD_HEADS for unknown heads.
 */
export function diffDocs(doc: A.Doc<unknown>, from: Heads, to: Heads): ReadablePatch[] {
  const a = assertKnownHeads(doc, from, "from heads")
  const b = assertKnownHeads(doc, to, "to heads")
  return A.diff(doc, a, b).map(readablePatch)
}

const readablePatch = (p: A.Patch): ReadablePatch => {
  const path = formatPath(p.path as PathSegment[])
  switch (p.action) {
    case "put":
      return p.conflict ? { op: "put", path, value: toPlain(p.value), conflict: true } : { op: "put", path, value: toPlain(p.value) }
    case "del":
      return { op: "del", path, length: p.length ?? 1 }
    case "insert": {
      const out: ReadablePatch = { op: "insert", path, value: p.values.map(toPlain), length: p.values.length }
      if (p.conflicts?.some(Boolean)) out.conflict = true
      return out
    }
    case "splice":
      return { op: "splice", path, value: p.value }
    case "inc":
      return { op: "inc", path, value: p.value }
    case "mark":
      return {
        op: "mark",
        path,
        value: p.marks.map(m => ({ name: m.name, value: toPlain(m.value), start: m.start, end: m.end })),
      }
    case "unmark":
      return { op: "unmark", path, value: { name: p.name, start: p.start, end: p.end } }
    case "conflict":
      return { op: "conflict", path, conflict: true }
    default: {
      const unknown = p as { action: string }
      return { op: "conflict", path, value: { unsupportedAction: String(unknown.action) } }
    }
  }
}

/** One concurrent value of a conflicted field. */
export interface ConflictValue {
  value: unknown
  /** The op id of the write, as `A.getConflicts` keys it ("<counter>@<actor hex>"). */
  opId: string
  actor: string
}

/**
 * A field holding more than one concurrent value. `values[0]` is the value a plain read
 * returns (Automerge's deterministic pick: the greatest op id), the rest follow by op id.
 */
export interface ConflictEntry {
  path: string
  values: ConflictValue[]
}

/** Parses "<counter>@<actor>" for ordering; unparseable ids sort first. */
const splitOpId = (opId: string): { counter: number; actor: string } => {
  const at = opId.indexOf("@")
  const counter = at > 0 ? Number(opId.slice(0, at)) : Number.NaN
  return { counter: Number.isFinite(counter) ? counter : -1, actor: at >= 0 ? opId.slice(at + 1) : "" }
}

/** Greatest op id first (Lamport order: counter, then actor bytes = hex string order). */
const byOpIdDesc = (x: ConflictValue, y: ConflictValue): number => {
  const a = splitOpId(x.opId)
  const b = splitOpId(y.opId)
  if (a.counter !== b.counter) return b.counter - a.counter
  return a.actor < b.actor ? 1 : a.actor > b.actor ? -1 : 0
}

const isContainer = (v: unknown): boolean =>
  typeof v === "object" && v !== null && A.getObjectId(v) != null

/**
 * Every field of the document (map keys and list indices, recursively, descending into
 * the visible value of conflicted fields) that holds more than one concurrent value.
 * Pass the current document, not an `A.view`: `A.getConflicts` ignores a view's heads.
 */
export function conflicts(doc: A.Doc<unknown>): ConflictEntry[] {
  const out: ConflictEntry[] = []
  const walk = (obj: object, path: PathSegment[]): void => {
    const visit = (key: string | number, child: unknown): void => {
      const c = A.getConflicts(obj as A.Doc<unknown>, key)
      if (c !== undefined) {
        const values: ConflictValue[] = Object.keys(c).map(opId => ({
          value: toPlain(c[opId]),
          opId,
          actor: splitOpId(opId).actor,
        }))
        if (values.length > 1) out.push({ path: formatPath([...path, key]), values: values.sort(byOpIdDesc) })
      }
      if (isContainer(child) && path.length < MAX_READ_DEPTH) walk(child as object, [...path, key])
    }
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) visit(i, obj[i])
    } else {
      for (const key of Object.keys(obj)) visit(key, (obj as Record<string, unknown>)[key])
    }
  }
  if (isContainer(doc)) walk(doc, [])
  return out
}

const oneLine = (s: string): string => s.replace(/\s*[\r\n]+\s*/g, " ")

const json = (v: unknown, max = 200): string => {
  const s = JSON.stringify(v) ?? String(v)
  return s.length > max ? `${s.slice(0, max - 1)}…` : s
}

/** Formats the change log for a terminal: one line per change (hash, actor, time, ops, message). */
export function formatLog(entries: readonly ChangeEntry[]): string {
  if (entries.length === 0) return "no changes"
  return entries
    .map(e => {
      const time = e.time > 0 ? new Date(e.time).toISOString() : "-".padEnd(24)
      const ops = `${e.ops} op${e.ops === 1 ? "" : "s"}`.padStart(8)
      const msg = e.message === null ? "" : `  ${oneLine(e.message)}`
      const who = e.attributed ? (e.authorName ?? e.author!.slice(0, 12)) : `unattributed ${e.actor.slice(0, 8)}`
      return `${e.hash.slice(0, 12)}  ${who.padEnd(21)}  ${time}  ${ops}${msg}`
    })
    .join("\n")
}

/** Formats readable patches for a terminal, one line each ("no changes" when empty). */
export function formatPatches(patches: readonly ReadablePatch[]): string {
  if (patches.length === 0) return "no changes"
  return patches
    .map(p => {
      const path = p.path === "" ? "/" : p.path
      const mark = p.conflict ? "  (conflict)" : ""
      switch (p.op) {
        case "put":
          return `put     ${path} = ${json(p.value)}${mark}`
        case "del":
          return `del     ${path}${p.length !== undefined && p.length > 1 ? ` (${p.length})` : ""}`
        case "insert":
          return `insert  ${path} ${json(p.value)}${mark}`
        case "splice":
          return `splice  ${path} ${json(p.value)}`
        case "inc":
          return `inc     ${path} ${typeof p.value === "number" && p.value >= 0 ? "+" : ""}${String(p.value)}`
        case "mark":
        case "unmark":
          return `${p.op.padEnd(7)} ${path} ${json(p.value)}`
        case "conflict":
          return `conflict ${path}`
      }
    })
    .join("\n")
}

/** Formats conflicts for a terminal: the path, then one indented line per value with its actor. */
export function formatConflicts(entries: readonly ConflictEntry[]): string {
  if (entries.length === 0) return "no conflicts"
  return entries
    .map(e => {
      const lines = e.values.map(
        (v, i) => `  ${v.actor.slice(0, 8).padEnd(8)}  ${json(v.value)}${i === 0 ? "  (shown)" : ""}`,
      )
      return [e.path === "" ? "/" : e.path, ...lines].join("\n")
    })
    .join("\n")
}
