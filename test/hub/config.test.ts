/** Configuration: flags > FEDHUB_* environment > config.json > defaults, each checked. */
import { mkdir, rm, writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { DEFAULTS, resolveConfig } from "../../src/hub/config.ts"
import { resolveHome } from "../../src/hub/home.ts"
import { tempDir } from "../helpers/hubs.ts"

const homes: string[] = []
afterEach(async () => {
  await Promise.all(homes.splice(0).map(h => rm(h, { recursive: true, force: true })))
})

const withConfig = async (config: unknown) => {
  const dir = await tempDir("fedhub-config-")
  homes.push(dir)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, "config.json"), typeof config === "string" ? config : JSON.stringify(config))
  return resolveHome(dir, {})
}

describe("configuration", () => {
  it("finds the home from --home, else $FEDHUB_HOME, else ./.fedhub", () => {
    expect(resolveHome("/x/flag", { FEDHUB_HOME: "/x/env" }).home).toBe("/x/flag")
    expect(resolveHome(undefined, { FEDHUB_HOME: "/x/env" }).home).toBe("/x/env")
    expect(resolveHome(undefined, {}).home).toBe(resolve(".fedhub"))
  })

  it("uses the defaults when nothing is set", async () => {
    const paths = await withConfig({})
    expect(await resolveConfig(paths, {}, {})).toEqual(DEFAULTS)
  })

  it("lets flags beat the environment and the environment beat config.json", async () => {
    const paths = await withConfig({ port: 1000, name: "from-file", logLevel: "warn", peers: ["http://file:1"] })
    const env = { FEDHUB_PORT: "2000", FEDHUB_NAME: "from-env", FEDHUB_PEERS: "http://env:1, http://env:2" }
    const fromAll = await resolveConfig(paths, { port: 3000, peers: ["http://flag:1"] }, env)
    expect(fromAll).toMatchObject({ port: 3000, name: "from-env", logLevel: "warn" })
    expect(fromAll.peers).toEqual(["http://file:1", "http://env:1", "http://env:2", "http://flag:1"])
    expect((await resolveConfig(paths, {}, env)).port).toBe(2000)
    expect((await resolveConfig(paths, {}, {})).port).toBe(1000)
  })

  it("refuses a typo in config.json with the file and the key named", async () => {
    const paths = await withConfig({ prot: 1 })
    await expect(resolveConfig(paths, {}, {})).rejects.toMatchObject({ code: "CONFIG_INVALID", detail: expect.stringContaining("prot") })
  })

  it("refuses config.json that is not JSON, and a bad environment value", async () => {
    const paths = await withConfig("{ port: ")
    await expect(resolveConfig(paths, {}, {})).rejects.toMatchObject({ code: "CONFIG_INVALID" })
    const ok = await withConfig({})
    await expect(resolveConfig(ok, {}, { FEDHUB_PORT: "seventy" })).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      detail: expect.stringContaining("FEDHUB_PORT"),
    })
    await expect(resolveConfig(ok, {}, { FEDHUB_PORT: "70000" })).rejects.toMatchObject({ code: "CONFIG_INVALID" })
  })
})
