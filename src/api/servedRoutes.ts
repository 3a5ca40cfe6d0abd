/**
 * The routes an express app actually serves, read from its router stack (routers
 * mounted with `app.use(path, …)` are walked with their mount path), so a test can
 * hold them against the route table. Static file middleware is not a route.
 */
import type { Express } from "express"

interface LayerLike {
  route?: { path: string | string[]; methods: Record<string, boolean> }
  rawPath?: unknown
  handle?: { stack?: LayerLike[] }
}

/** `METHOD path` (express syntax, `:param`) of every route of `app`. */
export function servedRoutes(app: Express): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = []
  const walk = (stack: LayerLike[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path]
        for (const p of paths)
          for (const [m, on] of Object.entries(layer.route.methods))
            if (on && m !== "_all") out.push({ method: m.toUpperCase(), path: join(prefix, p) })
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, join(prefix, typeof layer.rawPath === "string" ? layer.rawPath : "/"))
      }
    }
  }
  walk((app as unknown as { router: { stack: LayerLike[] } }).router.stack, "")
  return out
}

const join = (a: string, b: string): string => {
  const joined = `${a.replace(/\/$/, "")}/${b.replace(/^\//, "")}`
  return joined.length > 1 ? joined.replace(/\/$/, "") : "/"
}
