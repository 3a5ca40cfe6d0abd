/**
 * Read-only views of an Automerge document's history: the change log, the document at
 * given heads, readable diffs between heads, and the fields holding concurrent values
 * (Rule 4: no silent last-writer-wins). Pure functions over `A.Doc`; no Repo needed.
 */
import * as A from "@automerge/automerge"
import { FedhubError } from "../errors.ts"
import { formatPath, MAX_READ_DEPTH, toPlain, type PathSegment } from "./docValues.ts"
import { checkHeads, type AuthorOf, type ChangeEntry, type ConflictEntry, type ConflictValue, type Heads, type ReadablePatch, type WrittenValue } from "./historyText.ts"
import { holdsChange } from "./changeHashes.ts"

export * from "./historyText.ts"

/**
 * Checks that `heads` are well formed and all in `doc`'s history; throws BAD_HEADS naming
 * the unknown ones. (`A.view` and `A.diff` do not reliably refuse unknown heads themselves:
 * in 3.5 `diff` silently returns [] and `hasHeads` throws a non-Error on malformed hashes.)
 */
export function assertKnownHeads(doc: A.Doc<unknown>, heads: readonly unknown[], label = "heads"): Heads {
  if (!Array.isArray(heads)) throw new FedhubError("BAD_HEADS", `${label} must be an array of change hashes`)
  const valid = checkHeads(heads)
  const unknown = valid.filter(h => !holdsChange(doc, h))
  if (unknown.length > 0)
    throw new FedhubError("BAD_HEADS", `${label}: this document has no change ${unknown.join(", ")}`, { unknown })
  return valid
}

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

/**
 * The document as it was at `heads`, as plain JSON (cheap: `A.view` shares memory).
 * Throws BAD_HEADS naming any hash the document does not have.
 */
export function docAt(doc: A.Doc<unknown>, heads: Heads): unknown {
  const valid = assertKnownHeads(doc, heads)
  return toPlain(A.view(doc, valid))
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
