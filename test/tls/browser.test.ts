/**
 * A browser reaches a hub that presents a CA-issued certificate for its name (issue 16):
 * chromium verifies the chain and the name (the test CA's leaf is trusted by its SPKI
 * hash, as an enterprise policy would trust a private CA), loads the dashboard over
 * https and signs in; a hub dials the same port over TLS.
 */
import { createHash, X509Certificate } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chromium, type Browser } from "playwright-core"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { linkReaches, startTestHub } from "../helpers/hubs.ts"
import { privateCa } from "./wire.ts"

const CHROMIUM = "/usr/bin/chromium"
const skip = process.env.FEDHUB_SKIP_BROWSER === "1"

describe.skipIf(skip)("a hub with a CA-issued certificate, in a browser", () => {
  let pub: RunningHub
  let dialer: RunningHub
  let browser: Browser
  let dir: string

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (or FEDHUB_SKIP_BROWSER=1 to skip the browser tests)`)
    const ca = privateCa()
    dir = await mkdtemp(join(tmpdir(), "fedhub-tls-browser-"))
    await Promise.all([writeFile(join(dir, "cert.pem"), ca.cert), writeFile(join(dir, "key.pem"), ca.key), writeFile(join(dir, "ca.pem"), ca.caCert)])
    const spki = createHash("sha256").update(new X509Certificate(ca.cert).publicKey.export({ format: "der", type: "spki" })).digest("base64")
    ;[pub, dialer, browser] = await Promise.all([
      startTestHub({ flags: { name: "public", tls: { cert: join(dir, "cert.pem"), key: join(dir, "key.pem") } } }),
      startTestHub({ flags: { tls: { ca: join(dir, "ca.pem") } } }),
      chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", `--ignore-certificate-errors-spki-list=${spki}`],
      }),
    ])
  })
  afterAll(async () => {
    await browser?.close()
    for (const h of [pub, dialer]) if (h) {
      await h.stop()
      await rm(h.paths.home, { recursive: true, force: true })
    }
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it("the browser loads the dashboard over https and signs in; a hub links over TLS on the same port", async () => {
    const page = await browser.newPage()
    page.setDefaultTimeout(15_000)
    const url = `https://localhost:${new URL(pub.url).port}/`
    const res = await page.goto(url)
    expect(res?.status()).toBe(200)
    const security = await res!.securityDetails()
    expect(security?.protocol).toMatch(/TLS/)
    expect(security?.subjectName).toBe("localhost")
    await page.getByLabel("Admin token").fill(pub.hub.adminToken)
    await page.getByRole("button", { name: "Sign in" }).click()
    await page.waitForSelector("#sign-in[hidden]", { state: "attached" })
    await linkReaches(dialer.hub.dial(pub.url, pub.hub.nodeId), "established")
  })
})
