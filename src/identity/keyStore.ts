/**
 * Persists a node's identity as `<home>/identity.json` (mode 0600, written
 * atomically) and loads it back, refusing files that are corrupt or inconsistent.
 */
import { randomBytes } from "node:crypto"
import { constants as fsConstants } from "node:fs"
import { chmod, link, lstat, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises"
import { join } from "node:path"
import { FedhubError } from "../errors.ts"
import { fromBase64, toBase64 } from "./encoding.ts"
import { Identity } from "./Identity.ts"
import { keyPairFromSeed, SEED_LENGTH } from "./keys.ts"
import { nodeIdFromPublicKey } from "./nodeId.ts"

/** File name of the identity inside a hub home directory. */
export const IDENTITY_FILE = "identity.json"

/** On-disk format of identity.json (version 1). */
export interface IdentityFile {
  version: 1
  nodeId: string
  name: string
  publicKey: string
  seed: string
  createdAt: string
}

const FILE_MODE = 0o600
const DIR_MODE = 0o700
const POSIX = process.platform !== "win32"

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code

/** Options for `createIdentity`. */
export interface CreateIdentityOptions {
  /** Display name; defaults to "hub-" and the start of the node id. */
  name?: string
  /** Replace an existing identity (its key is lost for good). */
  force?: boolean
}

const identityPath = (home: string): string => {
  if (typeof home !== "string" || home.length === 0) throw new FedhubError("INVALID_INPUT", "home is a non-empty path")
  return join(home, IDENTITY_FILE)
}

/** Flushes a directory entry to disk where the platform allows it (best effort). */
async function syncDir(dir: string): Promise<void> {
  if (!POSIX) return
  try {
    const fh = await open(dir, fsConstants.O_RDONLY)
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  } catch {
    // some filesystems refuse fsync on directories; the rename itself is still atomic
  }
}

/**
 * Creates a new identity in `home` (made with mode 0700 if missing) and writes it
 * with mode 0600 via a temp file and an atomic link/rename. Refuses with KEY_EXISTS
 * if one exists, unless `force`.
 */
export async function createIdentity(home: string, opts: CreateIdentityOptions = {}): Promise<Identity> {
  const file = identityPath(home)
  const seed = new Uint8Array(randomBytes(SEED_LENGTH))
  const identity = Identity.fromSeed(seed, opts.name)
  try {
    return await writeNewIdentity(home, file, identity, seed, opts.force === true)
  } catch (e) {
    if (e instanceof FedhubError) throw e
    throw new FedhubError("CONFIG_INVALID", `cannot write ${file} (${errno(e) ?? String(e)})`, { file })
  } finally {
    seed.fill(0)
  }
}

/**
 * Writes the identity of `seed` as `<home>/<fileName>` (0600, temp file, fsync, atomic rename,
 * replacing one there): how a key rotation stages its new key before it is swapped in.
 */
export async function writeIdentityFile(home: string, fileName: string, seed: Uint8Array, name?: string): Promise<Identity> {
  const identity = Identity.fromSeed(seed, name)
  return writeNewIdentity(home, join(home, fileName), identity, seed, true)
}

/** The filesystem half of createIdentity: temp file (0600), fsync, then link (no clobber) or rename (force). */
async function writeNewIdentity(home: string, file: string, identity: Identity, seed: Uint8Array, force: boolean): Promise<Identity> {
  await mkdir(home, { recursive: true, mode: DIR_MODE })
  if (!force && (await hasIdentity(home)))
    throw new FedhubError("KEY_EXISTS", `${file} already exists (use force to replace it)`, { file })
  const content: IdentityFile = {
    version: 1,
    nodeId: identity.nodeId,
    name: identity.name,
    publicKey: toBase64(identity.publicKey),
    seed: toBase64(seed),
    createdAt: new Date().toISOString(),
  }
  const tmp = join(home, `.${IDENTITY_FILE}.${randomBytes(6).toString("hex")}.tmp`)
  const fh = await open(tmp, "wx", FILE_MODE)
  try {
    try {
      await fh.writeFile(`${JSON.stringify(content, null, 2)}\n`, "utf8")
      if (POSIX) await fh.chmod(FILE_MODE) // in case an odd umask/ACL widened it
      await fh.sync()
    } finally {
      await fh.close()
    }
    if (force) {
      await rename(tmp, file)
    } else {
      // link() never replaces an existing file, so a concurrent create cannot be clobbered
      try {
        await link(tmp, file)
      } catch (e) {
        if (errno(e) === "EEXIST")
          throw new FedhubError("KEY_EXISTS", `${file} already exists (use force to replace it)`, { file })
        if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"].includes(errno(e) ?? "")) throw e
        await rename(tmp, file) // filesystem without hard links: checked above, rename is still atomic
      }
    }
  } finally {
    await unlink(tmp).catch(() => undefined)
  }
  await syncDir(home)
  return identity
}

/** True when `home` holds an identity file (whatever its content). */
export async function hasIdentity(home: string): Promise<boolean> {
  const file = identityPath(home)
  try {
    await lstat(file)
    return true
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return false
    throw new FedhubError("CONFIG_INVALID", `cannot check ${file} (${errno(e) ?? String(e)})`, { file })
  }
}

/**
 * Loads the identity of `home`: KEY_MISSING if there is none, CONFIG_INVALID (with
 * the file and the problem) if it is unreadable, corrupt, or its nodeId or public
 * key does not match its seed. Tightens a looser file mode to 0600 where it can.
 */
export async function loadIdentity(home: string): Promise<Identity> {
  const file = identityPath(home)
  const invalid = (why: string): never => {
    throw new FedhubError("CONFIG_INVALID", `${file}: ${why}`, { file })
  }
  let text: string
  try {
    text = await readFile(file, "utf8")
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR")
      throw new FedhubError("KEY_MISSING", `no identity at ${file} (run fedhub init)`, { file })
    return invalid(`cannot read (${errno(e) ?? String(e)})`)
  }
  if (POSIX) {
    // best effort: a read-only mount or a file owned by someone else still loads
    try {
      const { mode } = await stat(file)
      if ((mode & 0o077) !== 0) await chmod(file, FILE_MODE)
    } catch {
      // nothing to do; the key is usable either way
    }
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return invalid("not valid JSON")
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return invalid("not a JSON object")
  const d = data as Record<string, unknown>
  if (d.version !== 1) invalid(`unsupported version ${JSON.stringify(d.version) ?? "undefined"}`)
  for (const key of ["nodeId", "name", "publicKey", "seed", "createdAt"] as const)
    if (typeof d[key] !== "string") invalid(`"${key}" is missing or not a string`)
  const decode = (key: "seed" | "publicKey"): Uint8Array => {
    try {
      const bytes = fromBase64(d[key] as string)
      if (bytes.length !== 32) invalid(`"${key}" is ${bytes.length} bytes, expected 32`)
      return bytes
    } catch (e) {
      if (e instanceof FedhubError && e.code === "CONFIG_INVALID") throw e
      return invalid(`"${key}" is not base64`)
    }
  }
  const seed = decode("seed")
  const publicKey = decode("publicKey")
  const derived = keyPairFromSeed(seed).publicKey
  if (!Buffer.from(derived).equals(Buffer.from(publicKey))) invalid("publicKey does not match seed")
  if (d.nodeId !== nodeIdFromPublicKey(derived)) invalid("nodeId does not match key")
  let identity: Identity
  try {
    identity = Identity.fromSeed(seed, d.name as string)
  } catch (e) {
    return invalid(e instanceof FedhubError ? e.detail : String(e))
  } finally {
    seed.fill(0)
  }
  return identity
}
