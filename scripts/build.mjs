// @ts-check
/**
 * `npm run build` (and `prepare`, so `npm ci` runs it): compiles src/ to dist/, one
 * .js per .ts (same layout, so `import.meta.url` paths still resolve: schemas/ from the
 * package root, center files from the copy in dist/center/). It uses esbuild, the same
 * transformer tsx runs on the sources, so dist/ behaves as `tsx src/...` does; types are
 * checked by `npm run typecheck`, not here. Relative `./x.ts` imports become `./x.js`;
 * packages stay imports of node_modules. The fingerprint of the sources is taken before
 * compiling and written last, so an edit made during the build reads as stale.
 */
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { DIST, ROOT, STAMP, fingerprint } from "./fingerprint.mjs"

// esbuild as tsx (a dependency) ships it, so the build needs no package of its own
const require = createRequire(import.meta.url)
/** @type {typeof import("esbuild")} */
const esbuild = require(createRequire(require.resolve("tsx/package.json")).resolve("esbuild"))

const t0 = performance.now()
const stamp = fingerprint()
rmSync(STAMP, { force: true }) // from here on bin/fedhub falls back to tsx until the build is whole
rmSync(DIST, { recursive: true, force: true })

/** @param {string} dir @returns {string[]} */
const tsFiles = dir =>
  readdirSync(dir, { withFileTypes: true }).flatMap(e =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [join(dir, e.name)] : [],
  )
const entryPoints = tsFiles(join(ROOT, "src"))

await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints,
  outbase: "src",
  outdir: "dist",
  bundle: true, // only so the plugin below sees (and rewrites) every import; nothing is inlined
  treeShaking: false,
  platform: "node",
  format: "esm",
  target: `node${process.versions.node.split(".")[0]}`,
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning",
  plugins: [
    {
      name: "keep-files-separate",
      setup(build) {
        build.onResolve({ filter: /^\.\.?\// }, args =>
          args.kind === "entry-point" ? undefined : { path: args.path.replace(/\.ts$/, ".js"), external: true },
        )
      },
    },
  ],
})

// static files read at run time next to the code (src/api/routes/center.ts: ../../center/)
cpSync(join(ROOT, "src/center"), join(DIST, "center"), { recursive: true })
mkdirSync(DIST, { recursive: true })
writeFileSync(STAMP, stamp)
console.log(`fedhub: built ${entryPoints.length} files to dist/ in ${Math.round(performance.now() - t0)} ms`)
