/** The CLI end to end: init, start, doc commands through a hub and --offline, restarts. */
import { loadIdentity } from "../../src/identity/index.ts"
import { stat, readFile, rm } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { verifyDescriptor } from "../../src/federation/descriptor.ts"
import { fedhub, startHubProcess, type HubProcess } from "../helpers/cli.ts"
import { tempDir } from "../helpers/hubs.ts"

const homes: string[] = []
const procs: HubProcess[] = []
const newHome = async () => {
  const h = await tempDir("fedhub-cli-")
  homes.push(h)
  return h
}

afterAll(async () => {
  await Promise.allSettled(procs.map(p => p.stop("SIGKILL")))
  await Promise.allSettled(homes.map(h => rm(h, { recursive: true, force: true })))
})

const json = <T>(s: string): T => JSON.parse(s) as T

describe("fedhub CLI", () => {
  it("prints help from the checkout", async () => {
    const r = await fedhub(["--help"])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("init")
    expect(r.stdout).toContain("doc")
  })

  it("init makes a 0600 identity, prints the node id, never the key, and refuses to overwrite it", async () => {
    const home = await newHome()
    const r = await fedhub(["init", "--home", home, "--name", "alpha"])
    expect(r.code).toBe(0)
    const nodeId = /initialized (fh1[a-z2-7]{52})/.exec(r.stdout)?.[1]
    const file = join(home, "identity.json")
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const saved = json<{ seed: string; nodeId: string }>(await readFile(file, "utf8"))
    expect(nodeId).toBe(saved.nodeId) // the printed id is the one stored
    expect(r.stdout + r.stderr).not.toContain(saved.seed)
    const again = await fedhub(["init", "--home", home])
    expect(again.code).toBe(5)
    expect(again.stderr).toContain("KEY_EXISTS")
    // the name given at init is the hub's name unless configured otherwise
    const hub = await startHubProcess(["--home", home])
    procs.push(hub)
    expect(hub.nodeId).toBe(nodeId)
    const descriptor = (await (await fetch(`${hub.localUrl}/api/node`)).json()) as { payload: { name: string } }
    expect(descriptor.payload.name).toBe("alpha")
    await hub.stop()
  })

  it("start serves a signed descriptor and health, and docs round-trip through the running hub", async () => {
    const home = await newHome()
    const hub = await startHubProcess(["--home", home, "--name", "beta"])
    procs.push(hub)
    expect(hub.line).toMatch(/^fedhub fh1[a-z2-7]{52} listening on https:\/\/127\.0\.0\.1:\d+/)

    const descriptor = await (await fetch(`${hub.localUrl}/api/node`)).json()
    const verified = verifyDescriptor(descriptor)
    expect(verified.payload.id).toBe(hub.nodeId)
    expect(verified.payload.name).toBe("beta")
    expect((await fetch(`${hub.localUrl}/healthz`)).status).toBe(200)

    const created = await fedhub(["doc", "create", '{"title":"hello"}', "--home", home, "--json"])
    expect(created.code, created.stderr).toBe(0)
    const { url, heads: firstHeads } = json<{ url: string; heads: string[] }>(created.stdout)
    expect(url).toMatch(/^automerge:/)

    const put = await fedhub(["doc", "put", url, "title", "hello, world", "-m", "retitle", "--home", home, "--json"])
    expect(put.code, put.stderr).toBe(0)
    const secondHeads = json<{ heads: string[] }>(put.stdout).heads

    const log = await fedhub(["doc", "log", url, "--home", home, "--json"])
    expect(log.code).toBe(0)
    const entries = json<{ hash: string; message: string; ops: number }[]>(log.stdout)
    expect(entries).toHaveLength(2)
    expect(entries[0]!.message).toContain("retitle")
    expect(entries[0]!.hash).toBe(secondHeads[0])
    const text = await fedhub(["doc", "log", url, "--home", home])
    expect(text.stdout.trim().split("\n")).toHaveLength(2)

    const old = await fedhub(["doc", "show", url, "--at", firstHeads.join(","), "--home", home, "--json"])
    expect(json<{ content: unknown }>(old.stdout).content).toEqual({ title: "hello" })

    const diff = await fedhub(["doc", "diff", url, firstHeads.join(","), secondHeads.join(","), "--home", home, "--json"])
    expect(diff.code).toBe(0)
    expect(json<{ path: string; value: unknown }[]>(diff.stdout)).toContainEqual(
      expect.objectContaining({ path: "/title", value: "hello, world" }),
    )

    const none = await fedhub(["doc", "conflicts", url, "--home", home])
    expect(none.stdout).toContain("no conflicts")

    // bad input: clear message, non-zero exit, nothing changed
    const badUrl = await fedhub(["doc", "log", "automerge:nope", "--home", home])
    expect(badUrl.code).toBe(2)
    expect(badUrl.stderr).toContain("BAD_DOC_URL")
    const badHeads = await fedhub(["doc", "show", url, "--at", "zzz", "--home", home])
    expect(badHeads.code).toBe(2)
    expect(badHeads.stderr).toContain("BAD_HEADS")
    const unknownHeads = await fedhub(["doc", "show", url, "--at", "ab".repeat(32), "--home", home])
    expect(unknownHeads.code).toBe(2)
    expect(unknownHeads.stderr).toContain("BAD_HEADS")
    const unknown = await fedhub(["doc", "log", "automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu", "--home", home])
    expect(unknown.code).toBe(4)
    expect(unknown.stderr).toContain("DOC_NOT_FOUND")
    const locked = await fedhub(["doc", "log", url, "--home", home, "--offline"])
    expect(locked.code).toBe(5)
    expect(locked.stderr).toContain("HOME_LOCKED")
    const after = await fedhub(["doc", "log", url, "--home", home, "--json"])
    expect(json<unknown[]>(after.stdout)).toHaveLength(2)
  })

  it("a change made just before SIGTERM is there after the restart, and --offline reads it", async () => {
    const home = await newHome()
    const hub = await startHubProcess(["--home", home])
    procs.push(hub)
    const created = json<{ url: string }>((await fedhub(["doc", "create", "--home", home, "--json"])).stdout)
    const put = await fedhub(["doc", "put", created.url, "last.word", "42", "--home", home])
    expect(put.code, put.stderr).toBe(0)
    expect(await hub.stop("SIGTERM")).toBe(0)

    const offline = await fedhub(["doc", "show", created.url, "--home", home, "--offline", "--json"])
    expect(offline.code, offline.stderr).toBe(0)
    expect(json<{ content: unknown }>(offline.stdout).content).toEqual({ last: { word: 42 } })
    const offPut = await fedhub(["doc", "put", created.url, "offline", "true", "--home", home, "--offline"])
    expect(offPut.code, offPut.stderr).toBe(0)

    const again = await startHubProcess(["--home", home])
    procs.push(again)
    expect(again.nodeId).toBe(hub.nodeId)
    const shown = await fedhub(["doc", "show", created.url, "--home", home, "--json"])
    expect(json<{ content: unknown }>(shown.stdout).content).toEqual({ last: { word: 42 }, offline: true })
    expect(await again.stop("SIGINT")).toBe(0)
  })

  it("two hub processes edited apart converge, and doc conflicts shows the concurrent edit", async () => {
    const homeA = await newHome()
    const homeB = await newHome()
    const a = await startHubProcess(["--home", homeA])
    procs.push(a)
    let b = await startHubProcess(["--home", homeB, "--peer", a.url])
    procs.push(b)
    const bId = (await loadIdentity(homeB)).nodeId
    // b writes too, so it is a writer (public readers may only read)
    const { url } = json<{ url: string }>(
      (await fedhub(["doc", "create", '{"title":"v1"}', "--share", "public", "--writers", bId, "--home", homeA, "--json"])).stdout,
    )
    // b fetches it from a (its peer) and stores it
    const fetched = await fedhub(["doc", "show", url, "--home", homeB, "--json"])
    expect(fetched.code, fetched.stderr).toBe(0)
    expect(await b.stop()).toBe(0)

    expect((await fedhub(["doc", "put", url, "title", "from a", "--home", homeA])).code).toBe(0)
    expect((await fedhub(["doc", "put", url, "title", "from b", "--home", homeB, "--offline"])).code).toBe(0)
    expect((await fedhub(["doc", "put", url, "note", "b was offline", "--home", homeB, "--offline"])).code).toBe(0)

    b = await startHubProcess(["--home", homeB, "--peer", a.url])
    procs.push(b)
    // wait until a has b's offline edits (bounded polling across processes)
    const deadline = Date.now() + 20_000
    let conflicts: { path: string; values: { value: unknown; actor: string }[] }[] = []
    while (Date.now() < deadline) {
      const r = await fedhub(["doc", "conflicts", url, "--home", homeA, "--json"])
      conflicts = json(r.stdout)
      if (conflicts.length > 0) break
    }
    expect(conflicts).toHaveLength(1)
    expect(conflicts[0]!.path).toBe("/title")
    expect(conflicts[0]!.values.map(v => v.value).sort()).toEqual(["from a", "from b"])
    const text = await fedhub(["doc", "conflicts", url, "--home", homeA])
    expect(text.stdout).toContain("/title")
    const shown = json<{ content: { note?: string } }>((await fedhub(["doc", "show", url, "--home", homeA, "--json"])).stdout)
    expect(shown.content.note).toBe("b was offline")
  })
})
