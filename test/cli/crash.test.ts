/**
 * A hub killed with SIGKILL loses nothing it acknowledged: acknowledged writes are
 * on disk, and after a restart it converges with its peer again.
 */
import { rm } from "node:fs/promises"
import { afterAll, describe, expect, it } from "vitest"
import { adminClient } from "../../src/cli/adminClient.ts"
import { readAdminToken, resolveHome } from "../../src/hub/home.ts"
import { startHubProcess, type HubProcess } from "../helpers/cli.ts"
import { tempDir } from "../helpers/hubs.ts"

const homes: string[] = []
const procs: HubProcess[] = []
afterAll(async () => {
  await Promise.allSettled(procs.map(p => p.stop("SIGKILL")))
  await Promise.allSettled(homes.map(h => rm(h, { recursive: true, force: true })))
})

const api = async (home: string, url: string) => adminClient(url, await readAdminToken(resolveHome(home)))

describe("a hub killed mid-sync", () => {
  it("keeps every acknowledged write and converges after the restart", async () => {
    const homeA = await tempDir("fedhub-crash-a-")
    const homeB = await tempDir("fedhub-crash-b-")
    homes.push(homeA, homeB)
    const a = await startHubProcess(["--home", homeA])
    procs.push(a)
    let b = await startHubProcess(["--home", homeB, "--peer", a.url])
    procs.push(b)
    let apiB = await api(homeB, b.url)
    const apiA = await api(homeA, a.url)

    const { signer: bId } = await apiB.call<{ signer: string }>("GET", "/node")
    const doc = await apiA.call<{ url: string }>("POST", "/docs", { content: { items: {} }, share: ["public"], writers: [bId] })
    // b writes a burst; every write it acknowledged must survive SIGKILL
    const acked: string[] = []
    await apiB.call("GET", `/docs/${encodeURIComponent(doc.url)}`)
    for (let i = 0; i < 40; i++) {
      await apiB.call("PUT", `/docs/${encodeURIComponent(doc.url)}/value`, { path: `items.b${i}`, value: i })
      acked.push(`b${i}`)
    }
    // a writes too while b is syncing, then b dies without a chance to flush anything
    const aWrites = Array.from({ length: 40 }, (_, i) =>
      apiA.call("PUT", `/docs/${encodeURIComponent(doc.url)}/value`, { path: `items.a${i}`, value: i }),
    )
    await Promise.all(aWrites)
    expect(await b.stop("SIGKILL")).toBe(null)

    b = await startHubProcess(["--home", homeB, "--peer", a.url])
    procs.push(b)
    apiB = await api(homeB, b.url)
    const deadline = Date.now() + 20_000
    let items: Record<string, number> = {}
    while (Date.now() < deadline) {
      items = (await apiB.call<{ content: { items: Record<string, number> } }>("GET", `/docs/${encodeURIComponent(doc.url)}`)).content.items
      if (Object.keys(items).length === 80) break
      await new Promise(r => setTimeout(r, 100)) // polling another process: there is no event to await
    }
    // every write b acknowledged before SIGKILL, with its value, and every write of a
    const expected = Object.fromEntries([...acked, ...Array.from({ length: 40 }, (_, i) => `a${i}`)].map(k => [k, Number(k.slice(1))]))
    expect(items).toEqual(expected)
    // and a converges to the same: b sends it what it wrote before dying
    let onA: Record<string, number> = {}
    while (Date.now() < deadline + 10_000) {
      onA = (await apiA.call<{ content: { items: Record<string, number> } }>("GET", `/docs/${encodeURIComponent(doc.url)}`)).content.items
      if (Object.keys(onA).length === 80) break
      await new Promise(r => setTimeout(r, 100)) // polling another process: there is no event to await
    }
    expect(onA).toEqual(items)
    // nothing b sent was refused on the way (a refusal would show in a's log)
    expect(a.stderr()).not.toMatch(/refused a peer/)
  }, 60_000)
})
