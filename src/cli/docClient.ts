/**
 * Where the `fedhub doc` commands read and write: the running hub's REST API (with
 * the admin token), or with --offline the home's storage directly.
 */
import { randomBytes } from "node:crypto"
import type { DocSummary, PolicyView, ShareOptions } from "../replication/DocStore.ts"
import { join } from "node:path"
import type { ChangeEntry, ConflictEntry, Heads, ReadablePatch, WrittenValue } from "../replication/historyText.ts"
import { formatHeads } from "../replication/historyText.ts"
import { readRunInfo, resolveHome, type HomePaths } from "../hub/home.ts"
import { FedhubError } from "../errors.ts"
import { openAdminClient, type AdminClient, type HubTarget } from "./adminClient.ts"

type Path = string | (string | number)[]

/** The document operations the CLI needs, wherever they run. */
export interface DocClient {
  create(content: unknown, opts: { text?: boolean } & ShareOptions): Promise<DocSummary>
  share(ref: string, add: ShareOptions): Promise<PolicyView>
  unshare(ref: string, nodes: string[]): Promise<PolicyView>
  policy(ref: string): Promise<PolicyView>
  show(ref: string, heads?: Heads): Promise<DocSummary>
  put(ref: string, path: Path, value: unknown, opts: { text?: boolean; message?: string }): Promise<DocSummary>
  del(ref: string, path: Path, opts: { message?: string }): Promise<DocSummary>
  log(ref: string, limit?: number): Promise<ChangeEntry[]>
  writtenBy(ref: string, by?: string): Promise<WrittenValue[]>
  diff(ref: string, a: Heads, b: Heads): Promise<ReadablePatch[]>
  conflicts(ref: string): Promise<ConflictEntry[]>
  close(): Promise<void>
}

export interface DocClientOptions extends HubTarget {
  offline?: boolean
}

/** Opens the right client for the flags: --offline storage, or a running hub. */
export async function openDocClient(opts: DocClientOptions): Promise<DocClient> {
  if (opts.offline) return openOffline(resolveHome(opts.home))
  return new RestDocClient(await openAdminClient(opts))
}

async function openOffline(paths: HomePaths): Promise<DocClient> {
  const run = await readRunInfo(paths)
  if (run)
    throw new FedhubError("HOME_LOCKED", `the hub (pid ${run.pid}) is running on ${paths.home}: drop --offline to go through it`)
  // storage and Automerge only for --offline: a command through the running hub never loads them
  const [{ closeRepo, createRepo }, { hasIdentity, loadIdentity }, { DocStore }, { DocIndex }, { PolicyStore }, { SignatureStore }, { Authorship }, { openStorage }, { resolveConfig }] =
    await Promise.all([
      import("../replication/createRepo.ts"),
      import("../identity/index.ts"),
      import("../replication/DocStore.ts"),
      import("../replication/DocIndex.ts"),
      import("../replication/PolicyStore.ts"),
      import("../replication/SignatureStore.ts"),
      import("../replication/Authorship.ts"),
      import("../replication/storage/index.ts"),
      import("../hub/config.ts"),
    ])
  // the same index and policies as the hub, so what is made offline is known to it when it starts
  const identity = (await hasIdentity(paths.home)) ? await loadIdentity(paths.home) : undefined
  // the hub's own storage (files, or its PostgreSQL database), so what is made offline is where it looks
  const { storage: spec } = await resolveConfig(paths)
  const storage = await openStorage(spec.kind === "postgres" && spec.url ? { kind: "postgres", url: spec.url, schema: spec.schema } : { kind: "nodefs" }, {
    dataDir: paths.data,
    owner: identity?.nodeId,
  })
  const index = await DocIndex.open(join(paths.home, "documents.idx"), () => storage.documentIds())
  // on PostgreSQL the policies and signatures are the database's (shared by every process of the identity)
  const { PostgresRecordLog } = storage.postgres ? await import("../replication/storage/PostgresRecordLog.ts") : { PostgresRecordLog: undefined }
  const sharedLog = (name: string) => (storage.postgres && PostgresRecordLog ? new PostgresRecordLog(storage.postgres.adapter.pool, storage.postgres.adapter.schema, name) : undefined)
  const policies = await PolicyStore.open(join(paths.home, "policies.json"), { log: sharedLog("policies") })
  const repo = createRepo({ peerId: `cli-offline-${randomBytes(6).toString("hex")}`, storage, onStoring: id => index.record(id) })
  const nodeId = identity?.nodeId
  // written under the hub's own bound actor, so its peers accept what is made offline
  const signatures = await SignatureStore.open(join(paths.home, "signatures.jsonl"), { log: sharedLog("signatures") })
  const authorship = identity ? new Authorship(identity, signatures) : undefined
  const store = new DocStore(repo, {
    author: `${nodeId ?? "fedhub-cli"} (offline)`,
    findTimeoutMs: 2_000,
    identity,
    policies,
    authorship,
    nameOf: id => (id === (nodeId as string | undefined) ? identity?.name : undefined),
  })
  return {
    create: (c, o) => store.create(c, o),
    share: (r, a) => store.share(r, a),
    unshare: (r, n) => store.unshare(r, n),
    policy: r => store.policy(r),
    show: (r, h) => store.show(r, h),
    put: (r, p, v, o) => store.put(r, p, v, o),
    del: (r, p, o) => store.del(r, p, o),
    log: (r, l) => store.log(r, l),
    writtenBy: (r, b) => store.writtenBy(r, b),
    diff: (r, a, b) => store.diff(r, a, b),
    conflicts: r => store.conflicts(r),
    close: async () => {
      // the stores first: on PostgreSQL they write through the storage's pool, which closeRepo ends
      await signatures.close()
      await policies.close()
      await closeRepo(repo)
    },
  }
}

