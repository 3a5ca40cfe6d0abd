/**
 * A real PostgreSQL server for tests: `initdb` in a temp dir, `pg_ctl start` listening on a
 * Unix socket in that dir only (no TCP port), run as an unprivileged user when we are root
 * (initdb refuses root). Binaries come from Debian's /usr/lib/postgresql/<v>/bin or PATH.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { chown, mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, beforeAll } from "vitest"

export interface TestPostgres {
  /** The folder holding the socket (the `host` of a connection URL). */
  socketDir: string
  /** A connection URL for a database on this server (`postgres` when omitted). */
  url: (database?: string) => string
  /** Creates a fresh empty database and returns its URL. */
  createDatabase: (prefix?: string) => Promise<string>
  stop: () => Promise<void>
}

const USER = "postgres"

/** The folder with initdb and pg_ctl: Debian's versioned folder (newest first), else PATH. */
export function postgresBinDir(): string | undefined {
  const debian = "/usr/lib/postgresql"
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter(v => existsSync(join(debian, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a))
    if (versions[0]) return join(debian, versions[0], "bin")
  }
  const which = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" })
  const path = which.stdout.trim()
  return which.status === 0 && path ? path.slice(0, path.lastIndexOf("/")) : undefined
}

const isRoot = (): boolean => process.getuid?.() === 0

/** Runs a PostgreSQL binary, as the unprivileged user when we are root. */
function runAs(bin: string, args: string[]): void {
  const cmd = isRoot() ? ["runuser", "-u", USER, "--", bin, ...args] : [bin, ...args]
  execFileSync(cmd[0]!, cmd.slice(1), { stdio: "pipe", timeout: 60_000 })
}

function ensureUser(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined
  const id = (flag: string) => spawnSync("id", [flag, USER], { encoding: "utf8" })
  if (id("-u").status !== 0) execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER])
  return { uid: Number(id("-u").stdout.trim()), gid: Number(id("-g").stdout.trim()) }
}

let serial = 0

/** Starts a throwaway server; `stop()` shuts it down and removes its folder. */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir()
  if (!bin) throw new Error("PostgreSQL binaries not found (apt-get install postgresql; .ci/run does it)")
  const dir = await mkdtemp(join(tmpdir(), "fedhub-pg-"))
  const owner = ensureUser()
  if (owner) await chown(dir, owner.uid, owner.gid)
  const data = join(dir, "data")
  runAs(join(bin, "initdb"), ["-D", data, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"])
  const options = `-c listen_addresses='' -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=on -c max_connections=200`
  runAs(join(bin, "pg_ctl"), ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "-o", options, "start"])
  const url = (database = "postgres") => `postgresql://${USER}@/${database}?host=${encodeURIComponent(dir)}`
  let stopped = false
  return {
    socketDir: dir,
    url,
    createDatabase: async (prefix = "t") => {
      const name = `${prefix}_${process.pid}_${++serial}`
      const client = new pg.Client({ connectionString: url() })
      await client.connect()
      try {
        await client.query(`CREATE DATABASE ${name}`)
      } finally {
        await client.end()
      }
      return url(name)
    },
    stop: async () => {
      if (stopped) return
      stopped = true
      try {
        runAs(join(bin, "pg_ctl"), ["-D", data, "-w", "-t", "60", "-m", "fast", "stop"])
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  }
}

/**
 * A PostgreSQL server for one test file: started before its tests, stopped after them,
 * and what the tests registered with `closeLater` closed first, newest first.
 */
export function postgresForFile(): { createDatabase: TestPostgres["createDatabase"]; closeLater: (close: () => Promise<unknown>) => void } {
  let server: TestPostgres | undefined
  const closers: (() => Promise<unknown>)[] = []
  beforeAll(async () => {
    server = await startPostgres()
  }, 90_000)
  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => {})
    await server?.stop()
  }, 60_000)
  return { createDatabase: prefix => server!.createDatabase(prefix), closeLater: close => void closers.push(close) }
}
