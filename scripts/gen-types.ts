/**
 * Generates src/schema/types.ts from schemas/*.schema.json (the single source of
 * truth) with json-schema-to-typescript.
 *
 *   npm run gen:types            writes src/schema/types.ts
 *   npx tsx scripts/gen-types.ts --check
 *                                exits 1 if the file differs from what would be generated
 *
 * Every schema file's root (unless it only holds `$defs`) and every entry of its
 * `$defs` becomes one named, exported type named after its `title`. A `$ref`
 * is never followed by the generator: it becomes a reference to the target's
 * named type (so `NodeId` is declared once, and `description`s beside a `$ref`
 * document the property instead of forking the type). The output has no
 * timestamps and is ordered by file name, then root, then `$defs` in file order.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"
import { compile, type JSONSchema } from "json-schema-to-typescript"

/** Every schema's `$id` is this prefix + its file name. */
export const SCHEMA_BASE_URI = "https://fedhub.dev/schemas/"
const DRAFT = "https://json-schema.org/draft/2020-12/schema"
const SCHEMA_SUFFIX = ".schema.json"

export const SCHEMA_DIR = fileURLToPath(new URL("../schemas/", import.meta.url))
export const TYPES_FILE = fileURLToPath(new URL("../src/schema/types.ts", import.meta.url))

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type SchemaObject = { [k: string]: Json }

/** One generated type: its schema name (as `validate` takes it), TS name and schema. */
interface Unit {
  name: string
  title: string
  schema: SchemaObject
}

/** Keywords that only annotate; a root with nothing else but `$defs` is not a type of its own. */
const ANNOTATIONS = new Set(["$schema", "$id", "$comment", "title", "description", "$defs", "examples", "default"])
/** Keywords that constrain what a value is; a schema with none of them accepts any JSON. */
const SHAPING = [
  "type", "$ref", "enum", "const", "properties", "patternProperties", "additionalProperties", "items",
  "prefixItems", "anyOf", "oneOf", "allOf", "not", "if", "tsType",
]

const isObject = (v: unknown): v is SchemaObject => typeof v === "object" && v !== null && !Array.isArray(v)

function fail(message: string): never {
  throw new Error(`gen-types: ${message}`)
}

/** Reads every schemas/*.schema.json, sorted by file name, checking `$schema`, `$id` and `title`. */
export function readSchemas(dir: string = SCHEMA_DIR): Map<string, SchemaObject> {
  const files = readdirSync(dir).filter((f) => f.endsWith(SCHEMA_SUFFIX)).sort()
  const out = new Map<string, SchemaObject>()
  for (const file of files) {
    let schema: unknown
    try {
      schema = JSON.parse(readFileSync(new URL(file, pathToFileURL(dir.endsWith("/") ? dir : `${dir}/`)), "utf8"))
    } catch (e) {
      fail(`${file}: ${(e as Error).message}`)
    }
    if (!isObject(schema)) fail(`${file}: not a JSON object`)
    if (schema.$schema !== DRAFT) fail(`${file}: "$schema" must be ${DRAFT}`)
    if (schema.$id !== SCHEMA_BASE_URI + file) fail(`${file}: "$id" must be ${SCHEMA_BASE_URI + file}`)
    if (typeof schema.title !== "string" || !/^[A-Z][A-Za-z0-9]*$/.test(schema.title))
      fail(`${file}: needs a PascalCase "title"`)
    out.set(file, schema)
  }
  if (out.size === 0) fail(`no *${SCHEMA_SUFFIX} in ${dir}`)
  return out
}

/** Short name of a file: "federation-node.schema.json" → "federation-node". */
const shortName = (file: string): string => file.slice(0, -SCHEMA_SUFFIX.length)

const defsOf = (schema: SchemaObject): [string, SchemaObject][] => {
  const defs = schema.$defs
  if (defs === undefined) return []
  if (!isObject(defs)) fail(`"$defs" must be an object`)
  return Object.entries(defs).map(([k, v]) => {
    if (!isObject(v)) fail(`$defs/${k} must be a schema object`)
    return [k, v]
  })
}

/** True when the root only collects `$defs` (common, handshake) and is no type itself. */
const isDefsOnly = (schema: SchemaObject): boolean => Object.keys(schema).every((k) => ANNOTATIONS.has(k))

/** Lists the units and the title each `$ref` target (absolute URI) resolves to. */
function collect(schemas: Map<string, SchemaObject>): { units: Unit[]; titles: Map<string, string> } {
  const units: Unit[] = []
  const titles = new Map<string, string>()
  const seen = new Map<string, string>()
  const add = (name: string, uri: string, title: unknown, schema: SchemaObject, emit: boolean) => {
    if (typeof title !== "string" || !/^[A-Z][A-Za-z0-9]*$/.test(title)) fail(`${name}: needs a PascalCase "title"`)
    titles.set(uri, title)
    if (!emit) return
    const other = seen.get(title)
    if (other !== undefined) fail(`${name} and ${other} are both titled "${title}"; type names must be unique`)
    seen.set(title, name)
    units.push({ name, title, schema })
  }
  for (const [file, schema] of schemas) {
    const base = SCHEMA_BASE_URI + file
    add(shortName(file), base, schema.title, schema, !isDefsOnly(schema))
    for (const [key, def] of defsOf(schema)) {
      if (def.title !== key) fail(`${file}#/$defs/${key}: "title" must equal its key "${key}"`)
      add(`${shortName(file)}#${key}`, `${base}#/$defs/${key}`, def.title, def, true)
    }
  }
  return { units, titles }
}

