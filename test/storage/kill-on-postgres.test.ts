/**
 * A hub process on PostgreSQL SIGKILLed in the middle of a burst of acknowledged writes
 * that it is also syncing to a linked hub: after the restart every acknowledged write is
 * in the database (writes in flight may or may not be), and the linked hub converges on it.
 */
import "@automerge/automerge-repo"
import { rm, writeFile } from "node:fs/promises"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { adminClient } from "../../src/cli/adminClient.ts"
import { readAdminToken, resolveHome } from "../../src/hub/home.ts"
import type { NodeId } from "../../src/identity/index.ts"
import { startHubProcess, type HubProcess } from "../helpers/cli.ts"
import { linkReaches, startTestHub, tempDir, waitForDoc } from "../helpers/hubs.ts"
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts"

let server: TestPostgres
const procs: HubProcess[] = []
const cleanup: (() => Promise<void>)[] = []
beforeAll(async () => {
  server = await startPostgres()
}, 90_000)
afterAll(async () => {
  await Promise.allSettled(procs.map(p => p.stop("SIGKILL")))
  for (const c of cleanup.reverse()) await c().catch(() => {})
  await server?.stop()
}, 60_000)

describe("SIGKILL of a hub on PostgreSQL during writes and sync", () => {
  it("keeps every acknowledged write, and its peer converges on them after the restart", async () => {
    const url = await server.createDatabase("kill")
    const home = await tempDir("fedhub-kill-pg-")
    cleanup.push(() => rm(home, { recursive: true, force: true }))
    await writeFile(`${home}/config.json`, JSON.stringify({ storage: { kind: "postgres", url } }))
    const peer = await startTestHub()
    cleanup.push(async () => {
      await peer.stop()
      await rm(peer.paths.home, { recursive: true, force: true })
    })
    const hub = await startHubProcess(["--home", home])
    procs.push(hub)
    const api = adminClient(hub.url, await readAdminToken(resolveHome(home)))
    const node = await api.call<{ payload: { id: NodeId } }>("GET", "/node")
    const doc = await api.call<{ url: string }>("POST", "/docs", { content: { items: {} }, share: [peer.hub.nodeId] })
    const ref = encodeURIComponent(doc.url)
    let link = peer.hub.dial(hub.url, node.payload.id)
    await linkReaches(link, "established")
    const onPeer = await peer.hub.docs.find(doc.url)

    const acked: string[] = []
    let killed = false
    // eight writers in parallel, each write synced on to the peer; killed after 60 acknowledgements
    const writer = async (w: number) => {
      for (let i = 0; !killed; i++) {
        try {
          await api.call("PUT", `/docs/${ref}/value`, { path: `items.w${w}_${i}`, value: i })
          if (!killed) acked.push(`w${w}_${i}`)
        } catch {
          return // the hub died under this request: not acknowledged
        }
        if (acked.length >= 60 && !killed) {
          killed = true
          await hub.stop("SIGKILL")
        }
      }
    }
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)))
    expect(acked.length).toBeGreaterThanOrEqual(60)
    peer.hub.hangUp(hub.url)

    const back = await startHubProcess(["--home", home])
    procs.push(back)
    const api2 = adminClient(back.url, await readAdminToken(resolveHome(home)))
    const items = (await api2.call<{ content: { items: Record<string, number> } }>("GET", `/docs/${ref}`)).content.items
    expect(acked.filter(k => items[k] !== Number(k.split("_")[1]))).toEqual([])

    link = peer.hub.dial(back.url, node.payload.id)
    await linkReaches(link, "established")
    await waitForDoc(onPeer, d => {
      const got = (d as { items?: Record<string, unknown> }).items ?? {}
      return acked.every(k => got[k] !== undefined)
    }, 30_000)
  }, 120_000)
})
