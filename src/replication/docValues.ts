/**
 * Conversions between Automerge values and plain JSON, and path-addressed edits of a
 * document inside a change. Shared by the REST API and the `fedhub doc` CLI.
 */
import * as A from "@automerge/automerge"
import { FedhubError } from "../errors.ts"

/** One step of a document path: a map key or a list index. */
export type PathSegment = string | number

/** A path from the document root; `[]` is the root itself. */
export type Path = PathSegment[]

/** Segments refused anywhere in a path or as an object key (prototype pollution). */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"])

/** A canonical list index: 0 or a decimal without leading zeros. */
const INDEX_RE = /^(0|[1-9][0-9]*)$/

/** True for an Automerge map or list (materialized or a change proxy); text is a string, not this. */
const isContainer = (v: unknown): boolean =>
  typeof v === "object" && v !== null && A.getObjectId(v) != null

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/**
 * Converts an Automerge value (a whole document, a sub-object, a scalar, a patch value)
 * into plain JSON: ImmutableString and text → string, Counter → number, Date → ISO
 * string, Uint8Array → base64, maps and lists recursively.
 */
export function toPlain(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value ?? null
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "number":
      return Number.isFinite(value) ? value : null
    case "bigint":
      return Number(value)
    case "object":
      break
    default:
      return null
  }
  // Containers first: Automerge list proxies answer true to isCounter/isImmutableString.
  if (isContainer(value)) {
    if (depth >= MAX_READ_DEPTH) return TRUNCATED
    if (Array.isArray(value)) return value.map(v => toPlain(v, depth + 1))
    return plainEntries(value as object, depth + 1)
  }
  if (value instanceof A.ImmutableString) return value.val
  if (value instanceof A.Counter || A.isCounter(value)) return (value as A.Counter).value
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")
  if (depth >= MAX_READ_DEPTH) return TRUNCATED
  if (Array.isArray(value)) return value.map(v => toPlain(v, depth + 1))
  return plainEntries(value, depth + 1)
}

/**
 * How deep {@link toPlain} descends: a document stored before the nesting limit existed
 * (or one a peer made deeper than Automerge's wasm can take) still reads, never throws.
 */
export const MAX_READ_DEPTH = 256

/** What stands in for a container nested deeper than {@link MAX_READ_DEPTH}. */
export const TRUNCATED = `[nested deeper than ${MAX_READ_DEPTH} levels: not shown]`

/** Own enumerable keys to a fresh object; defineProperty-style so a "__proto__" key stays data. */
const plainEntries = (obj: object, depth: number): Record<string, unknown> =>
  Object.fromEntries(Object.keys(obj).map(k => [k, toPlain((obj as Record<string, unknown>)[k], depth)]))

/** Options for {@link fromPlain}. */
export interface FromPlainOptions {
  /** Strings become collaborative Automerge text (co-edited prose) instead of ImmutableString. */
  text?: boolean | undefined
  /** Deepest nesting the value may reach, counting from the document root (TOO_DEEP past it). */
  maxDepth?: number | undefined
  /** The depth the value is placed at (0: it is the root; a put at path a.b: 2). */
  atDepth?: number | undefined
}

/**
 * Converts plain JSON into values ready to assign inside `A.change`: strings become
 * `A.ImmutableString` (Rule 8) unless `opts.text`. Throws INVALID_INPUT on anything that is
 * not JSON (undefined, functions, symbols, bigint, non-finite numbers, class instances, cycles);
 * Automerge values already built (ImmutableString, Counter, Date, Uint8Array) pass through.
 */
export function fromPlain(value: unknown, opts: FromPlainOptions = {}): unknown {
  const limit = { max: opts.maxDepth ?? Number.MAX_SAFE_INTEGER }
  return convertIn(value, opts.text === true, "", new Set(), opts.atDepth ?? 0, limit)
}

