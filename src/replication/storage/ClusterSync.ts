/**
 * Fan-out between the processes of one identity: when another process stores a chunk of a
 * document (its NOTIFY names the storage key), this process reads that chunk and applies
 * it to its loaded copy, so its Repo's synchronizers push the change to the peers connected
 * here. A document not loaded here is loaded (it then holds the chunk), unless idle
 * unloading keeps memory to what is in use; then peers ask for it when they need it.
 */
import { EventEmitter } from "node:events"
import * as A from "@automerge/automerge"
import type { Chunk, DocumentId, Repo, StorageKey } from "@automerge/automerge-repo"
import type { BusMessage, ClusterBus } from "./ClusterBus.ts"

export interface ClusterSyncOptions {
  repo: Repo
  storage: { load(key: StorageKey): Promise<Uint8Array | undefined>; loadRange(prefix: StorageKey): Promise<Chunk[]> }
  bus: ClusterBus
  /** A document another process stored: this process holds it too (the DocIndex). */
  held?: (documentId: string) => Promise<void> | void
  /** Load a document that is not in memory here (false under idle unloading). */
  loadMissing: boolean
  onError?: (documentId: string, err: unknown) => void
}

interface Events {
  /** Another process's chunk of the document was applied here (or the document loaded). */
  applied: [documentId: string]
}

/** Longest wait for a document being loaded here before the chunk is applied anyway. */
const READY_MS = 10_000

export class ClusterSync {
  readonly events = new EventEmitter<Events>()
  readonly #opts: ClusterSyncOptions
  /** Chunks applied from other processes since start. */
  applied = 0

  constructor(opts: ClusterSyncOptions) {
    this.#opts = opts
    opts.bus.on("chunk", m => this.#chunk(m))
    opts.bus.on("resync", () => this.#resync())
  }

  async #chunk(m: BusMessage): Promise<void> {
    const key = m.key
    if (!Array.isArray(key) || key.length !== 3 || !key.every(k => typeof k === "string")) return
    const documentId = key[0] as DocumentId
    try {
      await this.#opts.held?.(documentId)
      await this.#apply(documentId, key as StorageKey)
    } catch (e) {
      this.#opts.onError?.(documentId, e)
    }
  }

  async #apply(documentId: DocumentId, key?: StorageKey): Promise<void> {
    const { repo } = this.#opts
    const handle = repo.handles[documentId]
    if (!handle) {
      if (!this.#opts.loadMissing) return
      // loaded from storage, which holds the announced chunk already (it was committed first)
      await repo.find(documentId, { signal: AbortSignal.timeout(READY_MS) })
      this.#done(documentId)
      return
    }
    if (!handle.isReady()) await Promise.race([handle.whenReady(), new Promise(r => setTimeout(r, READY_MS).unref())])
    if (!handle.isReady()) return
    let data = key ? await this.#opts.storage.load(key) : undefined
    // compacted meanwhile (the chunk is in a snapshot now), or a resync: the document's whole content
    if (!data) data = concat((await this.#opts.storage.loadRange([documentId])).filter(c => c.key[1] === "incremental" || c.key[1] === "snapshot"))
    if (data.byteLength === 0) return
    handle.update(doc => A.loadIncremental(doc, data))
    this.#done(documentId)
  }

  #done(documentId: string): void {
    this.applied++
    this.events.emit("applied", documentId)
  }

  /** After the listening connection was lost: every loaded document is read again from storage. */
  async #resync(): Promise<void> {
    for (const id of Object.keys(this.#opts.repo.handles)) await this.#apply(id as DocumentId).catch(e => this.#opts.onError?.(id, e))
  }
}

const concat = (chunks: Chunk[]): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + (c.data?.byteLength ?? 0), 0))
  let at = 0
  for (const c of chunks) {
    if (!c.data) continue
    out.set(c.data, at)
    at += c.data.byteLength
  }
  return out
}
