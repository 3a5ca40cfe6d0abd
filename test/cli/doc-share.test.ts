/** Sharing from the CLI against a running hub: create --share, share, unshare, policy. */
import { rm } from "node:fs/promises"
import { afterAll, describe, expect, it } from "vitest"
import { Identity } from "../../src/identity/index.ts"
import { fedhub, startHubProcess, type HubProcess } from "../helpers/cli.ts"
import { tempDir } from "../helpers/hubs.ts"

const procs: HubProcess[] = []
const homes: string[] = []
afterAll(async () => {
  await Promise.allSettled(procs.map(p => p.stop()))
  await Promise.allSettled(homes.map(h => rm(h, { recursive: true, force: true })))
})

const json = <T>(s: string): T => JSON.parse(s) as T

describe("fedhub doc share", () => {
  it("creates private or shared documents and changes who may read and write them", async () => {
    const home = await tempDir("fedhub-share-")
    homes.push(home)
    procs.push(await startHubProcess(["--home", home]))
    const friend = Identity.generate().nodeId
    const other = Identity.generate().nodeId

    const priv = json<{ url: string }>((await fedhub(["doc", "create", '{"a":1}', "--home", home, "--json"])).stdout)
    const shown = await fedhub(["doc", "policy", priv.url, "--home", home, "--json"])
    expect(shown.code, shown.stderr).toBe(0)
    expect(json<{ readers: string[]; writers: string[]; legacy: boolean }>(shown.stdout)).toMatchObject({ readers: [], writers: [], legacy: false })

    const pub = json<{ url: string }>((await fedhub(["doc", "create", '{"b":1}', "--share", "public", "--home", home, "--json"])).stdout)
    expect(json<{ readers: string[] }>((await fedhub(["doc", "policy", pub.url, "--home", home, "--json"])).stdout).readers).toEqual(["public"])

    const shared = await fedhub(["doc", "share", priv.url, friend, other, "--home", home, "--json"])
    expect(shared.code, shared.stderr).toBe(0)
    expect(json<{ readers: string[]; version: number }>(shared.stdout)).toMatchObject({ readers: [friend, other].sort(), version: 2 })
    const writer = await fedhub(["doc", "share", priv.url, friend, "--write", "--home", home, "--json"])
    expect(json<{ writers: string[] }>(writer.stdout).writers).toEqual([friend])
    const cut = await fedhub(["doc", "unshare", priv.url, friend, "--home", home])
    expect(cut.code, cut.stderr).toBe(0)
    expect(cut.stdout).toContain(`readers: ${other}`)
    expect(cut.stdout).toContain("writers: -")
    expect(cut.stdout).toMatch(/policy v4 of fh1/)

    const bad = await fedhub(["doc", "share", priv.url, "not-a-node", "--home", home])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/SCHEMA_INVALID: \/readers\/0/)
  }, 60_000)
})
