/**
 * A hub's storage backend: nodefs files in the home (the embedded default) or PostgreSQL.
 * Either way the Repo sees one automerge-repo StorageAdapterInterface, and the hub can list
 * the documents it holds without loading any (to rebuild its index).
 */
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import type { StorageAdapterInterface } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { PostgresStorageAdapter } from "./PostgresStorageAdapter.ts"

export { PostgresStorageAdapter, DEFAULT_SCHEMA } from "./PostgresStorageAdapter.ts"
export { MIGRATIONS, migrate } from "./migrations.ts"
export { openCluster, type Cluster } from "./cluster.ts"

/** Where a hub stores documents (config.json `storage`, or FEDHUB_DATABASE_URL). */
export type StorageSpec = { kind: "nodefs" } | { kind: "postgres"; url: string; schema?: string; poolSize?: number }

export interface StorageBackend {
  kind: StorageSpec["kind"]
  adapter: StorageAdapterInterface
  /** The PostgreSQL adapter and its URL (several processes of one identity share them). */
  postgres?: { adapter: PostgresStorageAdapter; url: string }
  /** The documents with content in storage, from keys only. */
  documentIds: () => Promise<string[]>
  /** Releases files or connections (after the Repo has flushed). */
  close: () => Promise<void>
}

export interface OpenStorageOptions {
  /** The nodefs folder (the home's `data/`). */
  dataDir: string
  /** The node id the storage belongs to (PostgreSQL refuses a database another node owns). */
  owner?: string
  onError?: (err: Error) => void
}

/** Opens the backend a spec names. */
export async function openStorage(spec: StorageSpec, opts: OpenStorageOptions): Promise<StorageBackend> {
  if (spec.kind === "postgres") {
    const adapter = await PostgresStorageAdapter.open({ url: spec.url, schema: spec.schema, poolSize: spec.poolSize, owner: opts.owner, onError: opts.onError })
    return { kind: "postgres", adapter, postgres: { adapter, url: spec.url }, documentIds: () => adapter.documentIds(), close: () => adapter.close() }
  }
  return {
    kind: "nodefs",
    adapter: new NodeFSStorageAdapter(opts.dataDir),
    documentIds: () => storedDocumentIds(opts.dataDir),
    close: async () => {},
  }
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
