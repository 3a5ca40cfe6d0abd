/**
 * The OpenAPI 3.1 document of a hub, generated from the route table (./routeTable.ts)
 * and the JSON Schemas in schemas/ (embedded under `components.schemas`, one per file,
 * their cross-file `$ref`s rewritten to local pointers). Nothing here is written by hand
 * beside them: a new route is a row of the table, a new body a schema file.
 */
import { readdirSync, readFileSync } from "node:fs"
import { SCHEMA_DIR_URL, type SchemaName } from "../schema/index.ts"
import { ERRORS } from "../errors.ts"
import { ROUTES, type Route, type RouteBody } from "./routeTable.ts"

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
type JsonObject = { [k: string]: Json }

const FILE_SUFFIX = ".schema.json"

/** Component name of a schema file: `handshake.schema.json` → `handshake`. */
const componentOf = (file: string): string => file.slice(0, -FILE_SUFFIX.length)

/** `handshake#ChallengeRequest` → `#/components/schemas/handshake/$defs/ChallengeRequest`. */
export const schemaPointer = (name: SchemaName): string => {
  const [file, def] = name.split("#") as [string, string | undefined]
  return `#/components/schemas/${file}${def ? `/$defs/${def}` : ""}`
}

/** Rewrites a schema file's `$ref`s (relative to its own `$id`) into pointers within the OpenAPI document. */
function localize(value: Json, component: string): Json {
  if (Array.isArray(value)) return value.map(v => localize(v, component))
  if (value === null || typeof value !== "object") return value
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(value)) {
    if (k === "$id" || k === "$schema") continue
    if (k === "$ref" && typeof v === "string") {
      const [file, fragment = ""] = v.split("#") as [string, string | undefined]
      const target = file === "" ? component : componentOf(file)
      out[k] = `#/components/schemas/${target}${fragment}`
    } else out[k] = localize(v, component)
  }
  return out
}

/** Every schema file in schemas/, as OpenAPI components. */
export function schemaComponents(): Record<string, Json> {
  const out: Record<string, Json> = {}
  for (const file of readdirSync(SCHEMA_DIR_URL).filter(f => f.endsWith(FILE_SUFFIX)).sort()) {
    const component = componentOf(file)
    out[component] = localize(JSON.parse(readFileSync(new URL(file, SCHEMA_DIR_URL), "utf8")) as Json, component)
  }
  return out
}

const problemResponse = (description: string): JsonObject => ({
  description,
  content: { "application/problem+json": { schema: { $ref: schemaPointer("problem") } } },
})

const bodyContent = (body: RouteBody): JsonObject => {
  if ("schema" in body) {
    const schema: JsonObject = { $ref: schemaPointer(body.schema) }
    return { "application/json": { schema: body.list ? { type: "array", items: schema } : schema } }
  }
  if ("json" in body) return { "application/json": { schema: { type: ["object", "array"], description: body.json } } }
  return { [body.media]: { schema: { type: "string", description: body.description } } }
}

const operationOf = (r: Route): JsonObject => {
  const responses: JsonObject = {
    [String(r.status)]: r.response ? { description: r.summary, content: bodyContent(r.response) } : { description: r.summary },
    "4XX": problemResponse("Refused: problem+json with a stable `code` (see the `x-error-codes` of this document)"),
    "5XX": problemResponse("Internal error or a peer that timed out, as problem+json"),
  }
  if (r.auth === "admin") responses["401"] = problemResponse("UNAUTHORIZED: no or a wrong admin token")
  const op: JsonObject = {
    operationId: `${r.method.toLowerCase()}${r.path.replace(/[{}]/g, "").replace(/[^a-zA-Z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? "").toUpperCase())}`,
    summary: r.summary,
    tags: [r.tag],
    security: r.auth === "admin" ? [{ adminToken: [] }] : [],
    responses,
  }
  if (r.params?.length)
    op.parameters = r.params.map(p => ({ name: p.name, in: p.in, required: p.in === "path" || p.required === true, description: p.description, schema: { type: "string" } }))
  if (r.request)
    op.requestBody = {
      required: !r.request.optional,
      content: { "application/json": { schema: { $ref: schemaPointer(r.request.schema) } } },
    }
  return op
}

/** The OpenAPI 3.1 document for `routes` (default: every route of a hub). */
export function buildOpenApi(opts: { version: string; serverUrl?: string; routes?: readonly Route[] }): JsonObject {
  const paths: Record<string, JsonObject> = {}
  for (const r of opts.routes ?? ROUTES) (paths[r.path] ??= {})[r.method.toLowerCase()] = operationOf(r)
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "fedhub hub API",
      version: opts.version,
      description:
        "The REST API of one fedhub hub. Bodies are checked against the JSON Schemas under components.schemas (the files of schemas/); errors are application/problem+json (RFC 9457) with a stable code. The /sync WebSocket endpoint (automerge-repo protocol after the handshake of docs/PROTOCOL.md) is not an HTTP operation and is not listed.",
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    tags: [
      { name: "node", description: "Public: health, descriptor, handshake, metrics" },
      { name: "documents", description: "Automerge documents and their policies" },
      { name: "collaboration", description: "Cross-instance sessions: invitations, channels, shared documents, decisions, agreements" },
      { name: "federation", description: "Peers, discovery, trust, endorsements, directory" },
      { name: "center", description: "The Federation Center dashboard and its feeds" },
    ],
    paths,
    components: {
      securitySchemes: { adminToken: { type: "http", scheme: "bearer", description: "The contents of <home>/admin-token" } },
      schemas: schemaComponents(),
    },
    "x-error-codes": Object.fromEntries(Object.entries(ERRORS).map(([code, e]) => [code, { status: e.status, title: e.title }])),
  }
}
