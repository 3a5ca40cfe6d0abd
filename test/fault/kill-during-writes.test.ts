/**
 * The fault suite's crash case: SIGKILL in the middle of a burst of concurrent writes.
 * Every write the hub acknowledged before it died is there after the restart
 * (acknowledged means on disk); writes still in flight may or may not be.
 */
import { rm } from "node:fs/promises"
import { afterAll, describe, expect, it } from "vitest"
import { adminClient } from "../../src/cli/adminClient.ts"
import { readAdminToken, resolveHome } from "../../src/hub/home.ts"
import { startHubProcess, type HubProcess } from "../helpers/cli.ts"
import { tempDir } from "../helpers/hubs.ts"

const procs: HubProcess[] = []
const homes: string[] = []
afterAll(async () => {
  await Promise.allSettled(procs.map(p => p.stop("SIGKILL")))
  await Promise.allSettled(homes.map(h => rm(h, { recursive: true, force: true })))
})

describe("SIGKILL during a burst of acknowledged writes", () => {
  it("finds every acknowledged write after the restart, new documents included", async () => {
    const home = await tempDir("fedhub-kill-")
    homes.push(home)
    const hub = await startHubProcess(["--home", home])
    procs.push(hub)
    const api = adminClient(hub.url, await readAdminToken(resolveHome(home)))
    const doc = await api.call<{ url: string }>("POST", "/docs", { content: { items: {} } })
    const ref = encodeURIComponent(doc.url)
    const acked: string[] = []
    const created: string[] = []
    let killed = false
    // eight writers in parallel; the hub is killed once 60 writes were acknowledged
    const writer = async (w: number) => {
      for (let i = 0; !killed; i++) {
        try {
          if (i % 5 === 4) {
            const made = await api.call<{ documentId: string }>("POST", "/docs", { content: { by: w, i } })
            if (!killed) created.push(made.documentId)
          } else {
            await api.call("PUT", `/docs/${ref}/value`, { path: `items.w${w}_${i}`, value: i })
            if (!killed) acked.push(`w${w}_${i}`)
          }
        } catch {
          return // the hub died under this request: not acknowledged
        }
        if (acked.length + created.length >= 60 && !killed) {
          killed = true
          await hub.stop("SIGKILL")
        }
      }
    }
    await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)))
    expect(acked.length + created.length).toBeGreaterThanOrEqual(60)

    const back = await startHubProcess(["--home", home])
    procs.push(back)
    const api2 = adminClient(back.url, await readAdminToken(resolveHome(home)))
    const items = (await api2.call<{ content: { items: Record<string, number> } }>("GET", `/docs/${ref}`)).content.items
    expect(acked.filter(k => items[k] !== Number(k.split("_")[1]))).toEqual([])
    for (const id of created) {
      const shown = await api2.call<{ documentId: string }>("GET", `/docs/${id}`)
      expect(shown.documentId).toBe(id)
    }
  }, 60_000)
})
