/** Marketplace routes (issue 13): governance, catalog, ratings, purchases, ledger — a thin face over `hub.market`. */
import { Router } from "express"
import type { Hub } from "../../hub/Hub.ts"
import type { ItemInput } from "../../marketplace/CatalogService.ts"
import { parseSearchQuery } from "../../marketplace/searchQuery.ts"
import {
  validate,
  type MarketApproveBody,
  type MarketBuyBody,
  type MarketCreateBody,
  type MarketDisputeBody,
  type MarketDisputeVoteBody,
  type MarketGrantBody,
  type MarketMetaBody,
  type MarketJoinBody,
  type MarketPublishBody,
  type MarketRateBody,
  type MarketUpdateBody,
  type MarketVoteBody,
} from "../../schema/index.ts"

export function marketRoutes(hub: Hub): Router {
  const r = Router()
  const market = hub.market
  const ref = (params: Record<string, unknown>): string => String(params.ref)
  r.post("/", async (req, res) => {
    const body = validate<MarketCreateBody>("api-market-create", req.body ?? {})
    res.status(201).json(await market.create(body))
  })
  r.get("/", (_req, res) => {
    res.json(market.list())
  })
  r.get("/:ref", async (req, res) => {
    res.json(await market.show(ref(req.params)))
  })
  r.post("/:ref/join", async (req, res) => {
    const body = validate<MarketJoinBody>("api-market-join", req.body ?? {})
    res.status(202).json(await market.join(ref(req.params), body))
  })
  r.post("/:ref/votes", async (req, res) => {
    const body = validate<MarketVoteBody>("api-market-vote", req.body ?? {})
    res.status(201).json(await market.vote(ref(req.params), body))
  })
  r.post("/:ref/items", async (req, res) => {
    const body = validate<MarketPublishBody>("api-market-publish", req.body ?? {})
    res.status(201).json({ items: await market.publish(ref(req.params), body.items as unknown as ItemInput[]) })
  })
  r.get("/:ref/items", async (req, res) => {
    const { words: _words, ...query } = parseSearchQuery(req.query as Record<string, string | string[] | undefined>)
    res.json(await market.catalogOf(ref(req.params), query))
  })
  r.get("/:ref/items/:item", async (req, res) => {
    res.json(await market.item(ref(req.params), String(req.params.item)))
  })
  r.put("/:ref/items/:item", async (req, res) => {
    const body = validate<MarketUpdateBody>("api-market-update", req.body ?? {})
    res.json(await market.update(ref(req.params), String(req.params.item), body.changes))
  })
  r.delete("/:ref/items/:item", async (req, res) => {
    res.json(await market.withdraw(ref(req.params), String(req.params.item)))
  })
  r.post("/:ref/items/:item/approval", async (req, res) => {
    const body = validate<MarketApproveBody>("api-market-approve", req.body ?? {})
    res.json(await market.approve(ref(req.params), String(req.params.item), body.approved))
  })
  r.post("/:ref/ratings", async (req, res) => {
    const body = validate<MarketRateBody>("api-market-rate", req.body ?? {})
    res.status(201).json(await market.rate(ref(req.params), body.item, body.stars, body.comment))
  })
  r.post("/:ref/purchases", async (req, res) => {
    const body = validate<MarketBuyBody>("api-market-buy", req.body ?? {})
    const done = await market.buy(ref(req.params), body.item, body)
    res.status(done.repeated ? 200 : 201).json(done)
  })
  r.get("/:ref/ledger", async (req, res) => {
    res.json(await market.ledger(ref(req.params)))
  })
  r.post("/:ref/grants", async (req, res) => {
    const body = validate<MarketGrantBody>("api-market-grant", req.body ?? {})
    res.status(201).json(await market.grant(ref(req.params), body.to, body.amount, body.reason))
  })
  r.post("/:ref/disputes", async (req, res) => {
    const body = validate<MarketDisputeBody>("api-market-dispute", req.body ?? {})
    res.status(201).json(await market.dispute(ref(req.params), body.purchaseId, body.reason))
  })
  r.post("/:ref/disputes/:dispute/votes", async (req, res) => {
    const body = validate<MarketDisputeVoteBody>("api-market-dispute-vote", req.body ?? {})
    res.status(201).json(await market.disputeVote(ref(req.params), String(req.params.dispute), body.outcome, body.reason))
  })
  r.get("/:ref/conflicts", async (req, res) => {
    res.json(await market.conflicts(ref(req.params)))
  })
  r.put("/:ref/meta/:field", async (req, res) => {
    const body = validate<MarketMetaBody>("api-market-meta", req.body ?? {})
    res.json(await market.edit(ref(req.params), String(req.params.field), body.value, { resolve: body.resolve === true }))
  })
  return r
}
