/**
 * The fault suite (issue 11): generated sync frames, changes and REST bodies against a
 * running hub. Whatever arrives, the hub stays up, answers /healthz within a bound,
 * keeps serving another peer, never answers a 5xx, and a refused input changes nothing.
 * FEDHUB_FUZZ_RUNS sets the number of generated cases per property (default 200).
 */
import * as A from "@automerge/automerge"
import { cbor, generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { rawPeer } from "../helpers/rawPeer.ts"
import { linkReaches, startHubs, waitForDoc } from "../helpers/hubs.ts"

const RUNS = Number(process.env.FEDHUB_FUZZ_RUNS ?? 200)
/** A generous bound: the bench measures the real figure; this catches a stalled hub. */
const HEALTH_BOUND_MS = 2_000
/** Each property's time budget grows with the runs asked for. */
const BUDGET_MS = 30_000 + RUNS * 200

const newDocId = () => parseAutomergeUrl(generateAutomergeUrl()).documentId

/** JSON-ish values with what breaks naive code: deep nesting, unicode, prototype keys, big numbers. */
const hostileKey = fc.oneof(fc.constantFrom("__proto__", "constructor", "prototype", "", "fedhub:acl", "a".repeat(300)), fc.string({ unit: "grapheme", maxLength: 12 }))
const hostileValue: fc.Arbitrary<unknown> = fc.letrec(tie => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.string({ unit: "grapheme", maxLength: 40 }),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie("value"), { maxKeys: 4 }),
  ),
})).value
/** A chain of `depth` nested maps or lists, as JSON text (the generator itself must not recurse that deep). */
const deepJson = fc.record({ depth: fc.integer({ min: 1, max: 20_000 }), list: fc.boolean() }).map(({ depth, list }) =>
  list ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "{}" + "}".repeat(depth),
)

/** Sync data: garbage bytes, a truncated real message, or a real message whose change is built from a hostile value or nests deep. */
const syncData = fc.oneof(
  fc.uint8Array({ maxLength: 256 }),
  fc.record({ value: hostileValue, cut: fc.nat() }).map(({ value, cut }) => {
    const m = changeMessage(b => putValue(b, "_root", "v", value))
    return m.subarray(0, cut % (m.byteLength + 1))
  }),
  hostileValue.map(value => changeMessage(b => putValue(b, "_root", "v", value))),
  fc.integer({ min: 1, max: 5_000 }).map(depth =>
    changeMessage(b => {
      let obj = "_root"
      for (let i = 0; i < depth; i++) obj = b.putObject(obj as A.ObjID, "a", {})
    }),
  ),
)

type Backend = ReturnType<typeof A.getBackend>

/** Writes a plain value on the raw backend, iteratively enough for generated depths. */
function putValue(b: Backend, obj: string, key: string | number, value: unknown): void {
  if (value !== null && typeof value === "object") {
    const child = b.putObject(obj as A.ObjID, key as string, Array.isArray(value) ? [] : {})
    if (Array.isArray(value)) value.forEach((v, i) => insertValue(b, child, i, v))
    else for (const [k, v] of Object.entries(value)) putValue(b, child, k, v)
  } else if (typeof value === "number" && !Number.isFinite(value)) b.put(obj as A.ObjID, key as string, 0)
  else b.put(obj as A.ObjID, key as string, value as string)
}

function insertValue(b: Backend, list: string, index: number, value: unknown): void {
  if (value !== null && typeof value === "object") {
    const child = b.insertObject(list as A.ObjID, index, Array.isArray(value) ? [] : {})
    if (Array.isArray(value)) value.forEach((v, i) => insertValue(b, child, i, v))
    else for (const [k, v] of Object.entries(value)) putValue(b, child, k, v)
  } else b.insert(list as A.ObjID, index, (typeof value === "number" && !Number.isFinite(value) ? 0 : value) as string)
}

function changeMessage(build: (b: Backend) => void): Uint8Array {
  const b = A.getBackend(A.init())
  build(b)
  b.commit("generated")
  return A.encodeSyncMessage({ heads: b.getHeads(), need: [], have: [], changes: b.getChanges([]) })
}

const TYPES = ["sync", "request", "ephemeral", "doc-unavailable", "remote-heads-changed", "remote-subscription-change", "peer", "join", "error", "gossip"]

/** A frame of any shape automerge-repo might see, and shapes it should never see. */
const frame = fc.record({
  type: fc.oneof(fc.constantFrom(...TYPES), fc.string({ maxLength: 70 })),
  documentId: fc.oneof(fc.constant("fresh"), fc.string({ maxLength: 40 }), fc.constant(undefined)),
  data: fc.oneof(syncData, fc.constant(undefined), fc.string({ maxLength: 20 })),
  extra: fc.dictionary(hostileKey, hostileValue, { maxKeys: 3 }),
})

