/**
 * Which documents this hub holds, known without loading them. A document is recorded
 * before its first content chunk reaches storage (write-ahead: the storage wrapper below
 * waits for it), so the index always covers storage, also after a crash. The file is
 * append-only, one document id per line (`documents.idx` in the home), and rebuilt from
 * storage when missing. automerge-repo's Repo `"document"` event is declared but never
 * emitted, so the index is fed from storage, the one place every held document passes.
 */
import { appendFile } from "node:fs/promises"
import { readOptionalFile, writeFileAtomic } from "./jsonFile.ts"
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import { isValidDocumentId } from "@automerge/automerge-repo"

/** Storage key kinds that hold document content (sync states are per peer, not content). */
const CONTENT_KINDS: ReadonlySet<string> = new Set(["incremental", "snapshot"])

/** A storage adapter that has every document recorded (awaited) before its content is saved. */
export class IndexingStorage implements StorageAdapterInterface {
  readonly #inner: StorageAdapterInterface
  readonly #record: (documentId: string) => Promise<void>

  constructor(inner: StorageAdapterInterface, record: (documentId: string) => Promise<void>) {
    this.#inner = inner
    this.#record = record
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#inner.load(key)
  }

  loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    return this.#inner.loadRange(keyPrefix)
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    if (key.length >= 2 && CONTENT_KINDS.has(key[1]!)) await this.#record(key[0]!)
    await this.#inner.save(key, data)
  }

  remove(key: StorageKey): Promise<void> {
    return this.#inner.remove(key)
  }

  removeRange(keyPrefix: StorageKey): Promise<void> {
    return this.#inner.removeRange(keyPrefix)
  }
}

/** The set of documents a hub holds, persisted beside its storage. */
export class DocIndex {
  readonly path: string
  #ids = new Set<string>()
  /** Ids waiting for the next append, and the append that will carry them. */
  #pending: string[] = []
  #appending?: Promise<void>
  /** The latest append started: once it settles, every id recorded before it is in the file. */
  #last: Promise<void> = Promise.resolve()

  private constructor(path: string) {
    this.path = path
  }

  /**
   * Opens the index at `path`; when the file is missing, rebuilds it from `listStored()`
   * (the ids found in storage) and writes it whole.
   */
  static async open(path: string, listStored: () => Promise<string[]>): Promise<DocIndex> {
    const index = new DocIndex(path)
    const listed = await readIndexFile(path)
    for (const id of listed ?? (await listStored())) if (isValidDocumentId(id)) index.#ids.add(id)
    if (!listed) {
      await writeFileAtomic(path, index.ids().map(id => `${id}\n`).join(""))
    }
    return index
  }

  has(documentId: string): boolean {
    return this.#ids.has(documentId)
  }

  get size(): number {
    return this.#ids.size
  }

  ids(): string[] {
    return [...this.#ids]
  }

  /**
   * Records a held document; resolves once it is in the file. Records made while an
   * append is running share the next one, so a burst of new documents costs few writes.
   */
  record(documentId: string): Promise<void> {
    if (this.#ids.has(documentId)) return this.#appending ?? this.#last
    if (!isValidDocumentId(documentId)) return Promise.resolve()
    this.#ids.add(documentId)
    this.#pending.push(documentId)
    if (!this.#appending) {
      const previous = this.#last.catch(() => {})
      this.#appending = this.#last = previous.then(async () => {
        const lines = this.#pending.map(id => `${id}\n`).join("")
        this.#pending = []
        this.#appending = undefined
        await appendFile(this.path, lines, { mode: 0o600 })
      })
    }
    return this.#appending
  }
}

/** The ids in an index file, or undefined when it is missing (then it is rebuilt). */
async function readIndexFile(path: string): Promise<string[] | undefined> {
  return (await readOptionalFile(path))?.split("\n").filter(line => line.length > 0)
}
