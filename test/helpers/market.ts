/** Waiting on marketplaces across real hubs, without sleeps. */
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches } from "./hubs.ts"

/** Links `from` to `to` and waits until the link is established. */
export const link = async (from: RunningHub, to: RunningHub): Promise<void> => linkReaches(from.hub.dial(to.url, to.hub.nodeId), "established")

/**
 * Re-checks `fn` until `ok` accepts its value: at once, then whenever hub `h` receives a
 * sync message, its marketplace service records something, a policy changes, or it refuses
 * a peer's message (a refused change shows in views without any document changing).
 */
export async function until<T>(h: RunningHub, fn: () => T | Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const left = end - Date.now()
    // listening before looking, so nothing that happens while `fn` runs is missed
    const next = anyOf(
      [[h.hub.repo, "doc-metrics"], [h.hub.market.events, "updated"], [h.hub.policies.events, "changed"], [h.hub.server.events, "refusal"], [h.hub.linkEvents, "refused"]],
      Math.max(left, 0),
    )
    const v = await Promise.resolve().then(fn).catch((e: unknown) => (next.cancel(), Promise.reject(e)))
    if (ok(v)) return next.cancel(), v
    if (left <= 0) throw (next.cancel(), new Error(`${what}: not reached in ${timeoutMs} ms (last: ${JSON.stringify(v)?.slice(0, 2000)})`))
    await next.fired
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Emitter = { on: (e: any, fn: any) => unknown; off: (e: any, fn: any) => unknown }

/** Resolves on the first of the events (or after `ms`), and removes every listener it added. */
function anyOf(sources: [Emitter, string][], ms: number): { fired: Promise<void>; cancel: () => void } {
  let done!: () => void
  const fired = new Promise<void>(resolve => (done = resolve))
  const fire = () => {
    cancel()
    done()
  }
  const timer = setTimeout(fire, ms)
  const cancel = () => {
    clearTimeout(timer)
    for (const [em, ev] of sources) em.off(ev, fire)
  }
  for (const [em, ev] of sources) em.on(ev, fire)
  return { fired, cancel }
}
