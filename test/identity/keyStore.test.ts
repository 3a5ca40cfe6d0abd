import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inspect } from "node:util"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  createIdentity,
  fromBase64,
  hasIdentity,
  Identity,
  IDENTITY_FILE,
  keyPairFromSeed,
  loadIdentity,
  nodeIdFromPublicKey,
  toBase64,
  type IdentityFile,
} from "../../src/identity/index.ts"

const posix = process.platform !== "win32"
let dir: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fedhub-identity-"))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const readIdentityFile = async (home: string): Promise<IdentityFile> =>
  JSON.parse(await readFile(join(home, IDENTITY_FILE), "utf8")) as IdentityFile
const writeIdentityFile = (home: string, content: unknown) =>
  writeFile(join(home, IDENTITY_FILE), typeof content === "string" ? content : JSON.stringify(content), { mode: 0o600 })

describe("key store", () => {
  it("writes identity.json with the documented fields", async () => {
    const id = await createIdentity(dir, { name: "lab hub" })
    const file = await readIdentityFile(dir)
    expect(Object.keys(file).sort()).toEqual(["createdAt", "name", "nodeId", "publicKey", "seed", "version"])
    expect(file).toMatchObject({ version: 1, nodeId: id.nodeId, name: "lab hub", publicKey: toBase64(id.publicKey) })
    expect(fromBase64(file.seed)).toHaveLength(32)
    expect(keyPairFromSeed(fromBase64(file.seed)).publicKey).toEqual(id.publicKey)
    expect(new Date(file.createdAt).toISOString()).toBe(file.createdAt)
  })

  it.skipIf(!posix)("writes the file with mode 0600", async () => {
    await createIdentity(dir, {})
    expect((await stat(join(dir, IDENTITY_FILE))).mode & 0o777).toBe(0o600)
  })

  it.skipIf(!posix)("creates a missing home with mode 0700", async () => {
    const home = join(dir, "nested", "home")
    await createIdentity(home, {})
    expect((await stat(home)).mode & 0o777).toBe(0o700)
    expect(await hasIdentity(home)).toBe(true)
  })

  it("leaves no temporary file behind", async () => {
    await createIdentity(dir, {})
    expect(await readdir(dir)).toEqual([IDENTITY_FILE])
  })

  it("refuses a second create with KEY_EXISTS and keeps the first key", async () => {
    const first = await createIdentity(dir, {})
    await expect(createIdentity(dir, {})).rejects.toMatchObject({ code: "KEY_EXISTS" })
    expect((await loadIdentity(dir)).nodeId).toBe(first.nodeId)
    expect(await readdir(dir)).toEqual([IDENTITY_FILE])
  })

  it("lets only one of two concurrent creates win", async () => {
    const results = await Promise.allSettled([createIdentity(dir, {}), createIdentity(dir, {})])
    const won = results.filter((r) => r.status === "fulfilled")
    expect(won).toHaveLength(1)
    expect(results.find((r) => r.status === "rejected")).toMatchObject({ reason: { code: "KEY_EXISTS" } })
    expect((await loadIdentity(dir)).nodeId).toBe((won[0] as PromiseFulfilledResult<Identity>).value.nodeId)
  })

  it("replaces the identity when forced", async () => {
    const first = await createIdentity(dir, {})
    const second = await createIdentity(dir, { force: true, name: "new" })
    expect(second.nodeId).not.toBe(first.nodeId)
    const loaded = await loadIdentity(dir)
    expect(loaded.nodeId).toBe(second.nodeId)
    expect(loaded.name).toBe("new")
  })

  it("loads back the same node id, name and signing key", async () => {
    const created = await createIdentity(dir, { name: "alpha" })
    const loaded = await loadIdentity(dir)
    expect(loaded).toBeInstanceOf(Identity)
    expect(loaded.nodeId).toBe(created.nodeId)
    expect(loaded.name).toBe("alpha")
    const msg = new TextEncoder().encode("m")
    expect(loaded.sign(msg)).toEqual(created.sign(msg))
  })

  it("names a default name after the node id", async () => {
    const id = await createIdentity(dir, {})
    expect(id.name).toBe(`hub-${id.nodeId.slice(3, 11)}`)
  })

  it("refuses an invalid name before writing anything", async () => {
    await expect(createIdentity(dir, { name: "bad\nname" })).rejects.toMatchObject({ code: "INVALID_INPUT" })
    expect(await hasIdentity(dir)).toBe(false)
  })

  it("refuses a home that is a file with a typed error", async () => {
    const notDir = join(dir, "file")
    await writeFile(notDir, "x")
    await expect(createIdentity(notDir, {})).rejects.toMatchObject({ code: "CONFIG_INVALID" })
    await expect(loadIdentity(notDir)).rejects.toMatchObject({ code: "KEY_MISSING" })
    expect(await hasIdentity(notDir)).toBe(false)
  })

  it("reports a home without identity as KEY_MISSING", async () => {
    expect(await hasIdentity(dir)).toBe(false)
    await expect(loadIdentity(dir)).rejects.toMatchObject({ code: "KEY_MISSING" })
    await expect(loadIdentity(join(dir, "absent"))).rejects.toMatchObject({ code: "KEY_MISSING" })
  })

  it.skipIf(!posix)("tightens a looser file mode to 0600 on load", async () => {
    await createIdentity(dir, {})
    await chmod(join(dir, IDENTITY_FILE), 0o644)
    await loadIdentity(dir)
    expect((await stat(join(dir, IDENTITY_FILE))).mode & 0o777).toBe(0o600)
  })

  describe("corrupt files", () => {
    const valid = (): IdentityFile => {
      const seed = new Uint8Array(32).fill(9)
      const { publicKey } = keyPairFromSeed(seed)
      return {
        version: 1,
        nodeId: nodeIdFromPublicKey(publicKey),
        name: "n",
        publicKey: toBase64(publicKey),
        seed: toBase64(seed),
        createdAt: "2024-01-01T00:00:00.000Z",
      }
    }
    const other = keyPairFromSeed(new Uint8Array(32).fill(8)).publicKey
    const cases: [string, unknown, RegExp][] = [
      ["empty", "", /not valid JSON/],
      ["truncated JSON", '{"version":1,', /not valid JSON/],
      ["an array", "[]", /not a JSON object/],
      ["null", "null", /not a JSON object/],
      ["version 2", { ...valid(), version: 2 }, /unsupported version 2/],
      ["no seed", { ...valid(), seed: undefined }, /"seed" is missing/],
      ["a numeric name", { ...valid(), name: 5 }, /"name" is missing or not a string/],
      ["a seed that is not base64", { ...valid(), seed: "***" }, /"seed" is not base64/],
      ["a 16-byte seed", { ...valid(), seed: toBase64(new Uint8Array(16)) }, /"seed" is 16 bytes/],
      ["a public key of another seed", { ...valid(), publicKey: toBase64(other) }, /publicKey does not match seed/],
      ["a node id of another key", { ...valid(), nodeId: nodeIdFromPublicKey(other) }, /nodeId does not match key/],
      ["a malformed node id", { ...valid(), nodeId: "fh1xyz" }, /nodeId does not match key/],
      ["an empty name", { ...valid(), name: "" }, /name/],
    ]
    it.each(cases)("refuses a file with %s as CONFIG_INVALID naming the file", async (_label, content, message) => {
      await writeIdentityFile(dir, content)
      const err = await loadIdentity(dir).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toMatchObject({ code: "CONFIG_INVALID" })
      const detail = (err as { detail: string }).detail
      expect(detail).toMatch(message)
      expect(detail).toContain(join(dir, IDENTITY_FILE))
    })

    it("accepts the valid baseline file", async () => {
      await writeIdentityFile(dir, valid())
      expect((await loadIdentity(dir)).nodeId).toBe(valid().nodeId)
    })
  })
})

