/** Builders for the session tests: hubs linked by their initiator, and waits on a hub's events. */
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, nextEvent } from "../helpers/hubs.ts"

/** `from` dials `to` and the link is up. */
export const link = async (from: RunningHub, to: RunningHub): Promise<void> => linkReaches(from.hub.dial(to.url, to.hub.nodeId), "established")

/**
 * Re-checks `fn` until `ok` accepts its value: at once, then whenever hub `h` receives a
 * sync message, its session service records something, or a policy changes.
 */
export async function until<T>(h: RunningHub, fn: () => T | Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const left = end - Date.now()
    // listening before looking, so nothing that happens while `fn` runs is missed
    const next = Promise.race([
      nextEvent(h.hub.repo, "doc-metrics", left),
      nextEvent(h.hub.sessions.events, "updated", left),
      nextEvent(h.hub.sessions.events, "message", left),
      nextEvent(h.hub.policies.events, "changed", left),
    ]).catch(() => undefined)
    let v: T | undefined
    let err: unknown
    try {
      v = await fn()
    } catch (e) {
      err = e
    }
    if (err === undefined && ok(v as T)) return v as T
    if (left <= 0) throw new Error(`${what}: not reached in ${timeoutMs} ms (last: ${err ? String(err) : JSON.stringify(v)})`)
    await next
  }
}
