/**
 * Which documents this hub holds, known without loading them: every document whose
 * content reaches storage is recorded (the storage wrapper below reports each save),
 * kept in `documents.json`, and rebuilt from storage when that file is missing.
 * automerge-repo's Repo `"document"` event is declared but never emitted, so the
 * index is fed from storage, the one place every held document passes through.
 */
import { readFile, rename, writeFile } from "node:fs/promises"
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import { isValidDocumentId } from "@automerge/automerge-repo"

/** Storage key kinds that hold document content (sync states are per peer, not content). */
const CONTENT_KINDS: ReadonlySet<string> = new Set(["incremental", "snapshot"])

/** A storage adapter that reports every document whose content it saves. */
export class IndexingStorage implements StorageAdapterInterface {
  readonly #inner: StorageAdapterInterface
  readonly #onStored: (documentId: string) => void

  constructor(inner: StorageAdapterInterface, onStored: (documentId: string) => void) {
    this.#inner = inner
    this.#onStored = onStored
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#inner.load(key)
  }

  loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    return this.#inner.loadRange(keyPrefix)
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    await this.#inner.save(key, data)
    if (key.length >= 2 && CONTENT_KINDS.has(key[1]!)) this.#onStored(key[0]!)
  }

  remove(key: StorageKey): Promise<void> {
    return this.#inner.remove(key)
  }

  removeRange(keyPrefix: StorageKey): Promise<void> {
    return this.#inner.removeRange(keyPrefix)
  }
}

interface IndexFile {
  version: 2
  documents: string[]
}

/** The set of documents a hub holds, persisted beside its storage. */
export class DocIndex {
  readonly path: string
  #ids = new Set<string>()
  #dirty?: NodeJS.Timeout
  #saving: Promise<void> = Promise.resolve()
  #onError: (e: unknown) => void

  private constructor(path: string, onError: (e: unknown) => void) {
    this.path = path
    this.#onError = onError
  }

  /**
   * Opens the index at `path`; when the file is missing or unreadable, rebuilds it from
   * `stored()` (the ids found in storage). `onError` hears failed saves.
   */
  static async open(path: string, stored: () => Promise<string[]>, onError: (e: unknown) => void): Promise<DocIndex> {
    const index = new DocIndex(path, onError)
    const listed = await readIndexFile(path)
    for (const id of listed ?? (await stored())) if (isValidDocumentId(id)) index.#ids.add(id)
    if (!listed) await index.save()
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

  /** Records a held document; the file is written shortly after (coalesced). */
  add(documentId: string): void {
    if (this.#ids.has(documentId) || !isValidDocumentId(documentId)) return
    this.#ids.add(documentId)
    this.#dirty ??= setTimeout(() => {
      this.#dirty = undefined
      this.save().catch(this.#onError)
    }, 100)
  }

  /** Writes the file now (atomic rename); resolves when written. */
  save(): Promise<void> {
    clearTimeout(this.#dirty)
    this.#dirty = undefined
    this.#saving = this.#saving
      .catch(() => {})
      .then(async () => {
        const body = JSON.stringify({ version: 2, documents: this.ids() } satisfies IndexFile) + "\n"
        const tmp = `${this.path}.${process.pid}.tmp`
        await writeFile(tmp, body, { mode: 0o600 })
        await rename(tmp, this.path)
      })
    return this.#saving
  }
}

/** The ids in an index file, or undefined when it is missing or unreadable (then it is rebuilt). */
async function readIndexFile(path: string): Promise<string[] | undefined> {
  let text: string
  try {
    text = await readFile(path, "utf8")
  } catch {
    return undefined
  }
  try {
    const parsed = JSON.parse(text) as Partial<IndexFile> | unknown[]
    // version 1 was a bare list filled from an event automerge-repo never emits: rebuild it
    if (Array.isArray(parsed) || parsed.version !== 2 || !Array.isArray(parsed.documents)) return undefined
    return parsed.documents.filter((x): x is string => typeof x === "string" && isValidDocumentId(x))
  } catch {
    return undefined
  }
}
