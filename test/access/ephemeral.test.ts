/**
 * Ephemeral messages are signed by their sender and come only from readers (issue 12,
 * item 3 and found 5): a linked peer cannot inject into a document's channel as a
 * participant, and a non-reader cannot send on it at all.
 */
import { rm } from "node:fs/promises"
import { afterEach, describe, expect, it } from "vitest"
import { cbor, Repo, type DocHandle, type PeerId } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { Identity } from "../../src/identity/index.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { signEphemeral } from "../../src/replication/access/ephemeralSignature.ts"
import { linkReaches, nextEvent, startTestHub, waitForDoc } from "../helpers/hubs.ts"
import { rawPeer } from "../helpers/rawPeer.ts"

let running: RunningHub[] = []
afterEach(async () => {
  await Promise.allSettled(running.map(h => h.stop()))
  await Promise.allSettled(running.map(h => rm(h.paths.home, { recursive: true, force: true })))
  running = []
})

async function pair() {
  const a = await startTestHub()
  const b = await startTestHub()
  running.push(a, b)
  await linkReaches(b.hub.dial(a.url, a.hub.nodeId), "established")
  const made = await a.hub.docs.create({ chat: true }, { writers: [b.hub.nodeId] })
  const onA = await a.hub.docs.find(made.url)
  const onB = await b.hub.docs.find(made.url)
  await waitForDoc(onB, d => (d as { chat?: boolean }).chat === true)
  const heard: { senderId: string; message: unknown }[] = []
  onA.on("ephemeral-message", e => heard.push({ senderId: e.senderId, message: e.message }))
  return { a, b, made, onA, onB: onB as DocHandle<unknown>, heard }
}

const ephemeralFrame = (documentId: string, senderId: string, data: Uint8Array, fedhubSig?: unknown) => ({
  type: "ephemeral",
  senderId,
  targetId: "",
  documentId,
  sessionId: "s1",
  count: 1,
  data,
  ...(fedhubSig ? { fedhubSig } : {}),
})

describe("ephemeral messages", () => {
  it("reach the other participant signed, with their sender", async () => {
    const { b, onA, onB, heard } = await pair()
    const got = nextEvent(onA, "ephemeral-message")
    onB.broadcast({ typing: true })
    await got
    expect(heard).toEqual([{ senderId: b.hub.nodeId, message: { typing: true } }])
  })

  it("refuse a stranger posing as a participant, unsigned or signed by itself, and one that is not a reader", async () => {
    const { a, b, made, onA, onB, heard } = await pair()
    const data = cbor.encode({ forged: true })
    const x = Identity.generate()
    for (const sig of [undefined, signEphemeral(x, { documentId: made.documentId, senderId: b.hub.nodeId, sessionId: "s1", count: 1, data })]) {
      const peer = await rawPeer(a.url, x)
      peer.send({ ...ephemeralFrame(made.documentId, b.hub.nodeId, data, sig), senderId: b.hub.nodeId, targetId: peer.hubId })
      expect((await peer.next(m => m.type === "error")).message).toMatch(/^SIGNATURE_INVALID: /)
    }
    // properly signed by itself, but x is not a reader of the document
    const peer = await rawPeer(a.url, x)
    const own = signEphemeral(x, { documentId: made.documentId, senderId: x.nodeId, sessionId: "s1", count: 1, data })
    peer.send({ ...ephemeralFrame(made.documentId, x.nodeId, data, own), targetId: peer.hubId })
    expect((await peer.next(m => m.type === "error")).message).toBe(`FORBIDDEN: ${x.nodeId} may not send ephemeral messages on ${made.documentId}`)
    // the channel heard only the real participant
    const got = nextEvent(onA, "ephemeral-message")
    onB.broadcast({ real: true })
    await got
    expect(heard).toEqual([{ senderId: b.hub.nodeId, message: { real: true } }])
    expect(a.hub.server.refusals.SIGNATURE_INVALID).toBe(2)
  })

  it("carries a local client's message to another hub, vouched for by the client's hub", async () => {
    const { b, made, onB } = await pair()
    const client = new Repo({ peerId: "dashboard" as PeerId, network: [new WebSocketClientAdapter(`${b.localUrl.replace("http", "ws")}/sync?token=${b.hub.adminToken}`, 50)] })
    try {
      const { a, onA, heard } = { a: running[0]!, onA: await running[0]!.hub.docs.find(made.url), heard: [] as unknown[] }
      onA.on("ephemeral-message", e => heard.push({ senderId: e.senderId, message: e.message }))
      const mine = await client.find(made.url as never)
      const got = nextEvent(onA, "ephemeral-message")
      mine.broadcast({ cursor: 3 })
      await got
      expect(heard).toEqual([{ senderId: "dashboard", message: { cursor: 3 } }])
      expect(a.hub.server.refusals.SIGNATURE_INVALID).toBeUndefined()
      expect(onB.documentId).toBe(made.documentId)
    } finally {
      await client.shutdown()
    }
  })
})
