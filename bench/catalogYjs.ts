/**
 * The Yjs baseline of `npm run bench -- catalog`: builds the same N items in a Y.Map
 * (each item as its JSON string), encodes the document, sends it over a raw `ws` socket
 * to a child process that applies it, and reports the times, bytes and RSS.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { WebSocket, WebSocketServer } from "ws"
import * as Y from "yjs"

const role = process.argv[3]
if (role === "receiver") {
  // applies one update from the socket, says how long from the first byte and its RSS
  // a 1M-item update is over ws's default 100 MiB frame limit
  const ws = new WebSocket(process.argv[4]!, { maxPayload: 2 ** 31 - 1 })
  ws.binaryType = "nodebuffer"
  ws.on("message", (data: Buffer) => {
    const doc = new Y.Doc()
    Y.applyUpdate(doc, new Uint8Array(data))
    const size = doc.getMap("items").size
    process.stdout.write(`${JSON.stringify({ size, rss: process.memoryUsage().rss })}\n`)
    ws.close()
    process.exit(0)
  })
} else {
  const n = Number(process.argv[2])
  const { benchItem } = await import("./catalog.ts")
  const doc = new Y.Doc()
  const map = doc.getMap<string>("items")
  const t0 = performance.now()
  doc.transact(() => {
    for (let i = 0; i < n; i++) map.set(`item-${i}`, JSON.stringify(benchItem(i)))
  })
  const update = Y.encodeStateAsUpdate(doc)
  const encodeMs = performance.now() - t0
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
  await new Promise<void>(r => wss.once("listening", () => r()))
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`
  const recv = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), String(n), "receiver", url], { stdio: ["ignore", "pipe", "inherit"] })
  const lines = createInterface({ input: recv.stdout! })
  const sock = await new Promise<WebSocket>(r => wss.once("connection", s => r(s)))
  const s0 = performance.now()
  sock.send(update)
  const done = await new Promise<{ size: number; rss: number }>(r => lines.once("line", l => r(JSON.parse(l))))
  const syncMs = performance.now() - s0
  if (done.size !== n) throw new Error(`the receiver holds ${done.size} items, not ${n}`)
  process.stdout.write(`${JSON.stringify({ encodeMs, syncMs, bytes: update.byteLength, senderRss: process.memoryUsage().rss, receiverRss: done.rss })}\n`)
  wss.close()
  process.exit(0)
}
