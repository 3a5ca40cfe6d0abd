/**
 * The acceptance suite every DiscoverySource passes (STYLE point 1). `setup` builds
 * a fresh source plus whatever answers it (a DNS server, mDNS announcers) and says
 * which hubs the source must find.
 *
 * Abort contract checked here: `discover()` with an already-aborted signal resolves
 * at once with no candidates and no problems (it does not reject); aborting a call in
 * flight makes it resolve early with what it had found. After `close()`, `discover()`
 * rejects with FedhubError INVALID_INPUT.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { isFedhubError } from "../../../src/errors.ts"
import type { NodeId } from "../../../src/identity/index.ts"
import type { Candidate, DiscoverySource } from "../../../src/federation/discovery/types.ts"

/** A hub the source is expected to find. */
export interface ExpectedHub {
  nodeId: NodeId
  url: string
}

/** What `setup` returns. */
export interface DiscoverySourceFixture {
  source: DiscoverySource
  expected: ExpectedHub[]
  teardown: () => Promise<void>
}

const key = (c: { nodeId?: string | undefined; url: string }) => `${c.nodeId ?? "-"} ${c.url}`
const keys = (cs: Array<{ nodeId?: string | undefined; url: string }>) => cs.map(key).sort()

/** Runs the shared discovery-source acceptance tests against `setup`. */
export function runDiscoverySourceTests(name: string, setup: () => Promise<DiscoverySourceFixture>): void {
  describe(`${name} (discovery source acceptance)`, () => {
    let fx: DiscoverySourceFixture

    beforeEach(async () => {
      fx = await setup()
    })
    afterEach(async () => {
      await fx.teardown()
    })

    it("finds exactly the expected hubs, by node id and url", async () => {
      const { candidates } = await fx.source.discover()
      expect(keys(candidates)).toEqual(keys(fx.expected))
    })

    it("marks every candidate with the source's method and a source", async () => {
      const { candidates, problems } = await fx.source.discover()
      expect(candidates).toHaveLength(fx.expected.length)
      for (const c of candidates as Candidate[]) {
        expect(c.method).toBe(fx.source.method)
        expect(typeof c.source).toBe("string")
        expect(c.source.length).toBeGreaterThan(0)
      }
      for (const p of problems) expect(p.method).toBe(fx.source.method)
    })

    it("resolves at once with nothing when the signal is already aborted", async () => {
      const controller = new AbortController()
      controller.abort()
      const started = performance.now()
      const result = await fx.source.discover({ signal: controller.signal })
      expect(performance.now() - started).toBeLessThan(100)
      expect(result).toEqual({ candidates: [], problems: [] })
    })

    it("resolves early, without rejecting, when aborted in flight", async () => {
      const controller = new AbortController()
      const started = performance.now()
      const pending = fx.source.discover({ signal: controller.signal, timeoutMs: 10_000 })
      setImmediate(() => controller.abort())
      const { candidates } = await pending
      expect(performance.now() - started).toBeLessThan(5_000)
      const expected = new Set(keys(fx.expected))
      for (const c of candidates) expect(expected.has(key(c))).toBe(true)
    })

    it("finds the same hubs when called twice in a row and twice at once", async () => {
      const first = await fx.source.discover()
      const second = await fx.source.discover()
      expect(keys(second.candidates)).toEqual(keys(first.candidates))
      const [a, b] = await Promise.all([fx.source.discover(), fx.source.discover()])
      expect(keys(a.candidates)).toEqual(keys(fx.expected))
      expect(keys(b.candidates)).toEqual(keys(fx.expected))
    })

    it("refuses to discover after close() with INVALID_INPUT", async () => {
      // every source run through this suite holds sockets, so it must have close()
      expect(fx.source.close).toBeTypeOf("function")
      await fx.source.close!()
      await expect(fx.source.discover()).rejects.toSatisfy(e => isFedhubError(e, "INVALID_INPUT"))
    })

    it("rejects a non-positive timeout with INVALID_INPUT", async () => {
      await expect(fx.source.discover({ timeoutMs: 0 })).rejects.toSatisfy(e => isFedhubError(e, "INVALID_INPUT"))
      await expect(fx.source.discover({ timeoutMs: Number.NaN })).rejects.toSatisfy(e => isFedhubError(e, "INVALID_INPUT"))
    })
  })
}
