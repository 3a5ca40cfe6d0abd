/** Document routes for operators and the CLI: create, read, put, delete, and history. */
import { Router, type Request } from "express"
import type { Hub } from "../../hub/Hub.ts"
import { validate, type DocCreateBody, type DocDeleteBody, type DocPutBody, type DocShareBody } from "../../schema/index.ts"
import { parseHeads } from "../../replication/history.ts"
import { FedhubError } from "../../errors.ts"

const query = (req: Request, name: string): string | undefined => {
  const v = req.query[name]
  if (v === undefined) return undefined
  if (typeof v !== "string") throw new FedhubError("INVALID_INPUT", `query parameter ${name} given more than once`)
  return v
}

const required = (req: Request, name: string): string => {
  const v = query(req, name)
  if (v === undefined) throw new FedhubError("INVALID_INPUT", `query parameter ${name} is required`)
  return v
}

const ref = (req: Request): string => String(req.params.ref)

export function docRoutes(hub: Hub): Router {
  const r = Router()
  const docs = hub.docs
  r.post("/", async (req, res) => {
    const body = validate<DocCreateBody>("api-doc-create", req.body ?? {})
    res.status(201).json(await docs.create(body.content ?? {}, { text: body.text, readers: body.share, writers: body.writers, relays: body.relays }))
  })
  r.get("/:ref/policy", async (req, res) => {
    const policy = await docs.policy(ref(req))
    // and the changes this hub refused for their author, with the hub that sent each
    res.json({ ...policy, refusedChanges: hub.gate.refusedChanges(policy.documentId) })
  })
  r.post("/:ref/share", async (req, res) => {
    const body = validate<DocShareBody>("api-doc-share", req.body ?? {})
    res.json(await docs.share(ref(req), body))
  })
  r.post("/:ref/unshare", async (req, res) => {
    const body = validate<DocShareBody>("api-doc-share", req.body ?? {})
    res.json(await docs.unshare(ref(req), [...(body.readers ?? []), ...(body.writers ?? []), ...(body.relays ?? [])]))
  })
  r.get("/:ref", async (req, res) => {
    const at = query(req, "at")
    res.json(await docs.show(ref(req), at === undefined ? undefined : parseHeads(at)))
  })
  r.put("/:ref/value", async (req, res) => {
    const body = validate<DocPutBody>("api-doc-put", req.body)
    res.json(await docs.put(ref(req), body.path, body.value, { text: body.text, message: body.message }))
  })
  r.delete("/:ref/value", async (req, res) => {
    const body = validate<DocDeleteBody>("api-doc-delete", req.body)
    res.json(await docs.del(ref(req), body.path, { message: body.message }))
  })
  r.get("/:ref/log", async (req, res) => {
    const limit = query(req, "limit")
    if (limit !== undefined && !/^\d+$/.test(limit)) throw new FedhubError("INVALID_INPUT", "limit must be a whole number")
    res.json(await docs.log(ref(req), limit === undefined ? undefined : Number(limit)))
  })
  r.get("/:ref/written", async (req, res) => {
    res.json(await docs.writtenBy(ref(req), query(req, "by")))
  })
  r.get("/:ref/diff", async (req, res) => {
    res.json(await docs.diff(ref(req), parseHeads(required(req, "from")), parseHeads(required(req, "to"))))
  })
  r.get("/:ref/conflicts", async (req, res) => {
    res.json(await docs.conflicts(ref(req)))
  })
  return r
}
