/**
 * A hub's home folder: identity, admin token, config, storage and the run file
 * that tells the CLI where the running hub listens.
 */
import { randomBytes } from "node:crypto"
import { mkdir, readFile, rm, writeFile, chmod, rename } from "node:fs/promises"
import { join, resolve } from "node:path"
import { FedhubError } from "../errors.ts"

export const DEFAULT_HOME = ".fedhub"

export interface HomePaths {
  home: string
  identity: string
  config: string
  token: string
  data: string
  run: string
}

/** The home: --home, else $FEDHUB_HOME, else ./.fedhub. */
export function resolveHome(flag?: string, env: NodeJS.ProcessEnv = process.env): HomePaths {
  const home = resolve(flag ?? env.FEDHUB_HOME ?? DEFAULT_HOME)
  return {
    home,
    identity: join(home, "identity.json"),
    config: join(home, "config.json"),
    token: join(home, "admin-token"),
    data: join(home, "data"),
    run: join(home, "hub.json"),
  }
}

/** Writes a file readable by its owner only, atomically. */
export async function writePrivate(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, content, { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, path)
}

/** The admin token local clients use; made on first use, kept 0600. */
export async function ensureAdminToken(paths: HomePaths): Promise<string> {
  try {
    const token = (await readFile(paths.token, "utf8")).trim()
    if (token.length >= 32) {
      await chmod(paths.token, 0o600)
      return token
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
  }
  await mkdir(paths.home, { recursive: true, mode: 0o700 })
  const token = randomBytes(32).toString("base64url")
  await writePrivate(paths.token, `${token}\n`)
  return token
}

/** Reads the admin token without making one. */
export async function readAdminToken(paths: HomePaths): Promise<string> {
  try {
    return (await readFile(paths.token, "utf8")).trim()
  } catch {
    throw new FedhubError("UNAUTHORIZED", `no admin token in ${paths.home} (start the hub once, or pass --token)`)
  }
}

/** What a running hub writes to hub.json. */
export interface RunInfo {
  pid: number
  url: string
  nodeId: string
  startedAt: number
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** The running hub of this home, if its process is alive (a stale run file is ignored). */
export async function readRunInfo(paths: HomePaths): Promise<RunInfo | undefined> {
  let info: RunInfo
  try {
    info = JSON.parse(await readFile(paths.run, "utf8")) as RunInfo
  } catch {
    return undefined
  }
  if (typeof info?.pid !== "number" || typeof info.url !== "string") return undefined
  return alive(info.pid) ? info : undefined
}

/** Claims the home for this process; HOME_LOCKED if another live hub holds it. */
export async function claimHome(paths: HomePaths, info: RunInfo): Promise<void> {
  const running = await readRunInfo(paths)
  if (running && running.pid !== process.pid)
    throw new FedhubError("HOME_LOCKED", `a hub (pid ${running.pid}) is running on ${paths.home} at ${running.url}`)
  await mkdir(paths.home, { recursive: true, mode: 0o700 })
  await writePrivate(paths.run, JSON.stringify(info, null, 2) + "\n")
}

/** Releases the home if this process holds it. */
export async function releaseHome(paths: HomePaths): Promise<void> {
  const running = await readRunInfo(paths)
  if (running?.pid === process.pid) await rm(paths.run, { force: true })
}
