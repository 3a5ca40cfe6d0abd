/**
 * A fast path for schema checks of many small values of one schema (catalog items, a
 * million per sync): the schema compiled into plain closures that answer "surely matches"
 * or "not sure". "Not sure" is answered by ajv, so the combined check accepts and refuses
 * exactly what the schema does (property-tested against ajv in test/marketplace/fastSchema.test.ts).
 *
 * Why: ajv's generated validator costs 11–13 µs per catalog item here (a default-parameter
 * object and evaluated-properties bookkeeping per call and per `$ref`, every string's
 * length counted in code points twice, uniqueItems by nested loops); these closures cost
 * a fraction. Only a subset of JSON Schema is compiled: type (one name), properties,
 * required, additionalProperties (absent or false), enum and const of primitives,
 * pattern (the same `u` regular expression ajv builds), lengths, numeric bounds, items
 * (one schema), item counts, uniqueItems over primitives and `$ref` into the schema
 * files. Any other keyword (format, unions, combinators, …) makes its subschema "not sure".
 */
import { readdirSync, readFileSync } from "node:fs"
import { SCHEMA_BASE_URI, SCHEMA_DIR_URL, type SchemaName } from "../schema/index.ts"

/** true: the value surely matches; false: not sure (the full validator decides). */
export type FastCheck = (value: unknown) => boolean

type Schema = Record<string, unknown>

/** Keywords that never change what matches. */
const ANNOTATIONS: ReadonlySet<string> = new Set(["title", "description", "$comment", "examples", "default", "$id", "$schema", "$defs", "deprecated", "readOnly", "writeOnly"])

const NOT_SURE: FastCheck = () => false

let files: Map<string, Schema> | undefined
/** Every schema file by its `$id`, read once. */
function schemaFiles(): Map<string, Schema> {
  if (files) return files
  files = new Map()
  for (const f of readdirSync(SCHEMA_DIR_URL).filter(f => f.endsWith(".schema.json"))) {
    const s = JSON.parse(readFileSync(new URL(f, SCHEMA_DIR_URL), "utf8")) as Schema
    files.set(typeof s.$id === "string" ? s.$id : `${SCHEMA_BASE_URI}${f}`, s)
  }
  return files
}

