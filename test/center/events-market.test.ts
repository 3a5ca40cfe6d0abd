/**
 * What the Markets and Collaboration tabs stand on, without a browser: `event: market`
 * on GET /api/events when a marketplace or join request changes here (by this hub or by
 * sync from another), the header cards' counts (markets, active sessions) in the state
 * frame, and refused bodies answered with their `problems` for the forms to show at
 * their fields — the hub staying up and writing nothing.
 */
import { describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import type { CenterState } from "../../src/api/routes/events.ts"
import { hubsForSuite } from "../helpers/hubs.ts"

interface Frame {
  event: string
  data: unknown
}

/** Opens a hub's event stream; `next(pred)` resolves with the first frame from now on that matches. */
async function openEvents(hub: RunningHub) {
  const controller = new AbortController()
  const res = await fetch(`${hub.localUrl}/api/events`, { headers: { authorization: `Bearer ${hub.hub.adminToken}` }, signal: controller.signal })
  expect(res.status).toBe(200)
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  const seen: Frame[] = []
  const next = async (predicate: (f: Frame) => boolean): Promise<Frame> => {
    for (;;) {
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const raw = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = /^event: (.*)$/m.exec(raw)?.[1]
        const data = /^data: (.*)$/m.exec(raw)?.[1]
        if (!event || data === undefined) continue
        const f = { event, data: JSON.parse(data) as unknown }
        seen.push(f)
        if (predicate(f)) return f
      }
      const { value, done } = await reader.read()
      if (done) throw new Error("the event stream ended")
      buffer += value
    }
  }
  return { next, seen, close: () => controller.abort() }
}

const call = async (hub: RunningHub, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${hub.localUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${hub.hub.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, type: res.headers.get("content-type") ?? "", json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> }
}

const isState = (f: Frame): f is Frame & { data: CenterState } => f.event === "state"
const marketEvent = (id: string) => (f: Frame) => f.event === "market" && (f.data as { documentIds: string[] }).documentIds.includes(id)

describe("the dashboard's live feed for marketplaces and sessions", () => {
  let a: RunningHub
  let b: RunningHub
  hubsForSuite(2, hubs => ([a, b] = hubs as [RunningHub, RunningHub]), { linked: true })

  it("streams `event: market` for a marketplace changed here and by another hub's sync, and counts markets and active sessions on the cards", async () => {
    const onA = await openEvents(a)
    const onB = await openEvents(b)
    try {
      const first = await onA.next(isState)
      expect((first.data as CenterState).stats).toMatchObject({ markets: 0, activeSessions: 0, trend: { markets: 0, activeSessions: 0 } })

      const created = await call(a, "POST", "/api/markets", { name: "Shop", config: { federation: { governanceModel: "centralized", consensusMechanism: { type: "centralized", parameters: { minimumStake: 0, votingPower: "one_node_one_vote", voteDeadlineHours: 24 } } } } })
      expect(created.status).toBe(201)
      const market = created.json as { url: string; documentId: string }
      const counted = await onA.next(f => isState(f) && f.data.stats.markets === 1)
      expect((counted.data as CenterState).stats.trend.markets).toBe(1)

      // B's request reaches A by sync: A's stream names the marketplace
      const joined = await call(b, "POST", `/api/markets/${encodeURIComponent(market.url)}/join`, { owner: a.hub.nodeId })
      expect(joined.status).toBe(202)
      await onA.next(marketEvent(market.documentId))
      const requestDoc = (joined.json as { requestDoc: string }).requestDoc.replace("automerge:", "")
      // A approves; B's stream names its request document (answered) and the marketplace it now holds
      expect((await call(a, "POST", `/api/markets/${encodeURIComponent(market.url)}/votes`, { requester: b.hub.nodeId, approve: true })).status).toBe(201)
      await onB.next(marketEvent(market.documentId))
      await onB.next(f => isState(f) && f.data.stats.markets === 1)
      // B publishes; A's stream names the marketplace again
      const published = await call(b, "POST", `/api/markets/${encodeURIComponent(market.url)}/items`, { items: [{ itemId: "kit", title: "Kit", type: "plugin", pricing: { model: "free", price: 0, currency: "credits" } }] })
      expect(published.status).toBe(201)
      await onA.next(marketEvent(market.documentId))
      // only marketplaces and join requests are ever named
      for (const f of [...onA.seen, ...onB.seen].filter(x => x.event === "market")) for (const id of (f.data as { documentIds: string[] }).documentIds) expect([market.documentId, requestDoc]).toContain(id)

      // a session with B is active at once (the initiator counts as joined: 1 of 2)
      const session = await call(a, "POST", "/api/sessions", { name: "jam", participants: [b.hub.nodeId] })
      expect(session.status).toBe(201)
      await onA.next(f => isState(f) && f.data.stats.activeSessions === 1)
      await onB.next(f => f.event === "session" && (f.data as { documentId: string }).documentId === (session.json as { documentId: string }).documentId)
    } finally {
      onA.close()
      onB.close()
    }
  })

  it("answers a refused body with every problem in `problems`, writes nothing and stays up", async () => {
    const before = a.hub.market.list().marketplaces.length
    const badConfig = await call(a, "POST", "/api/markets", { name: "Bad", config: { economics: { revenueSharing: { creator: 90, marketplace: 20, network: 10 } } } })
    expect(badConfig.status).toBe(400)
    expect(badConfig.type).toMatch(/^application\/problem\+json/)
    expect(badConfig.json).toMatchObject({ code: "MARKETPLACE_CONFIG_INVALID", problems: [expect.stringMatching(/revenueSharing/)] })
    expect(a.hub.market.list().marketplaces.length).toBe(before)

    const market = a.hub.market.list().marketplaces[0]!
    const badItems = await call(a, "POST", `/api/markets/${encodeURIComponent(market.url)}/items`, { items: [{ itemId: "bad id!", title: "", type: "nope", pricing: { model: "free", price: -1, currency: "credits" } }] })
    expect(badItems.json).toMatchObject({ code: "ITEM_INVALID" })
    const problems = badItems.json.problems as string[]
    for (const field of ["/itemId", "/title", "/type", "/pricing/price"]) expect(problems.some(p => p.includes(field))).toBe(true)
    expect((await call(a, "GET", `/api/markets/${encodeURIComponent(market.url)}/items?text=bad`)).json).toMatchObject({ total: 0 })

    const badSort = await call(a, "GET", `/api/markets/${encodeURIComponent(market.url)}/items?sort=cheapest`)
    expect(badSort.status).toBe(400)
    expect(badSort.json.problems).toEqual([expect.stringMatching(/^\/sort must be one of/)])
    const badRange = await call(a, "GET", `/api/markets/${encodeURIComponent(market.url)}/items?minPrice=9&maxPrice=1`)
    expect(badRange.json.problems).toEqual([expect.stringMatching(/^\/minPrice \(9\) is greater than \/maxPrice/)])

    const badSession = await call(a, "POST", "/api/sessions", { name: "x", participants: ["fh1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] })
    expect(badSession.json).toMatchObject({ code: "SESSION_INVALID", problems: [expect.stringMatching(/^\/participants\/0: .* is not a known node/)] })
    // an error without a list carries none
    const notFound = await call(a, "GET", "/api/markets/automerge%3A4Ftd9j8MmF2ErDNzPBiDnsBnKn2Y")
    expect(notFound.json.problems).toBeUndefined()
    expect((await fetch(`${a.localUrl}/healthz`)).status).toBe(200)
  })
})
