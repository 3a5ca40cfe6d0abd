/**
 * The Federation Center in a real browser (Debian's chromium through playwright-core)
 * over two real hubs: sign in to A's dashboard, add B by URL, see B on the Network Map
 * and in Connected Nodes, block B and see it leave the map without a reload. A
 * screenshot of every tab (desktop and phone width) is written under test/artifacts/
 * (the Markets and Collaboration tabs in use: markets-collab.test.ts).
 */
import { existsSync } from "node:fs"
import { mkdir, rm } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chromium, type Browser, type Page } from "playwright-core"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { startTestHub } from "../helpers/hubs.ts"

const CHROMIUM = "/usr/bin/chromium"
const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url))
const skip = process.env.FEDHUB_SKIP_BROWSER === "1"

describe.skipIf(skip)("the Federation Center in a browser", () => {
  let a: RunningHub
  let b: RunningHub
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []
  const urls: string[] = []

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or FEDHUB_SKIP_BROWSER=1 to skip the browser tests)`)
    await mkdir(ARTIFACTS, { recursive: true })
    ;[a, b, browser] = await Promise.all([
      // a 1 s heartbeat: latencies (and the pushes that carry them) arrive within the test
      startTestHub({ flags: { name: "alpha", heartbeatMs: 1000 } }),
      startTestHub({ flags: { name: "beta", heartbeatMs: 1000 } }),
      chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] }),
    ])
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.setDefaultTimeout(15_000)
    page.on("pageerror", e => pageErrors.push(e.message))
    page.on("request", r => urls.push(r.url()))
  })
  afterAll(async () => {
    await browser?.close()
    for (const h of [a, b]) if (h) {
      await h.stop()
      await rm(h.paths.home, { recursive: true, force: true })
    }
  })

  const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })
  const tab = async (name: string) => {
    await page.getByRole("tab", { name }).click()
    await page.waitForSelector(`[role=tabpanel][aria-labelledby="${await page.getByRole("tab", { name }).getAttribute("id")}"]:not([hidden])`)
  }

  it("refuses a wrong token at the field, then signs in with the admin token", async () => {
    await page.goto(a.localUrl)
    await page.waitForSelector("#sign-in:not([hidden])")
    await page.getByLabel("Admin token").fill("not-the-token")
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.waitForFunction(() => document.getElementById("sign-in-error")?.textContent?.includes("not this hub's admin token"))
    await page.getByLabel("Admin token").fill(a.hub.adminToken)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.waitForSelector("#app:not([hidden])")
    await page.waitForFunction(() => document.getElementById("live")?.textContent === "live")
    await page.waitForFunction(() => document.getElementById("node-line")?.textContent?.startsWith("alpha"))
    expect(await page.evaluate(() => sessionStorage.getItem("fedhub-admin-token"))).toBe(a.hub.adminToken)
    await page.waitForSelector("#map-list li") // this hub, on its own map
    await shot("network-map-empty")
  })

  it("adds B by URL; B shows in Connected Nodes with its link, and on the Network Map", async () => {
    await page.evaluate(() => ((window as unknown as { noReload: boolean }).noReload = true))
    await tab("Connected Nodes")
    await page.getByLabel("Add a hub by URL").fill("not a url")
    await page.getByRole("button", { name: "Add and connect" }).click()
    await page.waitForFunction(() => document.getElementById("add-error")?.textContent?.startsWith("Not a hub URL"))
    await page.getByLabel("Add a hub by URL").fill(b.url)
    await page.getByRole("button", { name: "Add and connect" }).click()
    const row = `#peer-rows tr[data-node-id="${b.hub.nodeId}"]`
    await page.waitForSelector(row)
    await page.waitForFunction(sel => document.querySelector(sel)?.textContent?.includes("established"), row)
    expect(await page.textContent(row)).toContain("beta")
    await shot("connected-nodes")

    await tab("Network Map")
    const item = `#map-list li[data-node-id="${b.hub.nodeId}"]`
    await page.waitForSelector(item)
    await page.waitForFunction(sel => document.querySelector(sel)?.textContent?.includes("established"), item)
    // the heartbeat's latency arrives by a push, in the list and as the edge's label
    await page.waitForFunction(sel => /established, \d+(\.\d)? ms/.test(document.querySelector(sel)?.textContent ?? ""), item)
    // the list mirrors the Cytoscape graph: B is a node there, with an edge from A
    expect(await page.evaluate(() => document.querySelectorAll("#map canvas").length)).toBeGreaterThan(0)
    await page.getByRole("button", { name: "Show details of beta" }).click()
    await page.waitForFunction(id => document.getElementById("node-panel")?.textContent?.includes(id), b.hub.nodeId)
    const panel = (await page.textContent("#node-panel")) ?? ""
    expect(panel).toContain("Trust")
    expect(panel).toContain("Reputation")
    expect(panel).toContain('"name": "beta"') // its verified descriptor
    await shot("network-map")
  })

  it("is keyboard-usable: arrow keys move between the tabs", async () => {
    await page.getByRole("tab", { name: "Network Map" }).focus()
    await page.keyboard.press("ArrowRight")
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("tab-nodes")
    expect(await page.getAttribute("#tab-nodes", "aria-selected")).toBe("true")
    await page.keyboard.press("End")
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("tab-settings")
  })

  it("shows the settings read-only, and the Markets and Collaboration tabs empty on a hub that has neither yet", async () => {
    await tab("Fed. Settings")
    await page.waitForFunction(() => document.getElementById("settings")?.textContent?.includes("Federation mode"))
    expect(await page.textContent("#settings")).toContain("open")
    await shot("fed-settings")
    await tab("Fed. Markets")
    await page.waitForFunction(() => document.getElementById("markets-empty")?.textContent?.includes("No marketplace yet"))
    expect(await page.textContent("#market-detail")).toContain("Choose a marketplace")
    expect(await page.textContent("#stat-markets")).toBe("0")
    await shot("fed-markets-empty")
    await tab("Collaboration")
    await page.waitForFunction(() => document.getElementById("sessions-empty")?.textContent?.includes("No session yet"))
    expect(await page.textContent("#invites-empty")).toContain("No invitation waiting")
    expect(await page.textContent("#stat-sessions")).toBe("0")
    await shot("collaboration-empty")
  })

  it("blocks B from the dashboard: B leaves the map and the list without a reload, and is listed as blocked", async () => {
    await tab("Connected Nodes")
    await page.getByRole("button", { name: "Block beta" }).click()
    await page.waitForSelector(`#peer-rows tr[data-node-id="${b.hub.nodeId}"]`, { state: "detached" })
    await page.waitForSelector(`#blocked-list li[data-node-id="${b.hub.nodeId}"]`)
    await tab("Network Map")
    await page.waitForSelector(`#map-list li[data-node-id="${b.hub.nodeId}"]`, { state: "detached" })
    expect(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload)).toBe(true)
    expect(a.hub.federation.registry.get(b.hub.nodeId)?.blocked).toBe(true)
    await shot("network-map-after-block")
  })

  it("works at phone width", async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await tab("Connected Nodes")
    await page.getByRole("button", { name: `Unblock beta` }).click()
    await page.waitForSelector(`#peer-rows tr[data-node-id="${b.hub.nodeId}"]`)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
    expect(overflow).toBeLessThanOrEqual(0)
    await shot("connected-nodes-phone")
    await tab("Network Map")
    await shot("network-map-phone")
  })

  it("kept the token out of every URL and raised no page error", () => {
    expect(urls.filter(u => u.includes(a.hub.adminToken))).toEqual([])
    expect(pageErrors).toEqual([])
  })
})