describe("identity secrecy", () => {
  it("never shows the seed or secret key in JSON or util.inspect", async () => {
    const id = await createIdentity(dir, { name: "secret-keeper" })
    const file = await readIdentityFile(dir)
    const seed = fromBase64(file.seed)
    const { secretKey } = keyPairFromSeed(seed)
    const secrets = [
      file.seed,
      file.seed.replace(/=+$/, ""),
      toBase64(secretKey).replace(/=+$/, ""),
      Buffer.from(seed).toString("hex"),
      Buffer.from(secretKey).toString("hex"),
      Buffer.from(seed).toString("base64url"),
    ]
    const shown = [
      JSON.stringify(id),
      JSON.stringify({ wrapped: [id] }),
      inspect(id),
      inspect(id, { showHidden: true, depth: Infinity, getters: true }),
      inspect({ nested: { id } }, { depth: Infinity }),
      String(id),
      `${Object.keys(id).join(",")}`,
    ]
    for (const text of shown) for (const secret of secrets) expect(text).not.toContain(secret)
    expect(JSON.parse(JSON.stringify(id))).toEqual({ nodeId: id.nodeId, name: "secret-keeper" })
    expect(inspect(id)).toContain(id.nodeId)
    // bytes of the seed, printed as a decimal list as inspect would show a Uint8Array
    expect(inspect(id, { showHidden: true })).not.toContain(Array.from(seed.slice(0, 8)).join(", "))
  })

  it("hands out a copy of the public key, so callers cannot alter the identity", () => {
    const id = Identity.generate()
    const pk = id.publicKey
    pk.fill(0)
    expect(nodeIdFromPublicKey(id.publicKey)).toBe(id.nodeId)
  })
})