describe("the fault suite", () => {
  let hub: RunningHub
  let other: RunningHub
  /** A hub with no peers, for REST bodies: nothing but the request can change it. */
  let solo: RunningHub
  let soloDoc: string
  let stopAll: () => Promise<void>
  let auth: Record<string, string>
  let heldId: string

  const healthy = async () => {
    const res = await fetch(`${hub.localUrl}/healthz`, { signal: AbortSignal.timeout(HEALTH_BOUND_MS) })
    expect(res.status).toBe(200)
  }

  beforeAll(async () => {
    const started = await startHubs(3, { limits: { changeDepth: 32, changeOps: 50_000 } })
    ;[hub, other, solo] = started.hubs as [RunningHub, RunningHub, RunningHub]
    stopAll = started.stopAll
    auth = { authorization: `Bearer ${solo.hub.adminToken}` }
    heldId = (await hub.hub.docs.create({ probe: 1 }, { readers: ["public"] })).documentId
    soloDoc = (await solo.hub.docs.create({ kept: 1 })).documentId
    await linkReaches(hub.hub.dial(other.url, other.hub.nodeId), "established")
  })
  afterAll(async () => stopAll())

  it(`survives ${RUNS} generated sync frames from an authenticated stranger; refused ones change nothing`, async () => {
    await fc.assert(
      fc.asyncProperty(frame, async f => {
        const peer = await rawPeer(hub.localUrl) // the frame gate is under test, not TLS: plain loopback keeps the suite's time
        const documentId = f.documentId === "fresh" ? newDocId() : f.documentId
        peer.send({ ...f.extra, type: f.type, senderId: peer.identity.nodeId, targetId: peer.hubId, documentId, data: f.data })
        // a probe after it, on the same socket: messages are checked in order, so its answer
        // (or the socket closing) means the generated frame was dealt with
        peer.send({ type: "request", senderId: peer.identity.nodeId, targetId: peer.hubId, documentId: heldId, data: changeMessage(() => {}) })
        const outcome = await Promise.race([
          peer.next(m => m.type === "sync" && m.documentId === heldId).then(() => "served" as const),
          peer.closed.then(() => "closed" as const),
        ])
        if (outcome === "closed" && typeof documentId === "string") {
          expect(hub.hub.index.has(documentId)).toBe(false)
          expect(hub.hub.repo.handles[documentId as never]?.isReady() ?? false).toBe(false)
        }
        peer.ws.terminate()
        await healthy()
      }),
      { numRuns: RUNS },
    )
    // and it still serves another hub
    const made = await other.hub.docs.create({ after: "fuzz" }, { readers: [hub.hub.nodeId] })
    const onHub = await hub.hub.docs.find(made.url)
    await waitForDoc(onHub, d => String((d as { after?: unknown }).after) === "fuzz")
  }, BUDGET_MS)

  it(`answers ${RUNS} generated REST bodies with 2xx/4xx, never 5xx, and a refused write creates nothing`, async () => {
    const routes = [
      (body: string) => fetch(`${solo.localUrl}/api/docs`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body }),
      (body: string) =>
        fetch(`${solo.localUrl}/api/docs/${soloDoc}/value`, { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body }),
      (body: string) => fetch(`${solo.localUrl}/sync/challenge`, { method: "POST", headers: { "content-type": "application/json" }, body }),
    ]
    const body = fc.oneof(
      hostileValue.map(v => JSON.stringify({ content: v })),
      fc.record({ path: fc.oneof(fc.string({ maxLength: 30 }), fc.array(hostileKey, { maxLength: 80 })), value: hostileValue }).map(b => JSON.stringify(b)),
      deepJson.map(d => `{"content":${d}}`),
      deepJson.map(d => `{"path":"a","value":${d}}`),
      fc.string({ unit: "binary", maxLength: 200 }),
    )
    await fc.assert(
      fc.asyncProperty(body, fc.nat(routes.length - 1), async (text, r) => {
        const before = solo.hub.index.size
        const heads = (await solo.hub.docs.show(soloDoc)).heads
        const res = await routes[r]!(text)
        expect(res.status).toBeLessThan(500)
        if (res.status >= 400) {
          expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/)
          expect(solo.hub.index.size).toBe(before)
          expect((await solo.hub.docs.show(soloDoc)).heads).toEqual(heads)
        }
        await res.arrayBuffer()
        const health = await fetch(`${solo.localUrl}/healthz`, { signal: AbortSignal.timeout(HEALTH_BOUND_MS) })
        expect(health.status).toBe(200)
      }),
      { numRuns: RUNS },
    )
  }, BUDGET_MS)

  it("refuses an unknown frame type with its own name, cbor-encoded as sent", async () => {
    const peer = await rawPeer(hub.url)
    peer.ws.send(cbor.encode({ type: "__proto__", senderId: peer.identity.nodeId, targetId: peer.hubId }))
    expect((await peer.next(m => m.type === "error")).message).toBe('MALFORMED_FRAME: unknown message type "__proto__"')
  })
})
