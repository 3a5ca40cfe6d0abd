/**
 * The Fed. Markets and Collaboration tabs in a real browser (Debian's chromium through
 * playwright-core), one page on each of two real linked hubs: A creates a marketplace, B
 * asks to join from its dashboard, A approves, B publishes and the item appears on A's
 * page without a reload; A searches, rates and buys it. Then A starts a session with B,
 * B accepts, both chat, co-edit one shared document and both pages show the merged text,
 * decide and sign an agreement. Screenshots go to test/artifacts/.
 */
import { existsSync } from "node:fs"
import { mkdir, rm } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chromium, type Browser, type Page } from "playwright-core"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { nextPolicy } from "../../src/replication/access/policy.ts"
import { linkReaches, startTestHub } from "../helpers/hubs.ts"
import { until } from "../helpers/market.ts"

const CHROMIUM = "/usr/bin/chromium"
const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url))
const skip = process.env.FEDHUB_SKIP_BROWSER === "1"

// two hubs, two pages and every step awaited through both: a loaded 2-core machine needs more than the default 30 s for some steps
describe.skipIf(skip)("the Fed. Markets and Collaboration tabs, on two hubs at once", { timeout: 90_000 }, () => {
  let a: RunningHub
  let b: RunningHub
  let browser: Browser
  let pa: Page
  let pb: Page
  const pageErrors: string[] = []
  const urls: string[] = []
  let marketUrl = ""

  const open = async (hub: RunningHub): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.setDefaultTimeout(15_000)
    page.on("pageerror", e => pageErrors.push(`${hub.hub.config.name}: ${e.message}`))
    page.on("request", r => urls.push(r.url()))
    await page.goto(hub.localUrl)
    await page.getByLabel("Admin token").fill(hub.hub.adminToken)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.waitForFunction(() => document.getElementById("live")?.textContent === "live")
    // set once: a reload would clear it
    await page.evaluate(() => ((window as unknown as { noReload: boolean }).noReload = true))
    return page
  }
  const tab = async (page: Page, name: string) => {
    await page.getByRole("tab", { name }).click()
    await page.waitForSelector(`[role=tabpanel][aria-labelledby="${await page.getByRole("tab", { name }).getAttribute("id")}"]:not([hidden])`)
  }
  const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })
  const text = (page: Page, sel: string) => page.waitForSelector(sel).then(el => el.textContent())
  /** Waits until `sel` shows `what`; on a timeout, says what it showed (and the page's notice). */
  const textIncludes = (page: Page, sel: string, what: string) =>
    page.waitForFunction(([s, w]) => document.querySelector(s!)?.textContent?.includes(w!) === true, [sel, what]).catch(async (e: Error) => {
      const shown = await page.evaluate(([s]) => [document.querySelector(s!)?.textContent, document.querySelector("#notice")?.textContent], [sel])
      throw new Error(`${sel} never showed ${JSON.stringify(what)}; it showed ${JSON.stringify(shown[0]?.slice(0, 500))}, notice ${JSON.stringify(shown[1])} (${e.message.split("\n")[0]})`)
    })

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or FEDHUB_SKIP_BROWSER=1 to skip the browser tests)`)
    await mkdir(ARTIFACTS, { recursive: true })
    ;[a, b, browser] = await Promise.all([
      startTestHub({ flags: { name: "alpha" } }),
      startTestHub({ flags: { name: "beta" } }),
      chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] }),
    ])
    await linkReaches(a.hub.dial(b.url, b.hub.nodeId), "established")
    ;[pa, pb] = await Promise.all([open(a), open(b)])
  })
  afterAll(async () => {
    await browser?.close()
    for (const h of [a, b])
      if (h) {
        await h.stop()
        await rm(h.paths.home, { recursive: true, force: true })
      }
  })

  it("creates a marketplace on A's dashboard (its name checked at the field); the header card counts it", async () => {
    await textIncludes(pa, "#stat-markets-trend", "no change")
    expect(await text(pa, "#stat-markets")).toBe("0")
    await tab(pa, "Fed. Markets")
    await textIncludes(pa, "#markets-empty", "No marketplace yet")
    await pa.getByText("Create a marketplace").click()
    await pa.getByRole("button", { name: "Create marketplace" }).click()
    await textIncludes(pa, "#mc-name-error", "Give the marketplace a name")
    expect(await pa.getAttribute("#mc-name", "aria-invalid")).toBe("true")
    await pa.locator("#mc-name").fill("Plugins")
    await pa.getByLabel("Join decided by").selectOption("centralized")
    await pa.getByLabel("Categories (comma-separated)").fill("Tools, Personas")
    await pa.getByRole("button", { name: "Create marketplace" }).click()
    await textIncludes(pa, "#md-name", "Plugins")
    marketUrl = (await text(pa, "#md-url")) ?? ""
    expect(marketUrl).toMatch(/^automerge:/)
    expect(await text(pa, "#md-head")).toContain("centralized")
    await textIncludes(pa, "#md-results", "The catalog is empty")
    await pa.waitForFunction(() => document.getElementById("stat-markets")?.textContent === "1")
    expect(await text(pa, "#stat-markets-trend")).toContain("+1")
  })

  it("B asks to join from its dashboard; A sees the request and approves it; B then holds the marketplace", async () => {
    await tab(pb, "Fed. Markets")
    await pb.getByText("Join a marketplace").click()
    await pb.getByLabel("Marketplace URL").fill("not a url")
    await pb.getByRole("button", { name: "Ask to join" }).click()
    await textIncludes(pb, "#mj-url-error", "automerge: URL")
    await pb.getByLabel("Marketplace URL").fill(marketUrl)
    await pb.getByLabel("Its owner").selectOption(a.hub.nodeId)
    await pb.locator("#mj-message").fill("we publish plugins")
    await pb.getByRole("button", { name: "Ask to join" }).click()
    await textIncludes(pb, "#joining-list", "pending")

    const request = `#md-requests li[data-requester="${b.hub.nodeId}"]`
    await textIncludes(pa, request, "pending")
    expect(await text(pa, request)).toContain("we publish plugins")
    await pa.getByRole("button", { name: "Approve the join request of beta" }).click()
    await textIncludes(pa, request, "approved")
    await textIncludes(pa, "#md-head", "beta")

    const documentId = marketUrl.replace("automerge:", "")
    await pb.waitForSelector(`#market-list li[data-document-id="${documentId}"]`)
    await textIncludes(pb, "#joining-list", "approved")
    await pb.click(`#market-list li[data-document-id="${documentId}"] button`)
    await textIncludes(pb, "#md-head", "participant")
    await pb.waitForSelector("#md-publish:not([hidden])")
  })

  it("B publishes: the API's problems are shown at their fields, then the item appears on A's page without a reload", async () => {
    await pb.getByLabel("Item id").fill("bad id!")
    await pb.getByRole("button", { name: "Publish" }).click()
    await pb.waitForFunction(() => document.getElementById("pf-itemId-error")?.textContent !== "")
    expect(await pb.getAttribute("#pf-itemId", "aria-invalid")).toBe("true")
    expect(await text(pb, "#pf-title-error")).not.toBe("") // the empty title, from the same answer
    expect(b.hub.market.catalog.entries(marketUrl.replace("automerge:", "")).size).toBe(0)

    await pb.getByLabel("Item id").fill("lint-kit")
    await pb.getByLabel("Title").fill("Lint kit")
    await pb.locator("#pf-category").selectOption("tools")
    await pb.locator("#pf-description").fill("Lints your persona prompts")
    await pb.getByLabel("Tags (comma-separated)").fill("lint, ci")
    await pb.getByLabel("Price (minor units, 0 = free)").fill("500")
    await pb.getByLabel("Currency").selectOption("USD")
    await pb.getByRole("button", { name: "Publish" }).click()
    const row = `#md-items tr[data-global-id="${b.hub.nodeId}:lint-kit"]`
    await pb.waitForSelector(row)

    await pa.waitForSelector(row)
    expect(await text(pa, row)).toContain("500 USD")
    expect(await pa.evaluate(() => (window as unknown as { noReload?: boolean }).noReload)).toBe(true)
  })

  it("A searches with the filters, opens the item, rates and buys it; the ledger records the purchase", async () => {
    await pa.locator("#ms-type").selectOption("persona")
    await pa.getByRole("button", { name: "Search", exact: true }).click()
    await textIncludes(pa, "#md-results", "No item matches these filters")
    await pa.locator("#ms-type").selectOption("")
    await pa.getByLabel("Text", { exact: true }).fill("lint")
    await pa.locator("#ms-category").selectOption("tools")
    await pa.getByLabel("Published by").selectOption(b.hub.nodeId)
    await pa.getByLabel("Price from (minor units)").fill("600")
    await pa.getByLabel("Price up to").fill("100")
    await pa.getByRole("button", { name: "Search", exact: true }).click()
    await textIncludes(pa, "#ms-minPrice-error", "greater than") // minPrice > maxPrice, at the field
    await pa.getByLabel("Price from (minor units)").fill("100")
    await pa.getByLabel("Price up to").fill("1000")
    await pa.getByLabel("Sort").selectOption("-price")
    await pa.getByRole("button", { name: "Search", exact: true }).click()
    await textIncludes(pa, "#md-page", "1–1 of 1")

    await pa.getByRole("button", { name: "Lint kit" }).click()
    await textIncludes(pa, "#md-item", "Lints your persona prompts")
    await pa.getByLabel("Stars").selectOption("4.5")
    await pa.getByRole("button", { name: "Rate", exact: true }).click()
    await textIncludes(pa, "#md-item", "4.50 ★ from 1")
    await pa.getByLabel("Pay with").selectOption("stripe")
    await pa.getByLabel("Reference").fill("ch_123")
    await pa.getByRole("button", { name: "Buy", exact: true }).click()
    await textIncludes(pa, "#notice", "Bought Lint kit")
    await textIncludes(pa, "#md-balance", "1 paid outside")
    await textIncludes(pa, "#md-no-conflict", "No conflict")
    await pa.getByLabel("Field", { exact: true }).fill("tagline")
    await pa.getByLabel("Value", { exact: true }).fill("tools for personas")
    await pa.getByRole("button", { name: "Set", exact: true }).click()
    await textIncludes(pa, "#md-conflicts-body", "tools for personas")
    // B sees A's rating without a reload
    await textIncludes(pb, `#md-items tr[data-global-id="${b.hub.nodeId}:lint-kit"]`, "4.5 ★ (1)")
    await shot(pa, "fed-markets")
    await shot(pb, "fed-markets-joined")
  })

  it("two admins set one metadata field while apart: both pages show the conflict, A resolves it, both show one value", async () => {
    const documentId = marketUrl.replace("automerge:", "")
    // B becomes an admin (an owner-signed policy version; it travels with the document's next change)
    await a.hub.policies.add(documentId, [nextPolicy(a.hub.identity, a.hub.policies.state(documentId)!, { add: { admins: [b.hub.nodeId] } })])
    await pa.locator("#mm-field").fill("name")
    await pa.locator("#mm-value").fill("Plugins")
    await pa.getByRole("button", { name: "Set", exact: true }).click()
    await until(b, () => b.hub.policies.effective(documentId)?.admins ?? [], l => l.includes(b.hub.nodeId), "B is an admin")
    await textIncludes(pb, "#md-conflicts-body", "tools for personas")
    expect(a.hub.hangUp(b.url)).toBe(true)
    for (const [page, value] of [[pa, "alpha's tagline"], [pb, "beta's tagline"]] as const) {
      await page.locator("#mm-field").fill("tagline")
      await page.locator("#mm-value").fill(value)
      await page.getByRole("button", { name: "Set", exact: true }).click()
      await textIncludes(page, "#md-conflicts-body", value)
    }
    await linkReaches(a.hub.dial(b.url, b.hub.nodeId), "established")
    for (const page of [pa, pb]) {
      await textIncludes(page, '#md-conflicts-body li[data-field="tagline"]', "alpha's tagline")
      await textIncludes(page, '#md-conflicts-body li[data-field="tagline"]', "beta's tagline")
    }
    await shot(pa, "fed-markets-conflict")
    await pa.getByRole("button", { name: "Resolve tagline to beta's tagline" }).click()
    for (const page of [pa, pb]) await textIncludes(page, "#md-no-conflict", "No conflict")
    expect(await text(pb, "#md-conflicts-body")).toContain("beta's tagline")
  })

  it("A starts a session with B; B accepts the invitation; the channel carries messages both ways", async () => {
    await tab(pa, "Collaboration")
    await tab(pb, "Collaboration")
    await textIncludes(pb, "#invites-empty", "No invitation")
    await pa.getByText("Start a session").click()
    await pa.getByRole("button", { name: "Start session" }).click()
    await textIncludes(pa, "#sc-participants-error", "Choose at least one hub")
    await pa.locator("#sc-name").fill("Persona jam")
    await pa.getByRole("checkbox", { name: /^beta/ }).check()
    await pa.getByRole("button", { name: "Start session" }).click()
    await textIncludes(pa, "#ss-name", "Persona jam")

    await pb.getByRole("button", { name: "Accept the invitation to Persona jam" }).click()
    await textIncludes(pb, "#ss-status", "active")
    await textIncludes(pa, "#ss-head", "beta — participant, joined")
    await pa.waitForFunction(() => document.getElementById("stat-sessions")?.textContent === "1")

    await pb.locator("#ss-send-text").fill("hello from beta")
    await pb.getByRole("button", { name: "Send" }).click()
    await textIncludes(pa, "#ss-messages", "hello from beta")
    await pa.locator("#ss-send-text").fill("hi beta")
    await pa.getByRole("button", { name: "Send" }).click()
    await textIncludes(pb, "#ss-messages", "hi beta")
  })

  it("two pages co-edit one shared document: each sees the other's typing live, and both show the merged text", async () => {
    await pa.getByLabel("New document title").fill("Plan")
    await pa.getByRole("button", { name: "Create", exact: true }).click()
    const ta = pa.locator("#ss-text")
    const tb = pb.locator("#ss-text")
    await ta.waitFor()
    await tb.waitFor() // B's page opens the shared document once it holds it
    await ta.click()
    await pa.keyboard.type("draft")
    await pb.waitForFunction(() => (document.getElementById("ss-text") as HTMLTextAreaElement).value === "draft")
    // B types at the end; A sees it character by character
    await tb.click()
    await pb.keyboard.press("End")
    await pb.keyboard.type(" plan")
    await pa.waitForFunction(() => (document.getElementById("ss-text") as HTMLTextAreaElement).value === "draft plan")
    // B's caret stays where B typed when A inserts in front of it
    await ta.click()
    await pa.keyboard.press("Home")
    await pa.keyboard.type("our ")
    await pb.waitForFunction(() => (document.getElementById("ss-text") as HTMLTextAreaElement).value === "our draft plan")
    expect(await pb.evaluate(() => (document.getElementById("ss-text") as HTMLTextAreaElement).selectionStart)).toBe("our draft plan".length)
    // both at once, each one edit at the front: Automerge keeps both runs whole
    await Promise.all([ta.fill(`A1 our draft plan`), tb.fill(`B2 our draft plan`)])
    const merged = (page: Page) => page.waitForFunction(() => /^(A1 B2 |B2 A1 )our draft plan$/.test((document.getElementById("ss-text") as HTMLTextAreaElement).value))
    await Promise.all([merged(pa), merged(pb)])
    const [va, vb] = [await ta.inputValue(), await tb.inputValue()]
    expect(va).toBe(vb)
    // the hubs hold the same text the pages show
    const docId = await pa.getAttribute("#ss-doc-list li", "data-document-id")
    const session = (await a.hub.sessions.list()).sessions[0]!
    expect((await a.hub.sessions.document(session.url, docId!)).text).toBe(va)
    expect((await b.hub.sessions.document(session.url, docId!)).text).toBe(va)
  })

  it("decides by votes and signs an agreement; each signature shows verified", async () => {
    await pa.getByLabel("Propose", { exact: true }).fill("Ship v1")
    await pa.getByRole("button", { name: "Propose", exact: true }).click()
    await pa.getByRole("button", { name: "Vote yes on Ship v1" }).click()
    await pb.getByRole("button", { name: "Vote yes on Ship v1" }).click()
    await textIncludes(pa, "#ss-decisions-body", "approved")
    await textIncludes(pb, "#ss-decisions-body", "approved")

    await pa.getByLabel("Agreement title").fill("Deal")
    await pa.getByLabel("Exact text").fill("We share the catalog.")
    await pa.getByRole("button", { name: "Propose and sign" }).click()
    await textIncludes(pb, "#ss-agreements-body", "beta (this hub) has not signed")
    await textIncludes(pb, `#ss-agreements-body li[data-signer="${a.hub.nodeId}"]`, "✓")
    await pb.getByRole("button", { name: "Sign Deal" }).click()
    await textIncludes(pa, `#ss-agreements-body li[data-signer="${b.hub.nodeId}"]`, "verified")
    await textIncludes(pa, "#ss-agreements-body", "complete")
    await shot(pa, "collaboration")
    await shot(pb, "collaboration-joined")
  })

  it("works at phone width and by keyboard", async () => {
    await pa.setViewportSize({ width: 390, height: 844 })
    for (const [name, file] of [["Fed. Markets", "fed-markets-phone"], ["Collaboration", "collaboration-phone"]] as const) {
      await tab(pa, name)
      const overflow = await pa.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
      expect(overflow).toBeLessThanOrEqual(0)
      await shot(pa, file)
    }
    // from the tab list, the keyboard reaches the session list's first entry
    await pa.getByRole("tab", { name: "Collaboration" }).focus()
    await pa.keyboard.press("Tab") // the panel
    await pa.keyboard.press("Tab")
    const focused = await pa.evaluate(() => document.activeElement?.closest("section")?.id ?? document.activeElement?.id)
    expect(focused).toBe("panel-collab")
  })

  it("kept the token out of every URL and raised no page error", () => {
    expect(urls.filter(u => u.includes(a.hub.adminToken) || u.includes(b.hub.adminToken))).toEqual([])
    expect(pageErrors).toEqual([])
  })
})
