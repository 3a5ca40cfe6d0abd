/** The one place a Repo is built, so every Repo gets a peerId, storage and a share config. */
import { Repo, type NetworkAdapterInterface, type PeerId, type RepoConfig } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

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

/** Builds a Repo on nodefs storage (or none) with an explicit peerId. */
export function createRepo(opts: RepoOptions): Repo {
  return new Repo({
    peerId: opts.peerId as PeerId,
    storage: opts.storageDir ? new NodeFSStorageAdapter(opts.storageDir) : undefined,
    network: opts.network ?? [],
    shareConfig: opts.shareConfig,
    isEphemeral: opts.isEphemeral ?? false,
  })
}
