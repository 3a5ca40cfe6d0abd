/**
 * A storage adapter that can be closed: after `close()` it writes nothing. A Repo
 * keeps throttled sync-state saves alive after `shutdown()`; without this, such a
 * late write could land in a home a restarted hub already owns (or one deleted).
 * A forgotten (purged) document's saves are dropped the same way.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"

export class ClosableStorage implements StorageAdapterInterface {
  readonly #inner: StorageAdapterInterface
  #closed = false
  /** Writes refused because they came after `close()`. */
  dropped = 0

  constructor(inner: StorageAdapterInterface) {
    this.#inner = inner
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#inner.load(key)
  }

  loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    return this.#inner.loadRange(keyPrefix)
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    if (this.#closed || (key[0] !== undefined && this.#forgotten.has(key[0]))) return void this.dropped++
    await this.#inner.save(key, data)
  }

  async remove(key: StorageKey): Promise<void> {
    if (this.#closed) return void this.dropped++
    await this.#inner.remove(key)
  }

  async removeRange(keyPrefix: StorageKey): Promise<void> {
    if (this.#closed) return void this.dropped++
    await this.#inner.removeRange(keyPrefix)
  }

  readonly #forgotten = new Set<string>()

  /** From now on, saves of this document are dropped: it was purged, and a save the Repo still has queued must not bring it back. */
  forget(documentId: string): void {
    this.#forgotten.add(documentId)
  }

  /** From now on, writes are dropped (call after the Repo has flushed). */
  close(): void {
    this.#closed = true
  }
}