const convertIn = (value: unknown, text: boolean, at: string, ancestors: Set<object>, depth: number, limit: { max: number }): unknown => {
  const where = at === "" ? "the value" : `the value at ${at}`
  const tooDeep = () => new FedhubError("TOO_DEEP", `${where} would nest ${depth} levels deep; this hub accepts ${limit.max}`)
  switch (typeof value) {
    case "string":
      if (text && depth > limit.max) throw tooDeep()
      return text ? value : new A.ImmutableString(value)
    case "boolean":
      return value
    case "number":
      if (!Number.isFinite(value)) throw new FedhubError("INVALID_INPUT", `${where} is ${value}, not a finite number`)
      return value
    case "object":
      break
    default:
      throw new FedhubError("INVALID_INPUT", `${where} is ${typeof value}, which JSON cannot hold`)
  }
  if (value === null) return null
  if (value instanceof A.ImmutableString) return new A.ImmutableString(value.val)
  if (value instanceof A.Counter) return new A.Counter(value.value)
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new FedhubError("INVALID_INPUT", `${where} is an invalid Date`)
    return new Date(value.getTime())
  }
  if (value instanceof Uint8Array) return new Uint8Array(value)
  if (ancestors.has(value)) throw new FedhubError("INVALID_INPUT", `${where} contains itself (a cycle)`)
  if (depth > limit.max) throw tooDeep()
  ancestors.add(value)
  try {
    if (Array.isArray(value)) {
      return value.map((v, i) => convertIn(v, text, `${at}/${i}`, ancestors, depth + 1, limit))
    }
    if (!isPlainObject(value)) {
      const name = (value as object).constructor?.name ?? "object"
      throw new FedhubError("INVALID_INPUT", `${where} is a ${name}, not a plain JSON object`)
    }
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) throw new FedhubError("INVALID_INPUT", `key ${JSON.stringify(key)} is not allowed (at ${at || "/"})`)
      out[key] = convertIn(value[key], text, `${at}/${escapePointer(key)}`, ancestors, depth + 1, limit)
    }
    return out
  } finally {
    ancestors.delete(value)
  }
}

/** Escapes one JSON-pointer segment (RFC 6901: "~" → "~0", "/" → "~1"). */
export const escapePointer = (segment: PathSegment): string =>
  String(segment).replace(/~/g, "~0").replace(/\//g, "~1")

/** Formats a path as a JSON pointer ("/a/0/b"); the root is "". */
export const formatPath = (path: readonly PathSegment[]): string =>
  path.map(s => `/${escapePointer(s)}`).join("")

const checkSegment = (seg: string, original: string | readonly unknown[]): PathSegment => {
  const shown = JSON.stringify(original)
  if (seg === "") throw new FedhubError("BAD_PATH", `empty segment in path ${shown}`)
  if (FORBIDDEN_KEYS.has(seg)) throw new FedhubError("BAD_PATH", `segment ${JSON.stringify(seg)} is not allowed (path ${shown})`)
  return INDEX_RE.test(seg) && seg.length <= 15 ? Number(seg) : seg
}

/**
 * Parses "a.b.0.c", a JSON pointer "/a/b/0/c" (with ~0/~1 escapes) or an array into path
 * segments; decimal segments become numbers (list indices). "" and "/" are the root.
 * Throws BAD_PATH on empty segments and on "__proto__", "constructor", "prototype".
 */
export function parsePath(s: string | readonly PathSegment[]): Path {
  if (Array.isArray(s)) {
    return s.map((seg: unknown) => {
      if (typeof seg === "number") {
        if (!Number.isSafeInteger(seg) || seg < 0)
          throw new FedhubError("BAD_PATH", `list index ${seg} is not a non-negative integer (path ${JSON.stringify(s)})`)
        return seg
      }
      if (typeof seg !== "string") throw new FedhubError("BAD_PATH", `path segments are strings or numbers, got ${typeof seg}`)
      return checkSegment(seg, s)
    })
  }
  if (typeof s !== "string") throw new FedhubError("BAD_PATH", `a path is a string or an array, got ${typeof s}`)
  if (s === "" || s === "/") return []
  if (s.startsWith("/")) {
    return s.slice(1).split("/").map(raw => checkSegment(raw.replace(/~1/g, "/").replace(/~0/g, "~"), s))
  }
  return s.split(".").map(raw => checkSegment(raw, s))
}

type AnyMap = Record<string, unknown>

/** Walks to the parent of the path's last segment, creating missing maps when `create`. */
const walkToParent = (doc: object, path: Path, create: boolean): object => {
  let cur: object = doc
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i] as PathSegment
    const here = formatPath(path.slice(0, i + 1))
    let next: unknown
    if (Array.isArray(cur)) {
      if (typeof seg !== "number") throw new FedhubError("BAD_PATH", `${formatPath(path.slice(0, i))} is a list; ${JSON.stringify(seg)} is not an index`)
      if (seg >= cur.length) throw new FedhubError("BAD_PATH", `no element at ${here} (the list has ${cur.length})`)
      next = cur[seg]
    } else {
      const key = String(seg)
      next = (cur as AnyMap)[key]
      if (next === undefined) {
        if (!create) throw new FedhubError("BAD_PATH", `nothing at ${here}`)
        ;(cur as AnyMap)[key] = {}
        next = (cur as AnyMap)[key]
      }
    }
    if (!isContainer(next)) throw new FedhubError("BAD_PATH", `${here} holds a ${describe(next)}, not a map or list`)
    cur = next as object
  }
  return cur
}

