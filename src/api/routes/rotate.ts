/** Key rotation for administrators: POST /api/rotate (README "Encryption", issue 16 part 3). */
import { Router } from "express"
import { FedhubError } from "../../errors.ts"
import type { Hub } from "../../hub/Hub.ts"
import type { RotationReport } from "../../hub/rotateIdentity.ts"

/** The rotation route over the served hub's `rotate` (api/server.ts swaps in the reopened hub). */
export function rotateRoutes(rotate: (() => Promise<RotationReport>) | undefined): Router {
  const r = Router()
  r.post("/rotate", async (_req, res) => {
    if (!rotate) throw new FedhubError("ROTATION_UNAVAILABLE", "this app is not serving a hub it can reopen (api/serveHub does)")
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