/** The subschema a `$ref` names from the file `base`, with the file it lives in; undefined when it cannot be resolved here. */
function resolve(ref: string, base: string): { schema: Schema; base: string } | undefined {
  const url = new URL(ref, base)
  const fileId = `${url.origin}${url.pathname}`
  let node: unknown = schemaFiles().get(fileId)
  const pointer = decodeURIComponent(url.hash.slice(1))
  if (pointer !== "") {
    if (!pointer.startsWith("/")) return undefined // an anchor: not compiled
    for (const part of pointer.slice(1).split("/")) {
      if (typeof node !== "object" || node === null) return undefined
      node = (node as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")]
    }
  }
  return typeof node === "object" && node !== null && !Array.isArray(node) ? { schema: node as Schema, base: fileId } : undefined
}

const isPrimitive = (v: unknown): v is string | number | boolean => typeof v === "string" || typeof v === "number" || typeof v === "boolean"

/** ajv's checks of each type name (`integer`: a finite number without a fraction). */
const TYPES: Record<string, FastCheck> = {
  string: v => typeof v === "string",
  number: v => typeof v === "number" && Number.isFinite(v),
  integer: v => typeof v === "number" && Number.isInteger(v),
  boolean: v => typeof v === "boolean",
  null: v => v === null,
  array: v => Array.isArray(v),
  object: v => typeof v === "object" && v !== null && !Array.isArray(v),
}

/** Compiles one (sub)schema of the file `base`; `seen` holds the refs being compiled (a recursive ref is not sure). */
function compile(schema: unknown, base: string, seen: ReadonlySet<string>): FastCheck {
  if (schema === true) return () => true
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return NOT_SURE
  const s = schema as Schema
  // a subschema with its own base URI: its refs are not resolved here
  if (s.$id !== undefined && s.$id !== base) return NOT_SURE
  const checks: FastCheck[] = []
  for (const [key, value] of Object.entries(s)) {
    if (ANNOTATIONS.has(key)) continue
    const c = keyword(key, value, s, base, seen)
    if (c === undefined) continue // handled with another keyword
    if (c === NOT_SURE) return NOT_SURE
    checks.push(c)
  }
  if (checks.length === 0) return () => true
  if (checks.length === 1) return checks[0]!
  return v => {
    for (const c of checks) if (!c(v)) return false
    return true
  }
}

/** One keyword's check (applying only to values of its type, as in JSON Schema), NOT_SURE when not compiled, undefined when another keyword covers it. */
function keyword(key: string, value: unknown, s: Schema, base: string, seen: ReadonlySet<string>): FastCheck | undefined {
  switch (key) {
    case "type":
      return typeof value === "string" && TYPES[value] ? TYPES[value] : NOT_SURE
    case "enum":
    case "const": {
      const list = key === "enum" ? value : [value]
      if (!Array.isArray(list) || !list.every(isPrimitive)) return NOT_SURE
      const allowed = new Set<unknown>(list)
      // a number's -0 and 0 are one value to both
      return v => isPrimitive(v) && allowed.has(v)
    }
    case "pattern": {
      if (typeof value !== "string") return NOT_SURE
      const re = new RegExp(value, "u")
      // the last string that matched (a shard's items share their marketplace, origin, currency…)
      let last: string | undefined
      return v => {
        if (typeof v !== "string" || v === last) return true
        if (!re.test(v)) return false
        last = v
        return true
      }
    }
    case "maxLength":
      // code points never outnumber UTF-16 units
      return typeof value === "number" ? v => typeof v !== "string" || v.length <= value : NOT_SURE
    case "minLength":
      // at least ceil(units / 2) code points
      return typeof value === "number" ? v => typeof v !== "string" || Math.ceil(v.length / 2) >= value : NOT_SURE
    case "minimum":
      return typeof value === "number" ? v => typeof v !== "number" || v >= value : NOT_SURE
    case "maximum":
      return typeof value === "number" ? v => typeof v !== "number" || v <= value : NOT_SURE
    case "exclusiveMinimum":
      return typeof value === "number" ? v => typeof v !== "number" || v > value : NOT_SURE
    case "exclusiveMaximum":
      return typeof value === "number" ? v => typeof v !== "number" || v < value : NOT_SURE
    case "maxItems":
      return typeof value === "number" ? v => !Array.isArray(v) || v.length <= value : NOT_SURE
    case "minItems":
      return typeof value === "number" ? v => !Array.isArray(v) || v.length >= value : NOT_SURE
    case "uniqueItems":
      if (value === false) return undefined
      if (value !== true) return NOT_SURE
      // sure only over primitives of one type (no deep equality needed; 1 and "1" never meet)
      return v => {
        if (!Array.isArray(v) || v.length < 2) return true
        const t = typeof v[0]
        for (const x of v) if (typeof x !== t || !isPrimitive(x)) return false
        if (v.length > 16) return new Set(v).size === v.length
        for (let i = 1; i < v.length; i++) for (let j = 0; j < i; j++) if (v[i] === v[j]) return false
        return true
      }
    case "items": {
      const item = compile(value, base, seen)
      if (item === NOT_SURE) return NOT_SURE
      return v => {
        if (!Array.isArray(v)) return true
        for (const x of v) if (!item(x)) return false
        return true
      }
    }
    case "required": {
      if (!Array.isArray(value) || !value.every(k => typeof k === "string")) return NOT_SURE
      const names = value as string[]
      return v => {
        if (!TYPES.object!(v)) return true
        const o = v as Record<string, unknown>
        for (const k of names) if (o[k] === undefined) return false
        return true
      }
    }
    case "additionalProperties":
      if (value === false) {
        const props = s.properties
        if (typeof props !== "object" || props === null) return NOT_SURE
        const known = new Set(Object.keys(props))
        return v => {
          if (!TYPES.object!(v)) return true
          for (const k in v as object) if (!known.has(k)) return false
          return true
        }
      }
      return value === true ? undefined : NOT_SURE
    case "properties": {
      if (typeof value !== "object" || value === null) return NOT_SURE
      const entries: [string, FastCheck][] = []
      for (const [k, sub] of Object.entries(value)) {
        const c = compile(sub, base, seen)
        if (c === NOT_SURE) {
          // a property never sure is checked by the full validator whenever present
          entries.push([k, v => v === undefined])
          continue
        }
        entries.push([k, c])
      }
      return v => {
        if (!TYPES.object!(v)) return true
        const o = v as Record<string, unknown>
        for (const [k, c] of entries) {
          const x = o[k]
          if (x !== undefined && !c(x)) return false
        }
        return true
      }
    }
    case "$ref": {
      if (typeof value !== "string") return NOT_SURE
      const target = resolve(value, base)
      const id = new URL(value, base).href
      if (!target || seen.has(id)) return NOT_SURE
      return compile(target.schema, target.base, new Set([...seen, id]))
    }
    default:
      return NOT_SURE
  }
}

const compiled = new Map<SchemaName, FastCheck>()

/** The fast path of a schema by name (as `validatorFor` names it), compiled on first use. */
export function fastCheckFor(name: SchemaName): FastCheck {
  const held = compiled.get(name)
  if (held) return held
  const hash = name.indexOf("#")
  const ref = hash < 0 ? `${name}.schema.json` : `${name.slice(0, hash)}.schema.json#/$defs/${name.slice(hash + 1)}`
  const target = resolve(ref, SCHEMA_BASE_URI)
  const check = target ? compile(target.schema, target.base, new Set()) : NOT_SURE
  compiled.set(name, check)
  return check
}
