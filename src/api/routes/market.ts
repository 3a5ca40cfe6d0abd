/** Marketplace routes (issue 13): create, list, show, join, vote — a thin face over `hub.market`. */
import { Router } from "express"
import type { Hub } from "../../hub/Hub.ts"
import { validate, type MarketCreateBody, type MarketJoinBody, type MarketVoteBody } from "../../schema/index.ts"

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
  return r
}
