/**
 * The Repo's document saves, with two rules automerge-repo lacks:
 *
 * - **An empty document is never written.** `removeFromCache` (the idle unloader's) unloads
 *   the handle, which sets its document to `A.init()` and emits `heads-changed`; the Repo's
 *   throttled save then fires with that empty document, and its compaction writes an empty
 *   snapshot and removes every chunk the document had: the document is gone from storage
 *   (seen as a reloaded document showing `{}` in `test/storage/idle-unload.test.ts`). A
 *   document with no changes holds nothing to store, so such a save is dropped.
 * - **A document that arrives whole is stored as the bytes that arrived.** A peer's sync
 *   message carrying its saved form, loaded and checked by the inbound gate, would be saved
 *   again by automerge-repo (every column compressed and hashed again): measured here, about
 *   0.8 s for a 62,500-item catalog shard, the largest Automerge cost of a fresh hub's sync.
 *   The bytes are a saved document already, and the replica is exactly what they load to.
 *   While the document's heads are the ones it arrived with, its save writes those bytes as
 *   a snapshot chunk (under the key automerge-repo's own snapshot of those heads would have);
 *   after any later change the Repo's own save runs (a full snapshot, since it never
 *   recorded the arrival) and the arrived chunk is removed, so storage holds one snapshot.
 */
import { createHash } from "node:crypto"
import { EventEmitter } from "node:events"
import * as A from "@automerge/automerge"
import type { DocumentId, Repo, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"

/** The bytes a document arrived as, and the heads they load to. */
interface Arrival {
  bytes: Uint8Array
  heads: string[]
  /** Whether they are in storage (then `key` names them). */
  stored: boolean
  key: StorageKey
}

/**
 * Arrivals remembered (the oldest is forgotten past it). A forgotten stored arrival only
 * means that, once its document changes, the Repo's save leaves the arrived chunk beside
 * its own until the next compaction after a restart (loading still merges both exactly).
 */
const MAX_REMEMBERED = 10_000

/** automerge-repo's snapshot key hash (storage/keyHash.js `headsHash`): SHA-256 of the heads' UTF-8 concatenated, hex. */
export function headsHash(heads: readonly string[]): string {
  const h = createHash("sha256")
  for (const head of heads) h.update(head, "utf8")
  return h.digest("hex")
}

const sameHeads = (a: readonly string[], b: readonly string[]): boolean => {
  if (a.length !== b.length) return false
  const x = [...a].sort()
  const y = [...b].sort()
  return x.every((v, i) => v === y[i])
}

type SaveDoc = (documentId: DocumentId, doc: A.Doc<unknown>) => Promise<void>

export class DocSaves {
  readonly #arrivals = new Map<string, Arrival>()
  readonly #adapter: StorageAdapterInterface
  /** Saves that wrote arrived bytes instead of the Repo's own save (for tests and metrics). */
  storedAsArrived = 0
  /** Saves of an empty document dropped (an unloaded handle's). */
  emptyDropped = 0
  /** `droppedEmpty`: a save of an empty document was dropped. */
  readonly events = new EventEmitter<{ droppedEmpty: [documentId: string] }>()

  constructor(adapter: StorageAdapterInterface) {
    this.#adapter = adapter
  }

  /** Takes over `repo`'s document saves (see the module comment); the Repo must have storage. */
  attach(repo: Repo): void {
    const sub = repo.storageSubsystem
    if (!sub) return
    const own: SaveDoc = sub.saveDoc.bind(sub)
    sub.saveDoc = (documentId, doc) => this.#save(own, documentId, doc)
  }

  /** Whether the document is in storage as the bytes it arrived as (and has not changed since). */
  storedAsIs(documentId: string): boolean {
    return this.#arrivals.get(documentId)?.stored === true
  }

  /** Records that `documentId`'s replica was loaded from exactly `bytes` (a saved document) with `heads`. */
  arrived(documentId: string, bytes: Uint8Array, heads: readonly string[]): void {
    if (this.#arrivals.has(documentId)) return
    if (this.#arrivals.size >= MAX_REMEMBERED) this.#arrivals.delete(this.#arrivals.keys().next().value!)
    // a copy: the message's buffer may be reused by the socket
    this.#arrivals.set(documentId, { bytes: bytes.slice(), heads: [...heads], stored: false, key: [documentId, "snapshot", headsHash(heads)] })
  }

  async #save(own: SaveDoc, documentId: DocumentId, doc: A.Doc<unknown>): Promise<void> {
    if (A.getHeads(doc).length === 0) {
      this.emptyDropped++
      this.events.emit("droppedEmpty", documentId)
      return
    }
    const arrival = this.#arrivals.get(documentId)
    if (!arrival) return own(documentId, doc)
    if (sameHeads(arrival.heads, A.getHeads(doc))) {
      if (arrival.stored) return
      await this.#adapter.save(arrival.key, arrival.bytes)
      arrival.stored = true
      // the bytes are on disk: only the key is needed from here on
      arrival.bytes = new Uint8Array(0)
      this.storedAsArrived++
      return
    }
    // changed since it arrived: the Repo saves it whole (it never saw the arrival), then the arrived chunk goes
    this.#arrivals.delete(documentId)
    await own(documentId, doc)
    if (arrival.stored && arrival.key[2] !== headsHash(A.getHeads(doc))) await this.#adapter.remove(arrival.key)
  }
}
