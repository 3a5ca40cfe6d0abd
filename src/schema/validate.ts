/**
 * Checks values against the JSON Schemas in schemas/ (the single source of truth)
 * with one Ajv (draft 2020-12) instance. Schemas are read on first use; each
 * validator is compiled on its first use and cached.
 *
 * A schema is addressed by name (see SCHEMA_NAMES in ./types.ts):
 *   - a file's short name, "federation-node" → schemas/federation-node.schema.json
 *   - "<file>#<key>" for an entry of that file's `$defs`,
 *     "handshake#ChallengeRequest" → handshake.schema.json#/$defs/ChallengeRequest
 */
import { readdirSync, readFileSync } from "node:fs"
import type { AnySchemaObject, ErrorObject, ValidateFunction } from "ajv"
import Ajv2020Module from "ajv/dist/2020.js"
import addFormatsModule from "ajv-formats"
import { FedhubError, type ErrorCode } from "../errors.ts"
import { SCHEMA_NAMES, type SchemaName, type SchemaTypes } from "./types.ts"

export { SCHEMA_NAMES, type SchemaName, type SchemaTypes }

/** Every schema's `$id` is this prefix + its file name. */
export const SCHEMA_BASE_URI = "https://fedhub.dev/schemas/"
/** The folder holding the *.schema.json files. */
export const SCHEMA_DIR_URL = new URL("../../schemas/", import.meta.url)

// ajv and ajv-formats are CommonJS: under NodeNext the default import is
// `module.exports`, whose `.default` is the same class / plugin (both packages
// set `exports.default`). Take `.default` when present so any loader works.
type Ajv2020Class = typeof Ajv2020Module.default
type FormatsPlugin = typeof addFormatsModule.default
const Ajv2020: Ajv2020Class =
  (Ajv2020Module as unknown as { default?: Ajv2020Class }).default ?? (Ajv2020Module as unknown as Ajv2020Class)
const addFormats: FormatsPlugin =
  (addFormatsModule as unknown as { default?: FormatsPlugin }).default ??
  (addFormatsModule as unknown as FormatsPlugin)
type Ajv = InstanceType<Ajv2020Class>

const KNOWN_NAMES: ReadonlySet<string> = new Set(SCHEMA_NAMES)

const instances = new Map<boolean, Ajv>()
const validators = new Map<SchemaName, ValidateFunction>()
const allErrorValidators = new Map<SchemaName, ValidateFunction>()

/** The shared Ajv instance (one stopping at the first error, one collecting all) with every schema file added. */
function instance(allErrors = false): Ajv {
  const known = instances.get(allErrors)
  if (known) return known
  const created = new Ajv2020({
    strict: true,
    allErrors,
    // `type: ["integer", "null"]` and the like
    allowUnionTypes: true,
    // errors carry the failing schema and value, for readable messages
    verbose: true,
  })
  addFormats(created)
  for (const file of readdirSync(SCHEMA_DIR_URL).filter((f) => f.endsWith(".schema.json")).sort()) {
    const schema = JSON.parse(readFileSync(new URL(file, SCHEMA_DIR_URL), "utf8")) as AnySchemaObject
    created.addSchema(schema)
  }
  instances.set(allErrors, created)
  return created
}

/** The absolute schema URI of a schema name, e.g. ".../handshake.schema.json#/$defs/ChallengeRequest". */
export function schemaUri(name: SchemaName): string {
  const hash = name.indexOf("#")
  return hash < 0
    ? `${SCHEMA_BASE_URI}${name}.schema.json`
    : `${SCHEMA_BASE_URI}${name.slice(0, hash)}.schema.json#/$defs/${name.slice(hash + 1)}`
}

/**
 * The compiled (cached) validator of a schema; throws INTERNAL for an unknown name.
 * `allErrors` collects every problem instead of stopping at the first (slower).
 */
