/** The one place a Repo is built, so every Repo gets a peerId, storage and a share config. */
import { Repo, type NetworkAdapterInterface, type PeerId, type RepoConfig } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { ClosableStorage } from "./ClosableStorage.ts"
import { DocSaves } from "./storage/DocSaves.ts"
import { IndexingStorage } from "./DocIndex.ts"
import type { StorageBackend } from "./storage/index.ts"

export { storedDocumentIds } from "./storage/index.ts"

/** automerge-repo's per-document `announce` / `access` hooks. */
export type ShareConfig = NonNullable<RepoConfig["shareConfig"]>

export interface RepoOptions {
  peerId: string
  /** Folder for automerge-repo's nodefs storage; omit (and `storage`) for an in-memory Repo. */
  storageDir?: string
  /** An opened backend (nodefs or PostgreSQL), used instead of `storageDir`; `closeRepo` closes it. */
  storage?: StorageBackend
  network?: NetworkAdapterInterface[]
  shareConfig?: ShareConfig
  /** Whether peers should skip persisting our sync state (clients: true). */
  isEphemeral?: boolean
  /** Awaited before a document's content is saved (the DocIndex records it: write-ahead). */
  onStoring?: (documentId: string) => Promise<void>
}

/**
 * Builds a Repo on the given storage (nodefs, PostgreSQL, or none) with an explicit peerId.
 * Shut it down with `closeRepo`, which also stops late writes to its storage and closes it.
 */
export function createRepo(opts: RepoOptions): Repo {
  const onStoring = opts.onStoring
  const base = opts.storage?.adapter ?? (opts.storageDir ? new NodeFSStorageAdapter(opts.storageDir) : undefined)
  const storage = base ? new ClosableStorage(onStoring ? new IndexingStorage(base, onStoring) : base) : undefined
  const repo = new Repo({
    peerId: opts.peerId as PeerId,
    storage,
    network: opts.network ?? [],
    shareConfig: opts.shareConfig,
    isEphemeral: opts.isEphemeral ?? false,
  })
  if (storage) {
    const saves = new DocSaves(storage)
    saves.attach(repo)
    storages.set(repo, { storage, backend: opts.storage, saves })
  }
  return repo
}

const storages = new WeakMap<Repo, { storage: ClosableStorage; backend?: StorageBackend; saves: DocSaves }>()

/** Records that a document's replica was loaded from exactly `bytes` (a saved document that arrived whole), so it is stored as they are. */
export function noteArrived(repo: Repo, documentId: string, bytes: Uint8Array, heads: readonly string[]): void {
  storages.get(repo)?.saves.arrived(documentId, bytes, heads)
}

/** How many saves stored a document as the bytes it arrived as (instead of saving it again). */
export function savesAsArrived(repo: Repo): number {
  return storages.get(repo)?.saves.storedAsArrived ?? 0
}

/** The Repo's save rules (storage/DocSaves.ts), for tests and metrics; undefined without storage. */
export function docSaves(repo: Repo): DocSaves | undefined {
  return storages.get(repo)?.saves
}

/** Whether a document is in storage as the bytes it arrived as (and has not changed since). */
export function storedAsArrived(repo: Repo, documentId: string): boolean {
  return storages.get(repo)?.saves.storedAsIs(documentId) ?? false
}

/** Drops every later save of a document the hub purged (a throttled save may still be queued in the Repo). */
export function forgetStored(repo: Repo, documentId: string): void {
  storages.get(repo)?.storage.forget(documentId)
}

/** Flushes, shuts the Repo down, and closes its storage to any write that comes later. */
export async function closeRepo(repo: Repo): Promise<void> {
  try {
    await repo.flush()
  } finally {
    try {
      await repo.shutdown()
    } finally {
      const s = storages.get(repo)
      s?.storage.close()
      // a late write now returns at once (dropped), so the backend's connections can go
      await s?.backend?.close()
    }
  }
}
