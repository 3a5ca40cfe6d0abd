/** Small state files of a hub's home (registry, policies): read whole, written atomically. */
import { readFile, rename, writeFile } from "node:fs/promises"
import { FedhubError } from "../errors.ts"

/** The text of `path`, or undefined when the file is absent. */
export async function readOptionalFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw e
  }
}

/** The parsed JSON of `path`, or undefined when the file is absent; a corrupt file is CONFIG_INVALID. */
export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  const text = await readOptionalFile(path)
  if (text === undefined) return undefined
  try {
    return JSON.parse(text) as T
  } catch (e) {
    throw new FedhubError("CONFIG_INVALID", `${path} is not JSON: ${(e as Error).message}`)
  }
}

/** Writes `body` to `path` through a temporary file and a rename (never half-written), mode 0600. */
export async function writeFileAtomic(path: string, body: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, body, { mode: 0o600 })
  await rename(tmp, path)
}
