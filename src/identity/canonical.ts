/**
 * Canonical JSON (RFC 8785 / JCS) and content ids. What is signed or hashed is
 * always these bytes, so every hub computes the same ids and signatures.
 */
import { createHash } from "node:crypto"
import canonicalize from "canonicalize"
import { FedhubError } from "../errors.ts"
import { utf8 } from "./encoding.ts"

/** Deepest nesting accepted by the walkers here; deeper input is refused, not a stack overflow. */
export const MAX_DEPTH = 512

const IDENT_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Appends an object key to a JSONPath-like location (`$.a["b c"][2]`), for error messages. */
const keyPath = (path: string, key: string): string =>
  IDENT_RE.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`

const isPlainObject = (v: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

const typeName = (v: object): string => {
  const ctor: unknown = (v as { constructor?: unknown }).constructor
  return typeof ctor === "function" && ctor.name ? ctor.name : "object"
}

/**
 * Refuses what JSON cannot represent faithfully, instead of letting it be dropped
 * or turned into null silently: functions, symbols, BigInt, NaN/±Infinity, lone
 * surrogates, undefined outside object properties, cycles, exotic objects.
 */
function checkJsonable(value: unknown, path: string, depth: number, ancestors: Set<object>, inObject: boolean): void {
  const fail = (why: string): never => {
    throw new FedhubError("NOT_CANONICAL", `${why} at ${path}`, { path })
  }
  switch (typeof value) {
    case "undefined":
      if (!inObject) fail("undefined has no JSON form")
      return
    case "function":
    case "symbol":
    case "bigint":
      return fail(`a ${typeof value} has no JSON form`)
    case "number":
      if (!Number.isFinite(value)) fail(`${value} has no JSON form`)
      return
    case "string":
      if (LONE_SURROGATE_RE.test(value)) fail("a lone UTF-16 surrogate has no UTF-8 form")
      return
    case "boolean":
      return
  }
  if (value === null) return
  const obj = value as object
  if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`)
  if (ancestors.has(obj)) fail("circular reference")
  if (typeof (obj as { toJSON?: unknown }).toJSON === "function") {
    ancestors.add(obj)
    checkJsonable((obj as { toJSON: () => unknown }).toJSON(), path, depth + 1, ancestors, inObject)
    ancestors.delete(obj)
    return
  }
  if (obj instanceof Number || obj instanceof String || obj instanceof Boolean) {
    checkJsonable(obj.valueOf(), path, depth, ancestors, inObject)
    return
  }
  ancestors.add(obj)
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) checkJsonable(obj[i], `${path}[${i}]`, depth + 1, ancestors, false)
  } else if (isPlainObject(obj)) {
    for (const key of Object.keys(obj)) {
      if (LONE_SURROGATE_RE.test(key)) fail("a key with a lone UTF-16 surrogate")
      checkJsonable((obj as Record<string, unknown>)[key], keyPath(path, key), depth + 1, ancestors, true)
    }
  } else {
    fail(`a ${typeName(obj)} has no faithful JSON form`)
  }
  ancestors.delete(obj)
}

/**
 * Serializes `value` as RFC 8785 canonical JSON (sorted keys, ECMAScript number
 * form, minimal escapes). Throws NOT_CANONICAL for anything without a JSON form.
 * Object properties whose value is undefined are omitted, as in JSON.stringify.
 */
export function canonicalJson(value: unknown): string {
  checkJsonable(value, "$", 0, new Set(), false)
  let out: string | undefined
  try {
    out = canonicalize(value)
  } catch (e) {
    throw new FedhubError("NOT_CANONICAL", e instanceof Error ? e.message : String(e))
  }
  if (out === undefined) throw new FedhubError("NOT_CANONICAL", "value has no JSON form")
  return out
}

/**
 * Asserts `value` is plain JSON data fit for a signed payload: integers only
 * (FLOAT_IN_PAYLOAD names the path of the first other number); unsafe integers,
 * undefined, holes, cycles and non-plain objects (Date, Uint8Array, Map…) are INVALID_INPUT.
 */
export function assertIntegersOnly(value: unknown): void {
  walkIntegers(value, "$", 0, new Set())
}

function walkIntegers(value: unknown, path: string, depth: number, ancestors: Set<object>): void {
  const invalid = (why: string): never => {
    throw new FedhubError("INVALID_INPUT", `${why} at ${path}`, { path })
  }
  switch (typeof value) {
    case "number":
      if (!Number.isInteger(value))
        throw new FedhubError("FLOAT_IN_PAYLOAD", `non-integer number ${value} at ${path}`, { path })
      if (!Number.isSafeInteger(value)) invalid(`integer ${value} is beyond ±Number.MAX_SAFE_INTEGER`)
      return
    case "string":
    case "boolean":
      return
    case "undefined":
      return invalid("undefined is not allowed in a signed payload")
    case "function":
    case "symbol":
    case "bigint":
      return invalid(`a ${typeof value} is not allowed in a signed payload`)
  }
  if (value === null) return
  const obj = value as object
  if (depth > MAX_DEPTH) invalid(`nesting deeper than ${MAX_DEPTH}`)
  if (ancestors.has(obj)) invalid("circular reference")
  ancestors.add(obj)
  if (Array.isArray(obj)) {
    if (Object.getPrototypeOf(obj) !== Array.prototype) invalid("an array subclass is not plain data")
    for (let i = 0; i < obj.length; i++) {
      if (!(i in obj)) invalid(`hole in array at index ${i}`)
      walkIntegers(obj[i], `${path}[${i}]`, depth + 1, ancestors)
    }
  } else if (isPlainObject(obj)) {
    for (const key of Object.keys(obj))
      walkIntegers((obj as Record<string, unknown>)[key], keyPath(path, key), depth + 1, ancestors)
  } else {
    invalid(`a ${typeName(obj)} is not plain JSON data`)
  }
  ancestors.delete(obj)
}

/** The UTF-8 bytes of `canonicalJson(value)`: exactly what gets signed or hashed. */
export const canonicalBytes = (value: unknown): Uint8Array => utf8(canonicalJson(value))

/** Hex SHA-256 of the canonical bytes: the id of a piece of content (never of a signature). */
export const contentId = (value: unknown): string =>
  createHash("sha256").update(canonicalBytes(value)).digest("hex")
