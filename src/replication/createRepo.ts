/** The one place a Repo is built, so every Repo gets a peerId, storage and a share config. */
import { Repo, type NetworkAdapterInterface, type PeerId, type RepoConfig } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { ClosableStorage } from "./ClosableStorage.ts"

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
}

/**
 * Builds a Repo on nodefs storage (or none) with an explicit peerId. Shut it down
 * with `closeRepo`, which also stops late writes to its storage.
 */
export function createRepo(opts: RepoOptions): Repo {
  const storage = opts.storageDir ? new ClosableStorage(new NodeFSStorageAdapter(opts.storageDir)) : undefined
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
