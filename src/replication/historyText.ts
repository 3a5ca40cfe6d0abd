/**
 * The text side of a document's history, without Automerge: heads as users type them,
 * the shapes the history views return, and their terminal formatting. The CLI loads
 * this alone, so a command through a running hub never loads Automerge's wasm.
 */
import { FedhubError } from "../errors.ts"

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
export const checkHeads = (parts: readonly unknown[]): Heads => {
  const out: string[] = []
  for (const p of parts) {
    if (typeof p !== "string") throw new FedhubError("BAD_HEADS", `a change hash is a string, got ${JSON.stringify(p) ?? typeof p}`)
    const h = p.toLowerCase()
    if (!HASH_RE.test(h)) throw new FedhubError("BAD_HEADS", `not a change hash (64 hex characters): ${short(p)}`)
    if (!out.includes(h)) out.push(h)
  }
  return out
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

/** A value of the document now and who wrote it (several writers when concurrent values stand). */
export interface WrittenValue {
  path: string
  value: unknown
  writers: { actor: string; author?: string; authorName?: string }[]
}

/** Formats `writtenBy` for a terminal: path, writer(s), value. */
export function formatWritten(values: readonly WrittenValue[]): string {
  if (values.length === 0) return "no values"
  return values
    .map(v => `${v.path}  ${v.writers.map(w => w.authorName ?? w.author ?? `unattributed ${w.actor.slice(0, 8)}`).join(" | ")}  ${json(v.value, 120)}`)
    .join("\n")
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