const describe = (v: unknown): string => {
  if (typeof v === "string") return "text"
  if (v instanceof A.ImmutableString) return "string"
  if (v instanceof A.Counter || A.isCounter(v)) return "counter"
  if (v instanceof Date) return "date"
  if (v instanceof Uint8Array) return "byte array"
  return v === null ? "null" : typeof v
}

/**
 * Inside `A.change`/`handle.change`: assigns `value` (already from {@link fromPlain}) at
 * `path`, creating missing intermediate maps. A list index may equal the length (append).
 * An empty path sets each key of an object value at the root. Throws BAD_PATH when the
 * path crosses a non-object or would replace the root.
 */
export function setAt(doc: object, path: string | readonly PathSegment[], value: unknown): void {
  const segs = parsePath(path)
  if (!isContainer(doc) || Array.isArray(doc)) throw new FedhubError("BAD_PATH", "setAt needs the document (a map) being changed")
  if (segs.length === 0) {
    if (!isPlainObject(value))
      throw new FedhubError("BAD_PATH", "the root cannot be replaced; at the empty path the value must be an object whose keys are set one by one")
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) throw new FedhubError("BAD_PATH", `key ${JSON.stringify(key)} is not allowed`)
      ;(doc as AnyMap)[key] = value[key]
    }
    return
  }
  const parent = walkToParent(doc, segs, true)
  const last = segs[segs.length - 1] as PathSegment
  if (Array.isArray(parent)) {
    if (typeof last !== "number") throw new FedhubError("BAD_PATH", `${formatPath(segs.slice(0, -1))} is a list; ${JSON.stringify(last)} is not an index`)
    if (last > parent.length) throw new FedhubError("BAD_PATH", `index ${last} is past the end of ${formatPath(segs.slice(0, -1))} (length ${parent.length})`)
    if (last === parent.length) parent.push(value)
    else parent[last] = value
    return
  }
  ;(parent as AnyMap)[String(last)] = value
}

/**
 * Inside `A.change`/`handle.change`: deletes the value at `path` (a list element is removed,
 * shifting the rest). Throws BAD_PATH for the root, a path through a non-object, or nothing there.
 */
export function deleteAt(doc: object, path: string | readonly PathSegment[]): void {
  const segs = parsePath(path)
  if (segs.length === 0) throw new FedhubError("BAD_PATH", "the root cannot be deleted")
  if (!isContainer(doc) || Array.isArray(doc)) throw new FedhubError("BAD_PATH", "deleteAt needs the document (a map) being changed")
  const parent = walkToParent(doc, segs, false)
  const last = segs[segs.length - 1] as PathSegment
  if (Array.isArray(parent)) {
    if (typeof last !== "number") throw new FedhubError("BAD_PATH", `${formatPath(segs.slice(0, -1))} is a list; ${JSON.stringify(last)} is not an index`)
    if (last >= parent.length) throw new FedhubError("BAD_PATH", `nothing at ${formatPath(segs)} (the list has ${parent.length})`)
    parent.splice(last, 1)
    return
  }
  const key = String(last)
  if ((parent as AnyMap)[key] === undefined) throw new FedhubError("BAD_PATH", `nothing at ${formatPath(segs)}`)
  delete (parent as AnyMap)[key]
}
