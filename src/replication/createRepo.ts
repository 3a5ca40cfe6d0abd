/** The one place a Repo is built, so every Repo gets a peerId, storage and a share config. */
import { Repo, type NetworkAdapterInterface, type PeerId, type RepoConfig } from "@automerge/automerge-repo"
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { ClosableStorage } from "./ClosableStorage.ts"
import { IndexingStorage } from "./DocIndex.ts"

/** automerge-repo's per-document `announce` / `access` hooks. */
export type ShareConfig = NonNullable<RepoConfig["shareConfig"]>

export interface RepoOptions {
  peerId: string
  /** Folder for automerge-repo's nodefs storage; omit for an in-memory Repo. */
  storageDir?: string
  network?: NetworkAdapterInterface[]
  shareConfig?: ShareConfig
  /** Whether peers should skip persisting our sync state (clients: true). */
  isEphemeral?: boolean
  /** Awaited before a document's content is saved (the DocIndex records it: write-ahead). */
  onStoring?: (documentId: string) => Promise<void>
}

/**
 * The ids of the documents whose content is in a nodefs folder (`<id[0:2]>/<id[2:]>/`
 * holding `incremental` or `snapshot`), read from directory names without loading any.
 */
export async function storedDocumentIds(dir: string): Promise<string[]> {
  const ids: string[] = []
  for (const prefix of await subdirs(dir))
    for (const rest of await subdirs(join(dir, prefix))) {
      const kinds = await subdirs(join(dir, prefix, rest))
      if (kinds.includes("incremental") || kinds.includes("snapshot")) ids.push(prefix + rest)
    }
  return ids
}

const subdirs = async (dir: string): Promise<string[]> => {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter(e => e.isDirectory()).map(e => e.name)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return []
    throw e
  }
}

/**
 * Builds a Repo on nodefs storage (or none) with an explicit peerId. Shut it down
 * with `closeRepo`, which also stops late writes to its storage.
 */
export function createRepo(opts: RepoOptions): Repo {
  const onStoring = opts.onStoring
  const base = opts.storageDir ? new NodeFSStorageAdapter(opts.storageDir) : undefined
  const storage = base ? new ClosableStorage(onStoring ? new IndexingStorage(base, onStoring) : base) : undefined
  const repo = new Repo({
    peerId: opts.peerId as PeerId,
    storage,
    network: opts.network ?? [],
    shareConfig: opts.shareConfig,
    isEphemeral: opts.isEphemeral ?? false,
  })
  if (storage) storages.set(repo, storage)
  return repo
}

const storages = new WeakMap<Repo, ClosableStorage>()

/** Flushes, shuts the Repo down, and closes its storage to any write that comes later. */
export async function closeRepo(repo: Repo): Promise<void> {
  try {
    await repo.flush()
  } finally {
    try {
      await repo.shutdown()
    } finally {
      storages.get(repo)?.close()
    }
  }
}
