// @ts-check
/**
 * The fingerprint of the inputs of the compiled CLI in dist/: every file under src/,
 * plus tsconfig.json and the build script, each as "path size mtimeMs". scripts/build.mjs
 * takes it before it compiles and writes it to dist/.fingerprint last; bin/fedhub
 * runs dist/ only when the current fingerprint equals the stored one, so any edit,
 * added, removed or renamed file (even one whose mtime went backwards) means "stale".
 * Cost: one readdir per folder and one stat per file (~100 files, about 1 ms).
 * Plain JavaScript on purpose: bin/fedhub loads it before any TypeScript tooling.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("../", import.meta.url))
export const DIST = join(ROOT, "dist")
export const STAMP = join(DIST, ".fingerprint")
const EXTRA = ["tsconfig.json", "scripts/build.mjs", "scripts/fingerprint.mjs"]

/** @param {string} rel @param {string[]} out */
function walk(rel, out) {
  for (const e of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
    const p = `${rel}/${e.name}`
    if (e.isDirectory()) walk(p, out)
    else out.push(p)
  }
}

/** The fingerprint of the current sources, one line per file, sorted. */
export function fingerprint() {
  const files = []
  walk("src", files)
  files.push(...EXTRA)
  return files
    .sort()
    .map(f => {
      const s = statSync(join(ROOT, f))
      return `${f} ${s.size} ${s.mtimeMs}`
    })
    .join("\n")
}

/** True when dist/ holds a complete build of exactly the current sources. */
export function distIsFresh() {
  let stored
  try {
    stored = readFileSync(STAMP, "utf8")
  } catch {
    return false
  }
  try {
    return stored === fingerprint()
  } catch {
    return false
  }
}
