/**
 * Property (issue 14 part 4): random concurrent edits of a shared document on three real
 * hubs, with random link cuts and restores, converge to the same text on every hub, and
 * no edit any hub acknowledged is lost (every acknowledged insertion is there unless an
 * acknowledged deletion removed it; every acknowledged deletion stays deleted).
 */
import * as A from "@automerge/automerge"
import type { DocHandle } from "@automerge/automerge-repo"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { hubPool, linkReaches } from "../helpers/hubs.ts"
import { link, until } from "./helpers.ts"

const pool = hubPool()
let hubs: RunningHub[] = []
/** The links, each dialed by its first hub: a-b, a-c, b-c. */
const LINKS: [number, number][] = [[0, 1], [0, 2], [1, 2]]

beforeAll(async () => {
  hubs = [await pool.start(), await pool.start(), await pool.start()]
  for (const [x, y] of LINKS) await link(hubs[x]!, hubs[y]!)
}, 60_000)
afterAll(pool.cleanup)

type Op = { kind: "insert"; hub: number; at: number } | { kind: "delete"; hub: number; at: number } | { kind: "cut" | "restore"; link: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("insert" as const), hub: fc.integer({ min: 0, max: 2 }), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), hub: fc.integer({ min: 0, max: 2 }), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom("cut" as const, "restore" as const), link: fc.integer({ min: 0, max: 2 }) }) },
)

/** Resolves once the three handles hold the same heads (checked whenever the heads of any change). */
async function converged(handles: DocHandle<unknown>[], timeoutMs = 90_000): Promise<void> {
  const same = () => new Set(handles.map(h => A.getHeads(h.doc() as A.Doc<unknown>).sort().join(","))).size === 1
  if (same()) return
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (!same()) return
      clearTimeout(timer)
      for (const h of handles) {
        h.off("change", check)
        h.off("heads-changed", check)
      }
      resolve()
    }
    const timer = setTimeout(() => {
      for (const h of handles) {
        h.off("change", check)
        h.off("heads-changed", check)
      }
      reject(new Error(`not converged in ${timeoutMs} ms: ${handles.map(h => `${JSON.stringify((h.doc() as { text?: string }).text)} at ${A.getHeads(h.doc() as A.Doc<unknown>).join(",")}`).join(" / ")}`))
    }, timeoutMs)
    for (const h of handles) {
      h.on("change", check)
      h.on("heads-changed", check)
    }
  })
}

describe("shared documents converge", () => {
  it("under random concurrent edits on three hubs with link cuts and restores, with no acknowledged edit lost", async () => {
    const [a, b, c] = hubs as [RunningHub, RunningHub, RunningHub]
    let unique = 0x4e00
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }), async rounds => {
        const made = await a.hub.sessions.create({ name: "prop", participants: [b.hub.nodeId, c.hub.nodeId], configuration: { recordingEnabled: false } })
        for (const h of [b, c]) {
          await until(h, () => h.hub.sessions.show(made.url), v => v.myStatus === "invited", "invited")
          await h.hub.sessions.join(made.url)
        }
        await until(a, () => a.hub.sessions.show(made.url), v => v.joined === 3, "all joined")
        const doc = await a.hub.sessions.createDocument(made.url, { title: "prop" })
        for (const h of [b, c]) await until(h, () => h.hub.sessions.document(made.url, doc.documentId), () => true, "held")
        const up = [true, true, true]
        const inserted = new Set<string>()
        const deleted = new Set<string>()
        for (const round of rounds) {
          // each round's ops run at the same moment on different hubs; one hub's own ops run in
          // turn (an edit names a position in the text its hub holds when it is made)
          const chains = new Map<string, Promise<void>>()
          const inTurn = (key: string, fn: () => Promise<void>) => {
            const next = (chains.get(key) ?? Promise.resolve()).then(fn)
            chains.set(key, next)
            return next
          }
          await Promise.all(
            round.map(o => inTurn("hub" in o ? `hub${o.hub}` : "links", async () => {
              if (o.kind === "cut" || o.kind === "restore") {
                const [x, y] = LINKS[o.link]!
                if (o.kind === "cut" && up[o.link]) {
                  up[o.link] = false
                  hubs[x]!.hub.hangUp(hubs[y]!.url)
                } else if (o.kind === "restore" && !up[o.link]) {
                  up[o.link] = true
                  await linkReaches(hubs[x]!.hub.dial(hubs[y]!.url, hubs[y]!.hub.nodeId), "established")
                }
                return
              }
              const e = o as Extract<Op, { hub: number }>
              const h = hubs[e.hub]!
              const text = (await h.hub.sessions.document(made.url, doc.documentId)).text
              const pos = Math.floor(e.at * text.length)
              if (e.kind === "insert") {
                const ch = String.fromCodePoint(unique++)
                await h.hub.sessions.edit(made.url, doc.documentId, { splice: { pos, insert: ch } })
                inserted.add(ch)
              } else if (text.length > 0) {
                const at = Math.min(pos, text.length - 1)
                await h.hub.sessions.edit(made.url, doc.documentId, { splice: { pos: at, del: 1 } })
                deleted.add(text[at]!)
              }
            })),
          )
        }
        for (let i = 0; i < LINKS.length; i++) {
          if (up[i]) continue
          const [x, y] = LINKS[i]!
          await linkReaches(hubs[x]!.hub.dial(hubs[y]!.url, hubs[y]!.hub.nodeId), "established")
        }
        const handles = hubs.map(h => h.hub.repo.handles[doc.documentId as never]!) as DocHandle<unknown>[]
        await converged(handles)
        const texts = handles.map(h => (h.doc() as { text: string }).text)
        expect(new Set(texts).size).toBe(1)
        const want = [...inserted].filter(ch => !deleted.has(ch)).sort()
        expect([...texts[0]!].sort()).toEqual(want)
      }),
      { numRuns: 6, endOnFailure: true },
    )
  }, 600_000)
})
