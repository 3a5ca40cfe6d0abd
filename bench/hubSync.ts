/**
 * Sync of a 100,000-change document to a fresh hub over real sockets, in one run:
 *  1. bare automerge-repo: two Repos on nodefs storage, the stock WebSocket adapters;
 *  2. fedhub, a document without a policy: the inbound gate's limits only;
 *  3. fedhub, a governed document: limits, policy frames, signatures, every change
 *     attributed to a writer before the Repo applies it.
 * Each sender writes the document itself (the same changes, in memory); timed from the
 * fresh side's `find` to holding the sender's heads. Target (issue 12):
 * the checks cost at most 1.3x bare automerge-repo sync.
 */
import "@automerge/automerge-repo"
import * as A from "@automerge/automerge"
import { Repo, type AutomergeUrl, type DocHandle, type PeerId } from "@automerge/automerge-repo"
import { WebSocketClientAdapter, WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { WebSocketServer } from "ws"
import { serveHub } from "../src/api/server.ts"
import { startHub, type RunningHub } from "../src/hub/startHub.ts"
import { createOwnedDocument } from "../src/replication/ownedDocument.ts"
import { ms, printTable } from "./stats.ts"

type Items = Record<string, A.ImmutableString>

/** `n` one-key changes on top of `doc` (a key among 500, an atomic string each). */
function grow<T>(doc: A.Doc<T>, n: number): A.Doc<T> {
  let d = doc as A.Doc<Items>
  for (let i = 0; i < n; i++)
    d = A.change(d, x => {
      x[`k${i % 500}`] = new A.ImmutableString(`v${i}`)
    })
  return d as A.Doc<T>
}

const tempDir = (p: string) => mkdtemp(join(tmpdir(), p))

/** Resolves once `handle` holds every head of `heads`. */
async function holds(handle: DocHandle<unknown>, heads: string[]): Promise<void> {
  while (!A.hasHeads(handle.doc() as A.Doc<unknown>, heads)) await new Promise(r => handle.once("change", r))
}

/** Bare automerge-repo: a fresh Repo fetches the document from one that wrote it. */
async function bare(total: number): Promise<number> {
  const dirs = [await tempDir("bench-bare-a-"), await tempDir("bench-bare-b-")]
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
  await new Promise<void>(r => wss.once("listening", () => r()))
  const port = (wss.address() as { port: number }).port
  const a = new Repo({ peerId: "bare-a" as PeerId, storage: new NodeFSStorageAdapter(dirs[0]!), network: [new WebSocketServerAdapter(wss as never)] })
  const handleA = a.create<Items>()
  handleA.update(d => grow(d, total))
  await a.flush()
  const client = new WebSocketClientAdapter(`ws://127.0.0.1:${port}`)
  const b = new Repo({ peerId: "bare-b" as PeerId, storage: new NodeFSStorageAdapter(dirs[1]!), network: [client] })
  await client.whenReady()
  const t0 = performance.now()
  const handle = await b.find<Items>(handleA.url, { signal: AbortSignal.timeout(300_000) })
  await holds(handle as DocHandle<unknown>, A.getHeads(handleA.doc()))
  const t = performance.now() - t0
  await b.shutdown()
  await a.shutdown()
  wss.close()
  for (const d of dirs) await rm(d, { recursive: true, force: true })
  return t
}

const hubAt = async (home: string): Promise<RunningHub> =>
  startHub(serveHub, { home, env: {}, flags: { host: "127.0.0.1", port: 0, logLevel: "silent" } })

/** fedhub: a fresh hub fetches the document (made by `make` on the first hub) over an authenticated link. */
async function fedhub(make: (a: RunningHub, readerId: string) => Promise<DocHandle<Items>>): Promise<number> {
  const homes = [await tempDir("bench-fh-a-"), await tempDir("bench-fh-b-")]
  const a = await hubAt(homes[0]!)
  const b = await hubAt(homes[1]!)
  const handleA = await make(a, b.hub.nodeId)
  await a.hub.repo.flush()
  const link = b.hub.dial(a.url, a.hub.nodeId)
  while (link.state !== "established") await new Promise(r => link.events.once("state", r))
  const t0 = performance.now()
  const handle = await b.hub.repo.find<Items>(handleA.url as AutomergeUrl, { signal: AbortSignal.timeout(300_000) })
  await holds(handle as DocHandle<unknown>, A.getHeads(handleA.doc()))
  const t = performance.now() - t0
  const refused = b.hub.gate.refusedChanges().length
  if (refused > 0 || Object.keys(b.hub.server.refusals).length > 0) process.stderr.write(`  refusals: ${JSON.stringify(b.hub.gate.refusedChanges().slice(0, 3))} ${JSON.stringify(b.hub.server.refusals)} ${JSON.stringify(b.hub.links().map(l => l.metrics))}\n`)
  await b.stop()
  await a.stop()
  for (const h of homes) await rm(h, { recursive: true, force: true })
  if (refused > 0) throw new Error(`the fresh hub refused ${refused} changes`)
  return t
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!

/** Prints the table: each variant `rounds` times, interleaved, median reported. */
export async function benchHubSync(total = 100_000, rounds = 3): Promise<void> {
  // automerge-repo rejects a 60 s whenReady nobody awaits when a handle stays unready; say so rather than die
  process.on("unhandledRejection", e => process.stderr.write(`unhandled rejection: ${String(e)}\n`))
  const samples = { bare: [] as number[], legacy: [] as number[], governed: [] as number[] }
  for (let r = 0; r < rounds; r++) {
    process.stderr.write(`hub sync: round ${r + 1} of ${rounds}\n`)
    samples.bare.push(await bare(total))
    process.stderr.write(`  bare ${ms(samples.bare.at(-1)!)}\n`)
    samples.legacy.push(
      await fedhub(async a => {
        const handle = a.hub.repo.create<Items>()
        handle.update(d => grow(d, total))
        return handle
      }),
    )
    process.stderr.write(`  no policy ${ms(samples.legacy.at(-1)!)}\n`)
    samples.governed.push(
      await fedhub(async (a, reader) => {
        const ctx = { repo: a.hub.repo, identity: a.hub.identity, policies: a.hub.policies, authorship: a.hub.authorship }
        const handle = await createOwnedDocument<Items>(ctx, {}, { readers: [reader as never] })
        // written by the hub itself, under its bound actor (the handle's doc carries it)
        handle.update(d => grow(d, total))
        a.hub.authorship.signLatest(handle) // as the hub signs after each local write
        return handle
      }),
    )
    process.stderr.write(`  governed ${ms(samples.governed.at(-1)!)}\n`)
  }
  const base = median(samples.bare)
  const row = (label: string, t: number) => [label, ms(t), Math.round(total / (t / 1000)).toLocaleString("en-US"), `${(t / base).toFixed(2)}x`]
  printTable(
    `hub sync: a fresh hub fetches a ${total.toLocaleString("en-US")}-change document over loopback (median of ${rounds}; target: checks <= 1.3x bare)`,
    ["", "total", "changes/s", "vs bare"],
    [
      row("baseline: bare automerge-repo (stock WebSocket adapters, nodefs)", base),
      row("fedhub, no policy (authenticated link, inbound limits)", median(samples.legacy)),
      row("fedhub, governed (limits + every change attributed to a writer)", median(samples.governed)),
    ],
  )
}
