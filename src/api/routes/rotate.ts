/** Key rotation for administrators: POST /api/rotate (README "Encryption", issue 16 part 3). */
import { Router } from "express"
import type { Hub } from "../../hub/Hub.ts"
import type { RotationReport } from "../../hub/rotateIdentity.ts"

/** The rotation route over the served hub's `rotate` (api/server.ts swaps in the reopened hub). */
export function rotateRoutes(rotate: () => Promise<RotationReport>): Router {
  const r = Router()
  r.post("/rotate", async (_req, res) => {
    const report = await rotate()
    res.json(report)
  })
  return r
}

/** Public: the rotation records that lead to this hub's id, so a peer that knew an older key follows it (each proves itself). */
export function rotationRecordRoutes(hub: Hub): Router {
  const r = Router()
  r.get("/api/node/rotations", (_req, res) => {
    res.json({ nodeId: hub.nodeId, rotations: hub.federation.rotationsTo() })
  })
  return r
}
