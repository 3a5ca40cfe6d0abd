/**
 * GET /api/openapi.json: an OpenAPI 3.1 document generated from the route table and
 * schemas/. Every route express serves is in it, every documented operation answers on
 * a real hub with its documented status, and its schemas resolve and validate real answers.
 */
import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import Ajv2020Module from "ajv/dist/2020.js"
import addFormatsModule from "ajv-formats"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { buildApp, closeParts, createParts } from "../../src/api/server.ts"
import { servedRoutes } from "../../src/api/servedRoutes.ts"
import { ROUTES, matchRoute, type Route } from "../../src/api/routeTable.ts"
import { linkReaches, nextEvent, startHubs } from "../helpers/hubs.ts"
import { syncEndpoint } from "../../src/replication/handshake.ts"

type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; security: unknown[] }>>; components: { schemas: Record<string, unknown> } }

const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as typeof addFormatsModule.default

/** Resolves a local JSON pointer (`#/a/b`) in `doc`. */
const resolvePointer = (doc: unknown, ref: string): unknown =>
  ref
    .slice(2)
    .split("/")
    .map(p => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce<unknown>((at, key) => (at && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined), doc)

const refsIn = (v: unknown, out: string[] = []): string[] => {
  if (Array.isArray(v)) v.forEach(x => refsIn(x, out))
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) {
      if (k === "$ref" && typeof x === "string") out.push(x)
      else refsIn(x, out)
    }
  return out
}

