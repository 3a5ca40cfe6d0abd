/**
 * Schema checks that list every problem, not the first. `validate` in src/schema
 * stops at the first error (allErrors: false); the marketplace must answer a bad
 * config or item with one error naming all of them, so it keeps its own Ajv over
 * the same schema files (same options, allErrors on).
 */
import { readdirSync, readFileSync } from "node:fs"
import type { AnySchemaObject, ValidateFunction } from "ajv"
import Ajv2020Module from "ajv/dist/2020.js"
import addFormatsModule from "ajv-formats"
import { formatErrors, SCHEMA_DIR_URL, schemaUri, type SchemaName, type SchemaTypes } from "../schema/index.ts"

type Ajv2020Class = typeof Ajv2020Module.default
type FormatsPlugin = typeof addFormatsModule.default
const Ajv2020: Ajv2020Class =
  (Ajv2020Module as unknown as { default?: Ajv2020Class }).default ?? (Ajv2020Module as unknown as Ajv2020Class)
const addFormats: FormatsPlugin =
  (addFormatsModule as unknown as { default?: FormatsPlugin }).default ??
  (addFormatsModule as unknown as FormatsPlugin)

let ajv: InstanceType<Ajv2020Class> | undefined
const cache = new Map<SchemaName, ValidateFunction>()

function validatorOf(name: SchemaName): ValidateFunction {
  const hit = cache.get(name)
  if (hit) return hit
  if (!ajv) {
    ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true, verbose: true })
    addFormats(ajv)
    for (const file of readdirSync(SCHEMA_DIR_URL).filter((f) => f.endsWith(".schema.json")).sort())
      ajv.addSchema(JSON.parse(readFileSync(new URL(file, SCHEMA_DIR_URL), "utf8")) as AnySchemaObject)
  }
  const fn = ajv.getSchema(schemaUri(name))
  if (!fn) throw new Error(`schema ${name} not found`)
  cache.set(name, fn)
  return fn
}

/** Every schema problem of `value` as readable lines ("/a/b must be integer (got 1.5)"); [] when it matches. */
export function schemaProblems(name: SchemaName, value: unknown): string[] {
  const fn = validatorOf(name)
  if (fn(value)) return []
  return [...new Set((fn.errors ?? []).map((e) => formatErrors([e])))]
}

/** True (and `value` typed) when it matches the schema. */
export function matches<N extends SchemaName>(name: N, value: unknown): value is SchemaTypes[N] {
  return validatorOf(name)(value) === true
}
