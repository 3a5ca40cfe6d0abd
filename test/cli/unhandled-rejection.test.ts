/**
 * A promise nobody handled inside the CLI is reported and ends the process with a
 * non-zero code (issue 11, item 8): it is never printed and then forgotten while the
 * hub keeps running as if nothing happened.
 */
import { spawn } from "node:child_process"
import { rm } from "node:fs/promises"
import { afterAll, describe, expect, it } from "vitest"
import { BIN } from "../helpers/cli.ts"
import { tempDir } from "../helpers/hubs.ts"

const homes: string[] = []
afterAll(() => Promise.all(homes.map(h => rm(h, { recursive: true, force: true }))))

/**
 * Runs `fedhub start` with a preloaded module that, once the hub printed its
 * "listening on" line, rejects a promise nobody handles with `reason` (JS source).
 */
function withStrayRejection(args: string[], reason: string) {
  const hook = `const write = process.stdout.write.bind(process.stdout)
process.stdout.write = (chunk, ...rest) => {
  if (String(chunk).includes(" listening on ")) setTimeout(() => Promise.reject(${reason}), 50)
  return write(chunk, ...rest)
}`
  const preload = `data:text/javascript,${encodeURIComponent(hook)}`
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("FEDHUB_")))
  const child = spawn(process.execPath, ["--import", preload, BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", c => (stdout += c))
  child.stderr.on("data", c => (stderr += c))
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`still running 15 s after an unhandled rejection; stderr: ${stderr}`))
    }, 15_000)
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      child.stdout.on("end", () => resolve({ code, signal, stdout, stderr }))
      if (child.stdout.readableEnded) resolve({ code, signal, stdout, stderr })
    })
  })
}

describe("the CLI's unhandledRejection handler", () => {
  it("prints the error with its stack and stops a running hub with exit code 1", async () => {
    const home = await tempDir("fedhub-rejection-")
    homes.push(home)
    const r = await withStrayRejection(
      ["start", "--home", home, "--port", "0", "--log-level", "silent"],
      `new Error("a stray failure")`,
    )
    expect(r.stdout).toMatch(/^fedhub fh1\S+ listening on https?:\/\/127\.0\.0\.1:\d+/) // it had started
    expect(r.code).toBe(1)
    const lines = r.stderr.split("\n")
    expect(lines[0]).toBe("error: unhandled rejection: INTERNAL: a stray failure")
    expect(lines[1]).toBe("Error: a stray failure")
    expect(lines[2]).toMatch(/^\s+at /)
  })

  it("reports a rejection with a value that is not an Error as INTERNAL, with exit code 1", async () => {
    const home = await tempDir("fedhub-rejection-")
    homes.push(home)
    const r = await withStrayRejection(["start", "--home", home, "--port", "0", "--log-level", "silent"], `"just a string"`)
    expect(r.code).toBe(1)
    expect(r.stderr).toBe("error: unhandled rejection: INTERNAL: just a string\n")
  })
})
