/** Waiting on marketplaces across real hubs, without sleeps. */
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, nextEvent } from "./hubs.ts"

/** Links `from` to `to` and waits until the link is established. */
export const link = async (from: RunningHub, to: RunningHub): Promise<void> => linkReaches(from.hub.dial(to.url, to.hub.nodeId), "established")

/**
 * Re-checks `fn` until `ok` accepts its value: at once, then whenever hub `h` receives a
 * sync message, its marketplace service records something, or a policy changes.
 */
export async function until<T>(h: RunningHub, fn: () => T | Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const left = end - Date.now()
    // listening before looking, so nothing that happens while `fn` runs is missed
    const next = Promise.race([
      nextEvent(h.hub.repo, "doc-metrics", left),
      nextEvent(h.hub.market.events, "updated", left),
      nextEvent(h.hub.policies.events, "changed", left),
    ]).catch(() => undefined)
    const v = await fn()
    if (ok(v)) return v
    if (left <= 0) throw new Error(`${what}: not reached in ${timeoutMs} ms (last: ${JSON.stringify(v)?.slice(0, 2000)})`)
    await next
  }
}
