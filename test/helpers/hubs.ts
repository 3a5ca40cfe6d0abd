/** Builders for tests: hubs on 127.0.0.1 port 0 with temp homes, and event waits. */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { DocHandle } from "@automerge/automerge-repo"
import type { HubClientAdapter, LinkState } from "../../src/replication/HubClientAdapter.ts"
import { serveHub } from "../../src/api/server.ts"
import { startHub, type RunningHub } from "../../src/hub/startHub.ts"
import type { HubConfig } from "../../src/schema/index.ts"
import { afterAll, beforeAll } from "vitest"

export const tempDir = (prefix = "fedhub-test-"): Promise<string> => mkdtemp(join(tmpdir(), prefix))

/** Starts one hub in this process on a free port with a fresh (or given) home. */
export async function startTestHub(opts: { home?: string; flags?: HubConfig } = {}): Promise<RunningHub> {
  const home = opts.home ?? (await tempDir())
  return startHub(serveHub, {
    home,
    env: {},
    flags: { host: "127.0.0.1", port: 0, logLevel: "silent", ...opts.flags },
  })
}

/**
 * `n` hubs for the enclosing suite: started before its tests (then handed to `take`, and
 * with `linked` the second dials the first), stopped with their homes removed after them.
 */
export function hubsForSuite(n: number, take: (hubs: RunningHub[]) => void, opts: { linked?: boolean } = {}): void {
  let stopAll: (() => Promise<void>) | undefined
  beforeAll(async () => {
    const started = await startHubs(n)
    stopAll = started.stopAll
    take(started.hubs)
    const [first, second] = started.hubs
    if (opts.linked && first && second) await linkReaches(second.hub.dial(first.url, first.hub.nodeId), "established")
  })
  afterAll(async () => stopAll?.())
}

/** Starts `n` hubs; `stopAll` stops them and removes their homes. */
export async function startHubs(n: number, flags: HubConfig = {}): Promise<{ hubs: RunningHub[]; stopAll: () => Promise<void> }> {
  const hubs = await Promise.all(Array.from({ length: n }, () => startTestHub({ flags })))
  return {
    hubs,
    stopAll: async () => {
      await Promise.allSettled(hubs.map(h => h.stop()))
      await Promise.allSettled(hubs.map(h => rm(h.paths.home, { recursive: true, force: true })))
    },
  }
}

/** Resolves once `predicate(doc)` holds, checking now and on every change of the handle. */
export function waitForDoc<T>(handle: DocHandle<T>, predicate: (doc: T) => boolean, timeoutMs = 15_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const doc = handle.doc()
      if (doc && predicate(doc)) {
        clearTimeout(timer)
        handle.off("change", check)
        resolve(doc)
        return true
      }
      return false
    }
    const timer = setTimeout(() => {
      handle.off("change", check)
      reject(new Error(`document ${handle.documentId} did not reach the expected state in ${timeoutMs} ms: ${JSON.stringify(handle.doc())}`))
    }, timeoutMs)
    handle.on("change", check)
    check()
  })
}

/** Resolves with the next emission of `event` on an EventEmitter-like object. */
export function nextEvent<A extends unknown[]>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  emitter: { once: (event: any, fn: (...args: any[]) => void) => unknown },
  event: string,
  timeoutMs = 15_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs)
    emitter.once(event, (...args: unknown[]) => {
      clearTimeout(timer)
      resolve(args as A)
    })
  })
}

/** Resolves when an outgoing link reaches `state`. */
export async function linkReaches(link: HubClientAdapter, state: LinkState, timeoutMs = 15_000): Promise<void> {
  while (link.state !== state) await nextEvent(link.events, "state", timeoutMs)
}

/**
 * Hubs started by one test and all stopped (homes removed) by `cleanup`, for suites
 * that restart hubs on the same home: `start(home?)`, `stop(hub)` (keeps its home).
 */
export function hubPool(): { start: (home?: string) => Promise<RunningHub>; stop: (h: RunningHub) => Promise<void>; cleanup: () => Promise<void> } {
  let running: RunningHub[] = []
  const homes = new Set<string>()
  return {
    start: async home => {
      const h = await startTestHub({ home })
      running.push(h)
      homes.add(h.paths.home)
      return h
    },
    stop: async h => {
      await h.stop()
      running = running.filter(x => x !== h)
    },
    cleanup: async () => {
      await Promise.allSettled(running.map(h => h.stop()))
      running = []
      await Promise.allSettled([...homes].map(home => rm(home, { recursive: true, force: true })))
      homes.clear()
    },
  }
}
