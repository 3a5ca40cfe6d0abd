/**
 * The Federation Center: the dashboard's static files (src/center/, no build step),
 * Cytoscape.js served from node_modules, and the read-only settings route it shows.
 */
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import express, { Router, type Response } from "express"
import type { Hub } from "../../hub/Hub.ts"
import type { HubConfig } from "../../schema/index.ts"

/** The folder of the dashboard's files. */
export const CENTER_DIR = fileURLToPath(new URL("../../center/", import.meta.url))
// the package exports only its entry points; the minified browser build sits beside the CommonJS one in dist/
const CYTOSCAPE = join(dirname(createRequire(import.meta.url).resolve("cytoscape")), "cytoscape.min.js")

/** Scripts and styles only from this hub, no framing, no inline script. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

const secure = (res: Response): void => {
  res.set({ "content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" })
}

/** `GET /` and `GET /center/{asset}`: the dashboard (public files; the data behind them needs the admin token). */
export function centerRoutes(): Router {
  const r = Router()
  r.get("/", (_req, res) => {
    secure(res)
    res.set("cache-control", "no-cache").sendFile(join(CENTER_DIR, "index.html"))
  })
  r.get("/center/cytoscape.min.js", (_req, res) => {
    secure(res)
    res.set("cache-control", "public, max-age=3600").sendFile(CYTOSCAPE)
  })
  r.use("/center", express.static(CENTER_DIR, { index: false, fallthrough: true, setHeaders: res => secure(res as Response) }))
  return r
}

/** The resolved settings, as config.json would hold them (schemas/config.schema.json). */
export function settingsOf(hub: Hub): HubConfig {
  const c = hub.config
  const settings: HubConfig = {
    name: c.name,
    host: c.host,
    port: c.port,
    peers: c.peers,
    logLevel: c.logLevel,
    limits: c.limits,
    ...(c.publicUrl !== undefined ? { publicUrl: c.publicUrl } : {}),
    type: c.type,
    federationMode: c.federationMode,
    dataRetentionDays: c.dataRetentionDays,
    discovery: Object.fromEntries(Object.entries(c.discovery).filter(([, v]) => v !== undefined)) as HubConfig["discovery"],
    endorsementTtlDays: c.endorsementTtlDays,
    maxPeerRetentionDays: c.maxPeerRetentionDays,
    requiredCapabilities: c.requiredCapabilities,
    requireEncryption: c.requireEncryption,
    heartbeatMs: c.heartbeatMs,
  }
  return settings
}

/** `GET /api/settings` (mount behind the admin check). */
export function settingsRoutes(hub: Hub): Router {
  const r = Router()
  r.get("/settings", (_req, res) => {
    res.json(settingsOf(hub))
  })
  return r
}
