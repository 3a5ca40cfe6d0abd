/**
 * Hostile REST bodies (issue 11, items 2-4): every JSON endpoint answers 415 for a
 * non-JSON body and 400/413/422 problem+json for malformed, too large or too deep ones,
 * never a 5xx; nothing deeper than the nesting limit reaches Automerge; the hub stays up.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import * as A from "@automerge/automerge"
import { startHubs } from "../helpers/hubs.ts"
import { TRUNCATED } from "../../src/replication/docValues.ts"

/** Every route that reads a body, with a placeholder filled per hub. */
const JSON_ROUTES: [method: string, path: string][] = [
  ["POST", "/api/docs"],
  ["PUT", "/api/docs/{doc}/value"],
  ["DELETE", "/api/docs/{doc}/value"],
  ["POST", "/api/peers"],
  ["POST", "/api/peers/{node}/block"],
  ["POST", "/api/discover"],
  ["PUT", "/api/trust/{node}"],
  ["POST", "/api/endorse"],
  ["POST", "/sync/challenge"],
]

const nested = (depth: number, open = "[", close = "]", inner = "0"): string => open.repeat(depth) + inner + close.repeat(depth)
/** `{"a":{"a":...{}...}}` with `depth` objects under the outer one. */
const nestedObject = (depth: number): string => '{"a":'.repeat(depth) + "{}" + "}".repeat(depth)

describe("REST bodies over the limits", () => {
  let hub: RunningHub
  let stopAll: () => Promise<void>
  let docId: string
  let auth: Record<string, string>

  const send = (method: string, path: string, body: string, type = "application/json") =>
    fetch(`${hub.localUrl}${path.replace("{doc}", docId).replace("{node}", hub.hub.nodeId)}`, {
      method,
      headers: { ...auth, "content-type": type },
      body,
    })

  const problem = async (res: Response) => {
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/)
    return (await res.json()) as { code: string; status: number; detail: string }
  }

  beforeAll(async () => {
    const started = await startHubs(1)
    hub = started.hubs[0]!
    stopAll = started.stopAll
    auth = { authorization: `Bearer ${hub.hub.adminToken}` }
    docId = (await hub.hub.docs.create({ title: "kept" })).documentId
  })
  afterAll(async () => stopAll())

  for (const [method, path] of JSON_ROUTES) {
    it(`${method} ${path}: deeply nested arrays are 422 TOO_DEEP, form and text bodies 415, garbage 400, a big body 413`, async () => {
      const challenge = path === "/sync/challenge"
      // 100,000 levels is 200 KB: within the admin body limit (1 MiB), over the challenge's (16 KiB)
      for (const depth of [3_000, 100_000]) {
        const deep = await send(method, path, nested(depth))
        const expected = challenge && depth === 100_000 ? ["BODY_TOO_LARGE", 413] : ["TOO_DEEP", 422]
        expect([(await problem(deep)).code, deep.status]).toEqual(expected)
      }
      for (const type of ["application/x-www-form-urlencoded", "text/plain"]) {
        const wrong = await send(method, path, "content=1", type)
        expect(wrong.status).toBe(415)
        expect((await problem(wrong)).code).toBe("UNSUPPORTED_MEDIA_TYPE")
      }
      const garbage = await send(method, path, '{"content": ')
      expect(garbage.status).toBe(400)
      expect((await problem(garbage)).code).toBe("MALFORMED_JSON")
      const large = challenge ? 17 * 1024 : 1025 * 1024
      const big = await send(method, path, JSON.stringify({ pad: "x".repeat(large) }))
      expect(big.status).toBe(413)
      expect((await problem(big)).code).toBe("BODY_TOO_LARGE")
    })
  }

  it("refuses a document of 3,000 nested maps (a body within the size limit) and keeps serving", async () => {
    const before = hub.hub.index.size
    const res = await send("POST", "/api/docs", `{"content":${nestedObject(3_000)}}`)
    expect(res.status).toBe(422)
    expect((await problem(res)).code).toBe("TOO_DEEP")
    expect((await fetch(`${hub.localUrl}/healthz`)).status).toBe(200)
    expect(hub.hub.index.size).toBe(before)
  })

  it("refuses content one level past changeDepth (64) and accepts it at the limit", async () => {
    // 64 objects under the body's own: the content's root is the document root (depth 0)
    const over = await send("POST", "/api/docs", `{"content":{"a":${nestedObject(64)}}}`)
    expect(over.status).toBe(422)
    expect((await problem(over)).detail).toMatch(/would nest 65 levels deep; this hub accepts 64/)
    const at = await send("POST", "/api/docs", `{"content":${nestedObject(64)}}`)
    expect(at.status).toBe(201)
  })

  it("refuses a put whose path and value together nest past the limit, and leaves the document as it was", async () => {
    const path = Array.from({ length: 60 }, () => "p").join(".")
    const res = await send("PUT", `/api/docs/${docId}/value`, JSON.stringify({ path, value: JSON.parse(nestedObject(5)) }))
    expect(res.status).toBe(422)
    expect((await problem(res)).code).toBe("TOO_DEEP")
    const shown = await fetch(`${hub.localUrl}/api/docs/${docId}`, { headers: auth })
    expect(((await shown.json()) as { content: unknown }).content).toEqual({ title: "kept" })
  })

  it("reads a stored document nested 1,000 deep (from before the limit) without throwing: show, log, conflicts", async () => {
    const backend = A.getBackend(A.init())
    let obj = "_root"
    for (let i = 0; i < 1_000; i++) obj = backend.putObject(obj as A.ObjID, "a", {})
    backend.commit("deep, stored before limits existed")
    const handle = hub.hub.repo.import<Record<string, unknown>>(backend.save())
    await hub.hub.repo.flush([handle.documentId])
    for (const suffix of ["", "/log", "/conflicts"]) {
      const res = await fetch(`${hub.localUrl}/api/docs/${handle.documentId}${suffix}`, { headers: auth })
      expect(res.status).toBe(200)
    }
    const shown = (await (await fetch(`${hub.localUrl}/api/docs/${handle.documentId}`, { headers: auth })).json()) as { content: unknown }
    let cur = shown.content as Record<string, unknown> | string
    let depth = 0
    while (typeof cur === "object") {
      cur = cur.a as Record<string, unknown> | string
      depth++
    }
    expect([depth, cur]).toEqual([256, TRUNCATED])
  })

  it("answers a body without a token 401 before reading it", async () => {
    const res = await fetch(`${hub.localUrl}/api/docs`, { method: "POST", headers: { "content-type": "application/json" }, body: nested(100_000) })
    expect(res.status).toBe(401)
  })
})
