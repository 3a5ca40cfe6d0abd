/**
 * The cost of the inbound checks (README "Limits"), in one run:
 *  1. changes per second applied from sync messages, bare (`receiveSyncMessage`) and with
 *     every message measured first (`inspectSyncMessage`, as the inbound gate does);
 *  2. `/healthz` latency of a hub, idle and while a stranger sends it changes nesting
 *     12,000 maps (which took an unguarded hub down).
 */
import * as A from "@automerge/automerge"
import { generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { serveHub } from "../src/api/server.ts"
import { startHub } from "../src/hub/startHub.ts"
import { DEFAULTS } from "../src/hub/config.ts"
import { depthInDoc, inspectSyncMessage } from "../src/replication/inspectChanges.ts"
import { deepChangeMessage, rawPeer } from "../test/helpers/rawPeer.ts"
import { ms, printTable, quantile } from "./stats.ts"

/** Sync messages carrying `n` one-key changes (nested two maps deep), as one peer sends them to a fresh one. */
function syncMessages(n: number): Uint8Array[] {
  let doc = A.from<{ items: Record<string, { v: number; tag: A.ImmutableString }> }>({ items: {} })
  for (let i = 0; i < n; i++)
    doc = A.change(doc, d => {
      d.items[`k${i % 500}`] = { v: i, tag: new A.ImmutableString(`t${i}`) }
    })
  const messages: Uint8Array[] = []
  let sender = A.initSyncState()
  let receiver = A.initSyncState()
  let copy = A.init<unknown>()
  for (;;) {
    const [s1, out] = A.generateSyncMessage(doc, sender)
    sender = s1
    if (out) {
      messages.push(out)
      ;[copy, receiver] = A.receiveSyncMessage(copy, receiver, out)
    }
    const [r1, back] = A.generateSyncMessage(copy, receiver)
    receiver = r1
    if (back) [doc, sender] = A.receiveSyncMessage(doc, sender, back)
    if (!out && !back) break
  }
  return messages
}

/** One sync message per change, as live editing sends them to a peer that is in sync. */
function liveMessages(n: number): { base: A.Doc<unknown>; messages: Uint8Array[] } {
  let doc = A.from<{ items: Record<string, { v: number }> }>({ items: {} })
  const base = A.clone(doc) as A.Doc<unknown>
  let sender = A.initSyncState()
  let receiver = A.initSyncState()
  let copy = A.clone(doc) as A.Doc<unknown>
  const messages: Uint8Array[] = []
  const exchange = (keep: boolean) => {
    for (;;) {
      const [s1, out] = A.generateSyncMessage(doc, sender)
      sender = s1
      if (out) {
        if (keep) messages.push(out)
        ;[copy, receiver] = A.receiveSyncMessage(copy, receiver, out)
      }
      const [r1, back] = A.generateSyncMessage(copy, receiver)
      receiver = r1
      if (back) [doc, sender] = A.receiveSyncMessage(doc, sender, back)
      if (!out && !back) return
    }
  }
  exchange(false)
  for (let i = 0; i < n; i++) {
    doc = A.change(doc, d => {
      d.items[`k${i % 50}`] = { v: i }
    })
    exchange(true)
  }
  return { base, messages }
}

function applyLive(base: A.Doc<unknown>, messages: Uint8Array[], check: boolean): number {
  let doc = A.clone(base)
  let state = A.initSyncState()
  const t0 = performance.now()
  for (const m of messages) {
    if (check) inspectSyncMessage(m, DEFAULTS.limits, obj => depthInDoc(doc, obj))
    ;[doc, state] = A.receiveSyncMessage(doc, state, m)
  }
  return performance.now() - t0
}

function applyAll(messages: Uint8Array[], check: boolean): number {
  const t0 = performance.now()
  let doc = A.init<unknown>()
  let state = A.initSyncState()
  for (const m of messages) {
    if (check) inspectSyncMessage(m, DEFAULTS.limits, obj => depthInDoc(doc, obj))
    ;[doc, state] = A.receiveSyncMessage(doc, state, m)
  }
  return performance.now() - t0
}

async function healthLatencies(url: string, durationMs: number, during?: () => Promise<void>): Promise<number[]> {
  const samples: number[] = []
  let done = false
  const poll = (async () => {
    const end = Date.now() + durationMs
    while (Date.now() < end || (during && !done)) {
      const t0 = performance.now()
      await (await fetch(`${url}/healthz`)).arrayBuffer()
      samples.push(performance.now() - t0)
    }
  })()
  if (during) await during()
  done = true
  await poll
  return samples
}

export async function benchLimits(changes = 20_000): Promise<void> {
  const messages = syncMessages(changes)
  applyAll(messages, true) // warm up
  const runs = 3
  const bare: number[] = []
  const checked: number[] = []
  for (let i = 0; i < runs; i++) {
    bare.push(applyAll(messages, false))
    checked.push(applyAll(messages, true))
  }
  const b = quantile(bare, 0.5)
  const c = quantile(checked, 0.5)
  printTable(`Applying ${changes.toLocaleString("en")} changes from ${messages.length} sync messages (median of ${runs})`, ["", "total", "changes/s", "vs bare"], [
    ["bare receiveSyncMessage", ms(b), Math.round((changes / b) * 1000).toLocaleString("en"), "1.00×"],
    ["with inspectSyncMessage first", ms(c), Math.round((changes / c) * 1000).toLocaleString("en"), `${(c / b).toFixed(2)}×`],
  ])
  const live = liveMessages(2_000)
  const lb: number[] = []
  const lc: number[] = []
  for (let i = 0; i < runs; i++) {
    lb.push(applyLive(live.base, live.messages, false))
    lc.push(applyLive(live.base, live.messages, true))
  }
  const lbm = quantile(lb, 0.5)
  const lcm = quantile(lc, 0.5)
  printTable(`Live editing: 2,000 changes, one sync message each (${live.messages.length} messages, median of ${runs})`, ["", "total", "changes/s", "vs bare"], [
    ["bare receiveSyncMessage", ms(lbm), Math.round((2_000 / lbm) * 1000).toLocaleString("en"), "1.00×"],
    ["with inspectSyncMessage first", ms(lcm), Math.round((2_000 / lcm) * 1000).toLocaleString("en"), `${(lcm / lbm).toFixed(2)}×`],
  ])

  const home = await mkdtemp(join(tmpdir(), "fedhub-bench-limits-"))
  const hub = await startHub(serveHub, { home, env: {}, flags: { port: 0, logLevel: "silent" } })
  try {
    const idle = await healthLatencies(hub.url, 2_000)
    const deep = deepChangeMessage(12_000)
    let refused = 0
    const underAttack = await healthLatencies(hub.url, 0, async () => {
      for (let i = 0; i < 20; i++) {
        const peer = await rawPeer(hub.url)
        const documentId = parseAutomergeUrl(generateAutomergeUrl()).documentId
        peer.send({ type: "sync", senderId: peer.identity.nodeId, targetId: peer.hubId, documentId, data: deep })
        await peer.closed
        refused++
      }
    })
    printTable("GET /healthz while idle and while a stranger sends 20 changes nesting 12,000 maps (one per connection)", ["", "requests", "p50", "p99", "max"], [
      ["idle", idle.length, ms(quantile(idle, 0.5)), ms(quantile(idle, 0.99)), ms(Math.max(...idle))],
      [`under attack (${refused} refused)`, underAttack.length, ms(quantile(underAttack, 0.5)), ms(quantile(underAttack, 0.99)), ms(Math.max(...underAttack))],
    ])
  } finally {
    await hub.stop()
    await rm(home, { recursive: true, force: true })
  }
}
