/** Bearer-token check for the admin API (the same token local sync clients use). */
import { timingSafeEqual } from "node:crypto"
import type { RequestHandler } from "express"
import type { Hub } from "../hub/Hub.ts"
import { FedhubError } from "../errors.ts"

/** Admits a request only with `Authorization: Bearer <admin token>`. */
export const requireAdmin =
  (hub: Hub): RequestHandler =>
  (req, _res, next) => {
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1]
    if (!token) throw new FedhubError("UNAUTHORIZED", "send Authorization: Bearer <admin token> (in the hub's home: admin-token)")
    const a = Buffer.from(token)
    const b = Buffer.from(hub.adminToken)
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new FedhubError("UNAUTHORIZED", "wrong admin token")
    next()
  }
