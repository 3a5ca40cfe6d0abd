/** Federation routes for administrators: peers, discovery, trust, endorsements, directory. */
import { Router } from "express"
import type { Hub } from "../../hub/Hub.ts"
import { validate, type DiscoverBody, type EndorseBody, type PeerAddBody, type TrustSetBody } from "../../schema/index.ts"
import { parseNodeId } from "../../identity/index.ts"
import { FedhubError } from "../../errors.ts"

export function federationRoutes(hub: Hub): Router {
  const r = Router()
  const fed = () => hub.federation

  r.get("/peers", async (req, res) => {
    await fed().refreshEndorsements()
    res.json(fed().peers({ blocked: req.query.blocked === "true" }))
  })
  r.post("/peers", async (req, res) => {
    const body = validate<PeerAddBody>("api-peer-add", req.body)
    const v = await fed().addPeer(body.url)
    res.status(201).json({ nodeId: v.nodeId, url: v.url, name: v.descriptor.payload.name, latencyMs: v.latencyMs })
  })
  r.delete("/peers/:nodeId", async (req, res) => {
    await fed().removePeer(req.params.nodeId)
    res.status(204).end()
  })
  r.post("/peers/:nodeId/block", async (req, res) => {
    await fed().block(req.params.nodeId)
    res.json({ nodeId: req.params.nodeId, blocked: true })
  })
  r.post("/peers/:nodeId/unblock", async (req, res) => {
    await fed().unblock(req.params.nodeId)
    res.json({ nodeId: req.params.nodeId, blocked: false })
  })
  r.post("/peers/:nodeId/disconnect", async (req, res) => {
    await fed().disconnect(req.params.nodeId)
    res.json({ nodeId: req.params.nodeId, link: "closed" })
  })
  r.post("/peers/:nodeId/connect", async (req, res) => {
    await fed().connect(req.params.nodeId)
    res.status(202).json({ nodeId: req.params.nodeId, link: "dialing" })
  })
  r.post("/discover", async (req, res) => {
    const body = validate<DiscoverBody>("api-discover", req.body ?? {})
    const report = await fed().discover({ timeoutMs: body.timeoutMs, connect: body.connect })
    res.json({ ...report, verified: report.verified.map(v => ({ nodeId: v.nodeId, url: v.url, latencyMs: v.latencyMs })) })
  })
  r.get("/trust", async (_req, res) => {
    await fed().refreshEndorsements()
    const t = fed().trust()
    res.json({ levels: Object.fromEntries(t.levels), refused: t.refused, revoked: t.revoked, rotations: t.rotations ?? [] })
  })
  r.get("/trust/:nodeId", async (req, res) => {
    const id = parseNodeId(req.params.nodeId)
    await fed().refreshEndorsements()
    const t = fed().trust()
    const entry = t.levels.get(id)
    if (!entry) throw new FedhubError("NOT_FOUND", `${id} is not in this hub's registry`)
    res.json({
      nodeId: id,
      ...entry,
      reputation: fed().reputation(t).get(id) ?? 0,
      refused: t.refused.filter(x => x.subject === id || x.issuer === id),
      revoked: t.revoked.filter(x => x.subject === id || x.issuer === id),
    })
  })
  r.put("/trust/:nodeId", async (req, res) => {
    const body = validate<TrustSetBody>("api-trust-set", req.body)
    const entry = await fed().setTrust(req.params.nodeId, body.level)
    res.json({ nodeId: req.params.nodeId, ...entry })
  })
  r.post("/endorse", (req, res) => {
    const body = validate<EndorseBody>("api-endorse", req.body)
    res.status(201).json(fed().endorse(body.nodeId, body.ttlDays === undefined ? undefined : body.ttlDays * 86_400_000))
  })
  // revokes this hub's endorsement(s) of a node; answers the signed revocation records
  r.delete("/endorse/:nodeId", (req, res) => {
    const nodeId = parseNodeId(req.params.nodeId)
    res.json({ nodeId, revocations: fed().revokeEndorsement(nodeId) })
  })
  r.get("/directory", (_req, res) => {
    const view = fed().ownDirectory()
    res.json({
      url: fed().directory.url,
      nodes: view.nodes,
      rotations: view.rotations,
      endorsements: view.endorsements,
      revocations: view.revocations,
      refused: view.refused,
    })
  })
  return r
}
