/** Runs the real `bin/fedhub` as a child process, the way a user does. */
import { spawn, type ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"

export const BIN = fileURLToPath(new URL("../../bin/fedhub", import.meta.url))

export interface Result {
  code: number | null
  stdout: string
  stderr: string
}

const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("FEDHUB_")) env[k] = v
  return { ...env, ...extra }
}

/** Runs one command to completion. */
export function fedhub(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", c => (stdout += c))
    child.stderr.on("data", c => (stderr += c))
    child.on("error", reject)
    child.on("close", code => resolve({ code, stdout, stderr }))
  })
}

export interface HubProcess {
  child: ChildProcess
  /** The hub's URL (https:// with TLS). */
  url: string
  /** Plain http:// on loopback, for local clients (the same port). */
  localUrl: string
  nodeId: string
  line: string
  stderr: () => string
  /** Sends a signal and resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/** Starts `fedhub start …` and resolves once it printed its URL line. */
export function startHubProcess(args: string[], env: Record<string, string> = {}): Promise<HubProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ["start", "--port", "0", "--log-level", "warn", ...args], {
      env: cleanEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    })
    let out = ""
    let err = ""
    const exited = new Promise<number | null>(r => child.on("exit", code => r(code)))
    child.stderr.on("data", c => (err += c))
    child.on("error", reject)
    void exited.then(code => reject(new Error(`hub exited early (${code}): ${err}`)))
    child.stdout.on("data", c => {
      out += c
      const line = out.split("\n")[0]!
      const m = /^fedhub (\S+) listening on (https?:\/\/\S+)/.exec(line)
      if (m && out.includes("\n"))
        resolve({
          child,
          nodeId: m[1]!,
          url: m[2]!,
          localUrl: m[2]!.replace(/^https:/, "http:"),
          line,
          stderr: () => err,
          stop: async (signal = "SIGTERM") => {
            if (child.exitCode === null) child.kill(signal)
            return exited
          },
        })
    })
  })
}
