/**
 * Several hub processes (`bin/fedhub start`, real child processes) of one identity on one
 * PostgreSQL database: the first makes the identity, the others get a copy of its home's
 * identity.json and node certificate (how an operator runs several processes, README).
 */
import { cp, mkdir, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { DocumentId } from "@automerge/automerge-repo"
import { adminClient } from "../../src/cli/adminClient.ts"
import { readAdminToken, resolveHome } from "../../src/hub/home.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { IDENTITY_FILE } from "../../src/identity/keyStore.ts"
import type { NodeId } from "../../src/identity/index.ts"
import type { HubClientAdapter } from "../../src/replication/HubClientAdapter.ts"
import { afterAll, beforeAll } from "vitest"
import { startHubProcess, type HubProcess } from "./cli.ts"
import { linkReaches, nextEvent, startTestHub, tempDir } from "./hubs.ts"
import { startPostgres, type TestPostgres } from "./postgres.ts"

export interface ClusterProcess {
  proc: HubProcess
  home: string
  api: ReturnType<typeof adminClient>
}

/** A home on the database `url` (its config.json), holding `from`'s identity and certificate when given. */
export async function clusterHome(url: string, from?: string): Promise<string> {
  const home = await tempDir("fedhub-cluster-")
  await writeFile(join(home, "config.json"), JSON.stringify({ storage: { kind: "postgres", url } }))
  if (from) {
    await cp(join(from, IDENTITY_FILE), join(home, IDENTITY_FILE))
    await mkdir(join(home, "tls"), { recursive: true })
    await cp(join(from, "tls"), join(home, "tls"), { recursive: true })
  }
  return home
}

/** Starts a process on `home` and an admin client for it. */
export async function startClusterProcess(home: string): Promise<ClusterProcess> {
  const proc = await startHubProcess(["--home", home])
  return { proc, home, api: adminClient(proc.localUrl, await readAdminToken(resolveHome(home))) }
}

/** Starts `n` processes of one identity on `url`: the first makes the identity, the others copy it. */
export async function startCluster(url: string, n: number): Promise<ClusterProcess[]> {
  const first = await startClusterProcess(await clusterHome(url))
  const rest = await Promise.all(Array.from({ length: n - 1 }, async () => startClusterProcess(await clusterHome(url, first.home))))
  return [first, ...rest]
}

/** Stops every process (SIGKILL when asked) and removes the homes. */
export async function stopCluster(procs: ClusterProcess[], signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  await Promise.allSettled(procs.map(p => p.proc.stop(signal)))
  await Promise.allSettled(procs.map(p => rm(p.home, { recursive: true, force: true })))
}

/** Resolves once hub `h` holds the document ready (a peer announced it): checked now and on every sync event of its Repo. */
export async function handleArrives(h: RunningHub, documentId: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    // listening before looking, so a message that lands while we look is not missed
    const next = nextEvent(h.hub.repo, "doc-metrics", Math.max(1, end - Date.now()))
    next.catch(() => {})
    if (h.hub.repo.handles[documentId as DocumentId]?.isReady()) return
    if (Date.now() >= end) throw new Error(`${documentId} did not reach ${h.hub.nodeId} in ${timeoutMs} ms`)
    await next.catch(() => {})
  }
}

/**
 * For one test file: a PostgreSQL server, `n` processes of one identity on a database of it
 * and, with `peers`, a hub linked to each process (in order); all stopped, homes removed,
 * after the file. The arrays fill in before the first test.
 */
export function clusterForFile(database: string, n: number, opts: { peers?: boolean; stopSignal?: NodeJS.Signals } = {}) {
  const cluster: ClusterProcess[] = []
  const peers: RunningHub[] = []
  const links: HubClientAdapter[] = []
  const nodeId = () => cluster[0]!.proc.nodeId as NodeId
  let server: TestPostgres | undefined
  beforeAll(async () => {
    server = await startPostgres()
    cluster.push(...(await startCluster(await server.createDatabase(database), n)))
    if (!opts.peers) return
    for (const p of cluster) {
      const peer = await startTestHub()
      peers.push(peer)
      const link = peer.hub.dial(p.proc.url, nodeId())
      links.push(link)
      await linkReaches(link, "established")
    }
  }, 120_000)
  afterAll(async () => {
    for (const p of peers) {
      await p.stop().catch(() => {})
      await rm(p.paths.home, { recursive: true, force: true })
    }
    await stopCluster(cluster, opts.stopSignal)
    await server?.stop()
  }, 60_000)
  return { cluster, peers, links, nodeId, createDatabase: (prefix?: string) => server!.createDatabase(prefix) }
}