describe("GET /api/openapi.json", () => {
  let a: RunningHub
  let b: RunningHub
  let c: RunningHub
  let stopAll: () => Promise<void>
  let doc: Doc
  let auth: Record<string, string>

  beforeAll(async () => {
    const started = await startHubs(3)
    ;[a, b, c] = started.hubs as [RunningHub, RunningHub, RunningHub]
    stopAll = started.stopAll
    auth = { authorization: `Bearer ${a.hub.adminToken}` }
    await linkReaches(a.hub.dial(b.url, b.hub.nodeId), "established")
    await linkReaches(c.hub.dial(a.url, a.hub.nodeId), "established")
    const res = await fetch(`${a.localUrl}/api/openapi.json`)
    expect(res.status).toBe(200)
    doc = (await res.json()) as Doc
  })
  afterAll(async () => stopAll())

  it("is OpenAPI 3.1 with every schema of schemas/ as a component and every $ref resolving in it", () => {
    expect(doc.openapi).toBe("3.1.0")
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["federation-node", "handshake", "common", "config", "problem", "api-peer-add"]))
    const refs = refsIn(doc)
    expect(refs.length).toBeGreaterThan(20)
    for (const ref of refs) {
      expect(ref, ref).toMatch(/^#\//)
      expect(resolvePointer(doc, ref), ref).toBeDefined()
    }
  })

  it("lists every route express serves, and documents no route it does not serve", () => {
    const parts = createParts(a.hub)
    try {
      const served = servedRoutes(buildApp(a.hub, parts))
      expect(served.length).toBeGreaterThanOrEqual(ROUTES.length)
      for (const s of served) {
        const row = matchRoute(s.method, s.path)
        expect(row, `${s.method} ${s.path} is served but not in the route table`).toBeDefined()
        expect(doc.paths[row!.path]?.[s.method.toLowerCase()], `${s.method} ${s.path} in the document`).toBeDefined()
      }
      for (const r of ROUTES) expect(served.some(s => matchRoute(s.method, s.path) === r), `${r.method} ${r.path} is documented but not served`).toBe(true)
    } finally {
      closeParts(parts)
    }
  })

  it("marks admin routes with the bearer scheme and every operation with problem+json errors", () => {
    for (const r of ROUTES) {
      const op = doc.paths[r.path]![r.method.toLowerCase()]!
      expect(op.security.length, `${r.method} ${r.path}`).toBe(r.auth === "admin" ? 1 : 0)
      expect(op.responses[String(r.status)]).toBeDefined()
      expect(op.responses["4XX"]).toBeDefined()
    }
  })

  it("its schemas validate what the hub answers", async () => {
    const ajv = new Ajv2020({ strict: false, allowUnionTypes: true })
    addFormats(ajv)
    ajv.addSchema({ $id: "urn:fedhub:openapi", components: doc.components })
    const check = (pointer: string, value: unknown) => {
      const validate = ajv.compile({ $ref: `urn:fedhub:openapi${pointer}` })
      expect(validate(value), JSON.stringify(validate.errors)).toBe(true)
    }
    const opSchema = (path: string, method: string) =>
      ((doc.paths[path]![method]!.responses["200"] as { content: Record<string, { schema: { $ref: string } }> }).content["application/json"]!.schema.$ref)
    check(opSchema("/api/node", "get"), await (await fetch(`${a.localUrl}/api/node`)).json())
    check(opSchema("/api/settings", "get"), await (await fetch(`${a.localUrl}/api/settings`, { headers: auth })).json())
    const problem = await (await fetch(`${a.localUrl}/api/peers`)).json()
    check("#/components/schemas/problem", problem)
  })

  it("every documented operation answers on a real hub with its documented status", async () => {
    const docRef = encodeURIComponent((await a.hub.docs.create({ title: "for the table" })).url)
    const heads = (await a.hub.docs.show(decodeURIComponent(docRef))).heads.join(",")
    const B = b.hub.nodeId
    // marketplaces: A's own, with a request of B's recorded for the vote row; B's, for A's join row
    const consensus = { type: "distributed", parameters: { minimumStake: 0, votingPower: "one_node_one_vote", voteDeadlineHours: 24 } }
    const market = await a.hub.market.create({ name: "for the table", config: { federation: { consensusMechanism: consensus } } })
    const marketRef = encodeURIComponent(market.url)
    const onB = encodeURIComponent((await b.hub.market.create({ name: "on b" })).url)
    await b.hub.market.join(market.url, { owner: a.hub.nodeId })
    for (;;) {
      const next = nextEvent(a.hub.market.events, "updated", 15_000) // listening before looking
      if (!((await a.hub.market.show(market.url)).requests.length === 0)) {
        next.catch(() => {})
        break
      }
      await next
    }
    // a marketplace with B as a participant, holding an item of B's, for the catalog rows
    const shop = await a.hub.market.create({ name: "shop", participants: [B, c.hub.nodeId], config: { federation: { disputeResolution: { mechanism: "community", arbitrators: [], timeoutDays: 30, defaultOutcome: "pay_seller" } } } })
    const shopRef = encodeURIComponent(shop.url)
    for (;;) {
      const next = nextEvent(b.hub.market.events, "updated", 15_000)
      if (await b.hub.market.show(shop.url).then(() => true, () => false)) {
        next.catch(() => {})
        break
      }
      await next
    }
    const plugin = (itemId: string) => ({ itemId, type: "plugin", title: itemId, pricing: { model: "free", price: 0, currency: "credits" } })
    const [bx] = await b.hub.market.publish(shop.url, [plugin("bx"), plugin("by")] as never[])
    for (;;) {
      const next = nextEvent(a.hub.market.events, "updated", 15_000)
      if ((await a.hub.market.catalogOf(shop.url)).total === 2) {
        next.catch(() => {})
        break
      }
      await next
    }
    const bxRef = encodeURIComponent(bx!.globalId)
    // a paid purchase by C of an item of B's and C's dispute on it, for the vote row (community: A, neither party, votes)
    const [bz] = await b.hub.market.publish(shop.url, [{ ...plugin("bz"), pricing: { model: "one_time", price: 10, currency: "credits" } } as never])
    await a.hub.market.grant(shop.url, c.hub.nodeId, 50)
    for (;;) {
      const next = nextEvent(c.hub.market.events, "updated", 15_000)
      const has = await c.hub.market.item(shop.url, bz!.globalId).then(() => true, () => false)
      if (has && ((await c.hub.market.ledger(shop.url)).balances[c.hub.nodeId] ?? 0) >= 10) {
        next.catch(() => {})
        break
      }
      await next
    }
    const purchase = await c.hub.market.buy(shop.url, bz!.globalId)
    const dispute = await c.hub.market.dispute(shop.url, purchase.purchaseId, "broken")
    for (;;) {
      const next = nextEvent(a.hub.market.events, "updated", 15_000)
      if ((await a.hub.market.ledger(shop.url)).disputes.length === 1 && (await a.hub.market.catalogOf(shop.url)).total === 3) {
        next.catch(() => {})
        break
      }
      await next
    }
    const mine = await a.hub.market.buy(shop.url, bx!.globalId)
    for (;;) {
      const next = nextEvent(a.hub.market.events, "updated", 15_000)
      if ((await a.hub.market.ledger(shop.url)).disputes.length === 1) {
        next.catch(() => {})
        break
      }
      await next
    }
    // sessions: A's own with B joined (active), and two of B's inviting A, for the join and decline rows
    const session = await a.hub.sessions.create({ name: "for the table", participants: [B] })
    const sRef = encodeURIComponent(session.url)
    for (;;) {
      const next = nextEvent(b.hub.sessions.events, "updated", 15_000) // listening before looking
      if (b.hub.sessions.invites().invites.some(s => s.documentId === session.documentId)) {
        next.catch(() => {})
        break
      }
      await next
    }
    await b.hub.sessions.join(session.url)
    const invitedA = [await b.hub.sessions.create({ name: "join", participants: [a.hub.nodeId] }), await b.hub.sessions.create({ name: "decline", participants: [a.hub.nodeId] })]
    for (;;) {
      const next = nextEvent(a.hub.sessions.events, "updated", 15_000)
      const s = await a.hub.sessions.show(session.url).catch(() => undefined)
      if (s?.status === "active" && a.hub.sessions.invites().invites.length === 2) {
        next.catch(() => {})
        break
      }
      await next
    }
    const shared = await a.hub.sessions.createDocument(session.url, { title: "for the table" })
    const proposal = await a.hub.sessions.propose(session.url, { title: "for the table" })
    const agreement = await a.hub.sessions.agree(session.url, { title: "for the table", text: "agreed" })
    const inS = (rest: string) => `/api/sessions/${sRef}${rest}`
    const fill: Partial<Record<string, { path?: string; body?: unknown }>> = {
      "POST /api/sessions": { body: { name: "made by the table test", participants: [B] } },
      "GET /api/sessions/{ref}": { path: inS("") },
      "POST /api/sessions/{ref}/join": { path: `/api/sessions/${encodeURIComponent(invitedA[0]!.url)}/join` },
      "POST /api/sessions/{ref}/decline": { path: `/api/sessions/${encodeURIComponent(invitedA[1]!.url)}/decline`, body: { reason: "busy" } },
      "POST /api/sessions/{ref}/invites": { path: inS("/invites"), body: { participant: c.hub.nodeId } },
      "GET /api/sessions/{ref}/messages": { path: inS("/messages") },
      "POST /api/sessions/{ref}/messages": { path: inS("/messages"), body: { text: "hello" } },
      "GET /api/sessions/{ref}/stream": { path: inS("/stream") },
      "POST /api/sessions/{ref}/documents": { path: inS("/documents"), body: { title: "another" } },
      "GET /api/sessions/{ref}/documents/{doc}": { path: inS(`/documents/${shared.documentId}`) },
      "POST /api/sessions/{ref}/documents/{doc}/edit": { path: inS(`/documents/${shared.documentId}/edit`), body: { text: "edited" } },
      "POST /api/sessions/{ref}/proposals": { path: inS("/proposals"), body: { title: "another" } },
      "POST /api/sessions/{ref}/proposals/{id}/votes": { path: inS(`/proposals/${proposal.proposalId}/votes`), body: { approve: true } },
      "GET /api/sessions/{ref}/agreements": { path: inS("/agreements") },
      "POST /api/sessions/{ref}/agreements": { path: inS("/agreements"), body: { title: "another", text: "also agreed" } },
      "POST /api/sessions/{ref}/agreements/{id}/sign": { path: inS(`/agreements/${agreement.agreementId}/sign`) },
      "POST /api/sessions/{ref}/agreements/{id}/verify": { path: inS(`/agreements/${agreement.agreementId}/verify`), body: { text: "agreed!" } },
      "POST /api/sessions/{ref}/ratings": { path: inS("/ratings"), body: { satisfaction: 5, outputQuality: 4 } },
      "POST /api/sessions/{ref}/pause": { path: inS("/pause"), body: { reason: "coffee" } },
      "POST /api/sessions/{ref}/resume": { path: inS("/resume") },
      "POST /api/sessions/{ref}/close": { path: inS("/close") },
      "POST /api/markets/{ref}/items": { path: `/api/markets/${shopRef}/items`, body: { items: [plugin("one"), plugin("two")] } },
      "GET /api/markets/{ref}/items": { path: `/api/markets/${shopRef}/items?text=bx&limit=5` },
      "GET /api/markets/{ref}/items/{item}": { path: `/api/markets/${shopRef}/items/${bxRef}` },
      "PUT /api/markets/{ref}/items/{item}": { path: `/api/markets/${shopRef}/items/one`, body: { changes: { title: "One" } } },
      "DELETE /api/markets/{ref}/items/{item}": { path: `/api/markets/${shopRef}/items/two` },
      "POST /api/markets/{ref}/items/{item}/approval": { path: `/api/markets/${shopRef}/items/${bxRef}/approval`, body: { approved: true } },
      "POST /api/markets/{ref}/ratings": { path: `/api/markets/${shopRef}/ratings`, body: { item: bx!.globalId, stars: 4.5 } },
      "POST /api/markets/{ref}/purchases": { path: `/api/markets/${shopRef}/purchases`, body: { item: `${B}:by` } },
      "GET /api/markets/{ref}/ledger": { path: `/api/markets/${shopRef}/ledger` },
      "POST /api/markets/{ref}/grants": { path: `/api/markets/${shopRef}/grants`, body: { to: B, amount: 100 } },
      "POST /api/markets/{ref}/disputes": { path: `/api/markets/${shopRef}/disputes`, body: { purchaseId: mine.purchaseId, reason: "broken" } },
      "POST /api/markets/{ref}/disputes/{dispute}/votes": { path: `/api/markets/${shopRef}/disputes/${dispute.disputeId}/votes`, body: { outcome: "refund_buyer" } },
      "GET /api/markets/{ref}/conflicts": { path: `/api/markets/${shopRef}/conflicts` },
      "PUT /api/markets/{ref}/meta/{field}": { path: `/api/markets/${shopRef}/meta/tagline`, body: { value: "tools" } },
      "POST /sync/challenge": {
        body: { protocol: "fedhub/1", clientId: b.hub.nodeId, clientNonce: randomBytes(32).toString("base64url"), endpoint: syncEndpoint(a.localUrl) },
      },
      "POST /api/docs": { body: { content: { title: "made by the table test" } } },
      "POST /api/docs/{ref}/share": { body: { readers: [B] } },
      "POST /api/docs/{ref}/unshare": { body: { readers: [B] } },
      "PUT /api/docs/{ref}/value": { body: { path: "title", value: "changed" } },
      "DELETE /api/docs/{ref}/value": { body: { path: "title" } },
      "GET /api/docs/{ref}/diff": { path: `/api/docs/${docRef}/diff?from=${heads}&to=${heads}` },
      "POST /api/peers": { body: { url: b.url } },
      "POST /api/discover": { body: { timeoutMs: 2000, connect: false } },
      "PUT /api/trust/{nodeId}": { body: { level: "trusted" } },
      "POST /api/endorse": { body: { nodeId: B } },
      "GET /center/{asset}": { path: "/center/app.js" },
      "GET /api/markets/{ref}": { path: `/api/markets/${marketRef}` },
      "POST /api/markets/{ref}/join": { path: `/api/markets/${onB}/join`, body: { owner: B } },
      "POST /api/markets/{ref}/votes": { path: `/api/markets/${marketRef}/votes`, body: { requester: B, approve: true } },
    }
    // forgetting B comes last but one: the rows before it act on B; rotating A's key last: the rows before it act as A
    const rank = (x: Route) => (x.method === "POST" && x.path === "/api/rotate" ? 2 : x.method === "DELETE" && x.path === "/api/peers/{nodeId}" ? 1 : 0)
    const order = [...ROUTES].sort((x, y) => rank(x) - rank(y))
    const answered: string[] = []
    for (const r of order) {
      const key = `${r.method} ${r.path}`
      const f = fill[key] ?? {}
      const path = f.path ?? r.path.replace("{ref}", docRef).replace("{nodeId}", B)
      const controller = new AbortController()
      const res = await fetch(`${a.localUrl}${path}`, {
        method: r.method,
        headers: { ...(r.auth === "admin" ? auth : {}), ...(f.body !== undefined ? { "content-type": "application/json" } : {}) },
        body: f.body === undefined ? undefined : JSON.stringify(f.body),
        signal: controller.signal,
      })
      const text = r.response && "media" in r.response && r.response.media === "text/event-stream" ? "" : await res.text()
      controller.abort()
      expect(res.status, `${key}: ${text}`).toBe(r.status)
      expectStatusOk(r, res)
      answered.push(key)
    }
    expect(answered).toHaveLength(ROUTES.length)
  })
})

const expectStatusOk = (r: Route, res: Response) => {
  if (r.response && "media" in r.response) expect(res.headers.get("content-type") ?? "", `${r.method} ${r.path}`).toContain(r.response.media.split(";")[0]!)
  else if (r.status !== 204) expect(res.headers.get("content-type") ?? "", `${r.method} ${r.path}`).toMatch(/^application\/json/)
}