export function validatorFor(name: SchemaName, allErrors = false): ValidateFunction {
  const cache = allErrors ? allErrorValidators : validators
  const cached = cache.get(name)
  if (cached) return cached
  if (!KNOWN_NAMES.has(name)) throw new FedhubError("INTERNAL", `no schema named ${JSON.stringify(name)}`)
  const fn = instance(allErrors).getSchema(schemaUri(name))
  if (!fn) throw new FedhubError("INTERNAL", `schema ${name} (${schemaUri(name)}) not found in schemas/`)
  cache.set(name, fn)
  return fn
}

/** Every schema problem of `value`, each as a readable line; [] when it matches (for answers that list them all). */
export function schemaProblems(name: SchemaName, value: unknown): string[] {
  const fn = validatorFor(name, true)
  if (fn(value)) return []
  return [...new Set((fn.errors ?? []).map((e) => formatErrors([e])))]
}

/** Options of `validate`. */
export interface ValidateOptions {
  /** Prefixed to the detail, e.g. "config.json" → "config.json: /prot is not allowed ...". */
  label?: string
  /** Error code to throw instead of SCHEMA_INVALID (e.g. CONFIG_INVALID). */
  code?: ErrorCode
}

/**
 * Returns `value` typed as the schema's type, or throws FedhubError SCHEMA_INVALID
 * whose detail names each failing path ("/policies/dataRetentionDays must be integer
 * or null (got 1.5)") and whose `extra.errors` holds Ajv's errors (without values).
 * The value is never modified (no defaults are filled in, nothing is coerced).
 */
export function validate<N extends SchemaName>(name: N, value: unknown, options?: ValidateOptions): SchemaTypes[N]
export function validate<T>(name: SchemaName, value: unknown, options?: ValidateOptions): T
export function validate(name: SchemaName, value: unknown, options: ValidateOptions = {}): unknown {
  const fn = validatorFor(name)
  if (fn(value)) return value
  const errors = fn.errors ?? []
  const detail = formatErrors(errors)
  throw new FedhubError(options.code ?? "SCHEMA_INVALID", options.label ? `${options.label}: ${detail}` : detail, {
    schema: name,
    errors: errors.map(({ instancePath, schemaPath, keyword, params, message }) => ({
      instancePath,
      schemaPath,
      keyword,
      params,
      message,
    })),
  })
}

/** True when `value` matches the schema. */
export function isValid<N extends SchemaName>(name: N, value: unknown): value is SchemaTypes[N] {
  return validatorFor(name)(value) === true
}

/** Ajv errors as one readable line: "/a/b must be integer (got 1.5); /c is required". */
export function formatErrors(errors: readonly ErrorObject[]): string {
  if (errors.length === 0) return "does not match its schema"
  const lines = [...new Set(errors.map(describe))]
  return lines.join("; ")
}

const at = (path: string): string => (path === "" ? "/" : path)
const child = (path: string, key: string): string => `${path}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`

/** A short JSON preview of an offending value. */
function preview(value: unknown): string {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

function describe(e: ErrorObject): string {
  const path = at(e.instancePath)
  const params = e.params as Record<string, unknown>
  const got = e.data === undefined ? "" : ` (got ${preview(e.data)})`
  switch (e.keyword) {
    case "required":
      return `${child(e.instancePath, String(params.missingProperty))} is required`
    case "additionalProperties": {
      const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties
      const allowed = props ? Object.keys(props) : []
      const hint = allowed.length > 0 ? `; allowed: ${allowed.join(", ")}` : ""
      return `${child(e.instancePath, String(params.additionalProperty))} is not allowed (unknown property${hint})`
    }
    case "type":
      return `${path} must be ${String(params.type).split(",").join(" or ")}${got}`
    case "const":
      return `${path} must be ${preview(params.allowedValue)}${got}`
    case "enum":
      return `${path} must be one of ${(params.allowedValues as unknown[]).map(preview).join(", ")}${got}`
    case "pattern": {
      const title = (e.parentSchema as { title?: unknown } | undefined)?.title
      const what = typeof title === "string" ? `is not a valid ${title}` : "is malformed"
      return `${path} ${what}: must match ${String(params.pattern)}${got}`
    }
    case "format":
      return `${path} must be a valid ${String(params.format)}${got}`
    default:
      return `${path} ${e.message ?? `fails ${e.keyword}`}${got}`
  }
}
