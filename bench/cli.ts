/**
 * How fast the `fedhub` command answers: `--help`, `peers list` and `doc show <url>`
 * against a running hub, each spawned as a user runs it (bin/fedhub, through its
 * shebang), wall time from spawn to exit; `git --version` in the same run is the floor
 * for "a command that answers at once". Rows "(sources)" run the same commands with
 * FEDHUB_FROM_SOURCE=1, i.e. through tsx as bin/fedhub did before dist/ existed.
 *
 * The bench builds dist/ first when it is missing or stale, and says so if the sources
 * changed while it ran (bin/fedhub then fell back to tsx, and the numbers show it).
 *
 * `npm run bench -- cli`; FEDHUB_BENCH_CLI_RUNS (default 20) runs per compiled command,
 * FEDHUB_BENCH_CLI_SOURCE_RUNS (default 5) per "(sources)" command.
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { distIsFresh, ROOT } from "../scripts/fingerprint.mjs"
import { ms, printTable, quantile } from "./stats.ts"

const BIN = join(ROOT, "bin/fedhub")
/** The hub stops itself when its stdin (a pipe from this process) ends: never outlives the bench. */
const CHILD_HOOK = 'data:text/javascript,process.stdin.on("end",()=>process.kill(process.pid,"SIGTERM")).resume().unref()'
const TARGET_MS = 300

/** Environment without the caller's FEDHUB_* settings, plus `extra`. */
const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("FEDHUB_"))),
  ...extra,
})

/** Runs a command to completion; resolves with its wall time in ms (rejects on a non-zero exit). */
function timeRun(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", c => (stderr += c))
    child.on("error", reject)
    child.on("close", code => {
      const elapsed = performance.now() - t0
      if (code === 0) resolve(elapsed)
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr}`))
    })
  })
}

interface Hub {
  url: string
  stop: () => Promise<void>
}

/** `fedhub start` on port 0 in `home`; resolves once it printed its URL line. */
function startHub(home: string): Promise<Hub> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", CHILD_HOOK, BIN, "start", "--home", home, "--port", "0", "--log-level", "warn"], {
      env: cleanEnv(),
      stdio: ["pipe", "pipe", "pipe"],
    })
    let out = ""
    let err = ""
    const exited = new Promise<void>(r => child.on("exit", () => r()))
    child.stderr.on("data", c => (err += c))
    child.on("error", reject)
    void exited.then(() => reject(new Error(`hub exited early: ${err}`)))
    child.stdout.on("data", c => {
      out += c
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m)
        resolve({
          url: m[1]!,
          stop: async () => {
            child.stdin.end()
            if (child.exitCode === null) child.kill("SIGTERM")
            await exited
          },
        })
    })
  })
}

interface Case {
  label: string
  runs: string
  n: number
  cmd: string
  args: string[]
  env: NodeJS.ProcessEnv
}

export async function benchCli(
  n = Number(process.env.FEDHUB_BENCH_CLI_RUNS ?? 20),
  sourceN = Number(process.env.FEDHUB_BENCH_CLI_SOURCE_RUNS ?? 5),
): Promise<void> {
  if (!distIsFresh()) {
    console.log("cli: dist/ is missing or older than the sources; building it")
    execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs")], { stdio: "inherit" })
  }
  const home = await mkdtemp(join(tmpdir(), "fedhub-bench-cli-"))
  const hub = await startHub(home)
  try {
    const token = (await readFile(join(home, "admin-token"), "utf8")).trim()
    const res = await fetch(`${hub.url}/api/docs`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ content: { title: "bench", items: [1, 2, 3] } }),
    })
    if (!res.ok) throw new Error(`POST /api/docs: HTTP ${res.status} ${await res.text()}`)
    const { url } = (await res.json()) as { url: string }

    const env = cleanEnv({ FEDHUB_HOME: home })
    const source = cleanEnv({ FEDHUB_HOME: home, FEDHUB_FROM_SOURCE: "1" })
    const commands: [string, string[]][] = [
      ["fedhub --help", ["--help"]],
      ["fedhub peers list", ["peers", "list"]],
      ["fedhub doc show <url>", ["doc", "show", url]],
    ]
    const cases: Case[] = [
      { label: "git --version", runs: "baseline", n, cmd: "git", args: ["--version"], env },
      ...commands.map(([label, args]): Case => ({ label, runs: "dist", n, cmd: BIN, args, env })),
      ...commands.map(([label, args]): Case => ({ label, runs: "sources (tsx)", n: sourceN, cmd: BIN, args, env: source })),
    ]
    const freshBefore = distIsFresh()
    const rows: (string | number)[][] = []
    for (const c of cases) {
      await timeRun(c.cmd, c.args, c.env) // warm-up: file cache, tsx cache
      const times: number[] = []
      for (let i = 0; i < c.n; i++) times.push(await timeRun(c.cmd, c.args, c.env))
      const p50 = quantile(times, 0.5)
      const ok = c.runs === "baseline" ? "" : p50 < TARGET_MS ? "yes" : "no"
      rows.push([c.label, c.runs, c.n, ms(p50), ms(quantile(times, 0.99)), ok])
    }
    printTable(
      `CLI latency, spawn to exit (node ${process.version}, hub on ${hub.url})`,
      ["command", "runs", "n", "p50", "p99", `p50 < ${TARGET_MS} ms`],
      rows,
    )
    if (!freshBefore || !distIsFresh())
      console.log("\nnote: the sources changed during the run, so bin/fedhub fell back to tsx for some 'dist' runs; run again")
  } finally {
    await hub.stop()
    await rm(home, { recursive: true, force: true })
  }
}