/**
 * Rewrites a unit's schema for the generator: each `$ref` becomes `tsType: <target title>`
 * (its sibling `description` stays, documenting the property), nested `title`s are
 * dropped (only roots and `$defs` name types) and a schema that accepts any JSON is `unknown`.
 */
function prepare(schema: SchemaObject, file: string, titles: Map<string, string>): SchemaObject {
  const base = SCHEMA_BASE_URI + file
  const walk = (node: Json, depth: number): Json => {
    if (Array.isArray(node)) return node.map((n) => walk(n, depth))
    if (!isObject(node)) return node
    const out: SchemaObject = {}
    for (const [k, v] of Object.entries(node)) {
      if (k === "$schema" || k === "$id" || k === "$defs" || k === "$comment") continue
      if (k === "title" && depth > 0) continue
      if (k === "$ref") {
        if (typeof v !== "string") fail(`${file}: "$ref" must be a string`)
        const target = new URL(v, base).href
        const title = titles.get(target) ?? fail(`${file}: $ref ${v} (${target}) is not a schema root or a $defs entry`)
        out.tsType = title
        continue
      }
      out[k] = isSchemaMap(k) ? mapValues(v, (s) => walk(s, depth + 1)) : isSchemaValued(k) ? walk(v, depth + 1) : v
    }
    if (!SHAPING.some((k) => k in out)) out.tsType = "unknown"
    return out
  }
  return walk(schema, 0) as SchemaObject
}

const isSchemaMap = (k: string): boolean => k === "properties" || k === "patternProperties" || k === "dependentSchemas"
const isSchemaValued = (k: string): boolean =>
  ["items", "additionalProperties", "anyOf", "oneOf", "allOf", "not", "if", "then", "else", "prefixItems", "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems"].includes(k)
const mapValues = (v: Json, f: (s: Json) => Json): Json =>
  isObject(v) ? Object.fromEntries(Object.entries(v).map(([k, s]) => [k, f(s)])) : v

const HEADER = `/**
 * GENERATED from schemas/*.schema.json by scripts/gen-types.ts. DO NOT EDIT.
 * Change the schemas, then run \`npm run gen:types\`.
 */
/* eslint-disable */
`

/** The full text of src/schema/types.ts for the schemas in `dir`. */
export async function generateTypes(dir: string = SCHEMA_DIR): Promise<string> {
  const schemas = readSchemas(dir)
  const { units, titles } = collect(schemas)
  const parts: string[] = [HEADER]
  for (const unit of units) {
    const file = `${unit.name.split("#")[0]}${SCHEMA_SUFFIX}`
    const prepared = prepare(unit.schema, file, titles)
    const ts = await compile(prepared as JSONSchema, unit.title, {
      bannerComment: "",
      cwd: dir,
      declareExternallyReferenced: true,
      unknownAny: true,
      additionalProperties: true,
      strictIndexSignatures: false,
      // arrays stay T[] whatever their minItems/maxItems (no tuple unions)
      ignoreMinAndMaxItems: true,
      format: true,
      style: { semi: false, printWidth: 120, trailingComma: "all" },
    })
    parts.push(`// ${unit.name}\n${ts.trim()}\n`)
  }
  const names = units.map((u) => u.name)
  parts.push(`/** Every schema name \`validate\` takes: a file's short name, or "<file>#<$defs key>". */
export const SCHEMA_NAMES = [
${names.map((n) => `  ${JSON.stringify(n)},`).join("\n")}
] as const

/** A schema name, e.g. "federation-node" or "handshake#ChallengeRequest". */
export type SchemaName = (typeof SCHEMA_NAMES)[number]

/** The TypeScript type of the values each schema accepts. */
export interface SchemaTypes {
${units.map((u) => `  ${propertyKey(u.name)}: ${u.title}`).join("\n")}
}
`)
  return parts.join("\n")
}

const propertyKey = (name: string): string => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name))

async function main(argv: string[]): Promise<number> {
  const check = argv.includes("--check")
  const unknown = argv.filter((a) => a !== "--check")
  if (unknown.length > 0) {
    console.error(`gen-types: unknown argument ${unknown[0]}; usage: gen-types [--check]`)
    return 2
  }
  const text = await generateTypes()
  let current: string | undefined
  try {
    current = readFileSync(TYPES_FILE, "utf8")
  } catch {
    current = undefined
  }
  if (check) {
    if (current === text) {
      console.log("gen-types: src/schema/types.ts is up to date")
      return 0
    }
    console.error(
      current === undefined
        ? "gen-types: src/schema/types.ts is missing; run `npm run gen:types`"
        : "gen-types: src/schema/types.ts differs from schemas/*.schema.json; run `npm run gen:types`",
    )
    return 1
  }
  if (current !== text) writeFileSync(TYPES_FILE, text)
  console.log(`gen-types: ${current === text ? "unchanged" : "wrote"} src/schema/types.ts`)
  return 0
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e)
      process.exit(1)
    },
  )
}