/** Talks to a running hub's /api/docs with the admin token. */
export class RestDocClient implements DocClient {
  readonly #api: AdminClient

  constructor(api: AdminClient) {
    this.#api = api
  }

  create(content: unknown, opts: { text?: boolean } & ShareOptions): Promise<DocSummary> {
    return this.#call("POST", "", { content, text: opts.text, share: opts.readers, writers: opts.writers, relays: opts.relays })
  }
  share(ref: string, add: ShareOptions): Promise<PolicyView> {
    return this.#call("POST", `/${encodeURIComponent(ref)}/share`, add)
  }
  unshare(ref: string, nodes: string[]): Promise<PolicyView> {
    return this.#call("POST", `/${encodeURIComponent(ref)}/unshare`, { readers: nodes })
  }
  policy(ref: string): Promise<PolicyView> {
    return this.#call("GET", `/${encodeURIComponent(ref)}/policy`)
  }
  show(ref: string, heads?: Heads): Promise<DocSummary> {
    return this.#call("GET", `/${encodeURIComponent(ref)}${heads ? `?at=${encodeURIComponent(formatHeads(heads))}` : ""}`)
  }
  put(ref: string, path: Path, value: unknown, opts: { text?: boolean; message?: string }): Promise<DocSummary> {
    return this.#call("PUT", `/${encodeURIComponent(ref)}/value`, { path, value, ...opts })
  }
  del(ref: string, path: Path, opts: { message?: string }): Promise<DocSummary> {
    return this.#call("DELETE", `/${encodeURIComponent(ref)}/value`, { path, ...opts })
  }
  log(ref: string, limit?: number): Promise<ChangeEntry[]> {
    return this.#call("GET", `/${encodeURIComponent(ref)}/log${limit !== undefined ? `?limit=${limit}` : ""}`)
  }
  writtenBy(ref: string, by?: string): Promise<WrittenValue[]> {
    return this.#call("GET", `/${encodeURIComponent(ref)}/written${by !== undefined ? `?by=${encodeURIComponent(by)}` : ""}`)
  }
  diff(ref: string, a: Heads, b: Heads): Promise<ReadablePatch[]> {
    const q = `from=${encodeURIComponent(formatHeads(a))}&to=${encodeURIComponent(formatHeads(b))}`
    return this.#call("GET", `/${encodeURIComponent(ref)}/diff?${q}`)
  }
  conflicts(ref: string): Promise<ConflictEntry[]> {
    return this.#call("GET", `/${encodeURIComponent(ref)}/conflicts`)
  }
  async close(): Promise<void> {}

  #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.#api.call<T>(method, `/docs${path}`, body)
  }
}
