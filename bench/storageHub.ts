/**
 * Child of bench/storage.ts: starts a hub on a seeded home (`home idleUnloadMs inUse [url]`),
 * reads `inUse` of its documents as a client would, prints one JSON line and exits.
 */
import type { DocumentId } from "@automerge/automerge-repo"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { serveHub } from "../src/api/server.ts"
import { startHub } from "../src/hub/startHub.ts"

const [home, idle, inUse, url] = process.argv.slice(2) as [string, string, string, string]
const storage = url ? { kind: "postgres" as const, url, idleUnloadMs: Number(idle) } : { kind: "nodefs" as const, idleUnloadMs: Number(idle) }
// a find that timed out at start rejects inside automerge-repo too (as `fedhub start` does, logged, not fatal)
let timedOut = 0
process.on("unhandledRejection", () => void timedOut++)
const t0 = performance.now()
const running = await startHub(serveHub, { home, env: {}, flags: { host: "127.0.0.1", port: 0, logLevel: "silent", storage } })
const startMs = performance.now() - t0
const rss = () => process.memoryUsage().rss / 1e6
const rssStartMb = rss()
const loadedAtStart = Object.values(running.hub.repo.handles).filter(h => h.isReady()).length
const ids = (await readFile(join(home, "documents.idx"), "utf8")).split("\n").filter(Boolean).slice(0, Number(inUse))
const t1 = performance.now()
// as a client reads them: each found (loaded from storage) and its content read
const read = async (id: string) => void (await running.hub.repo.find(id as DocumentId, { signal: AbortSignal.timeout(120_000) })).doc()
for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map(read))
const loadInUseMs = performance.now() - t1
const rssInUseMb = rss()
await running.stop()
console.log(JSON.stringify({ startMs, rssStartMb, loadedAtStart, timedOut, rssInUseMb, inUse: ids.length, loadInUseMs }))
process.exit(0)
