/**
 * An append-only log of JSON lines, the persistence of the record stores (policies): one
 * line per record, appended and fsynced, so a record costs its own size to keep instead of a
 * rewrite of everything held. A backend is either a file (JSONL in the home) or shared
 * (PostgreSQL, `storage/PostgresRecordLog.ts`), when several hub processes hold one identity.
 */
import { open, rename, type FileHandle } from "node:fs/promises"
import { dirname } from "node:path"
import { readOptionalFile } from "./jsonFile.ts"

/** Where a store keeps its lines. */
export interface RecordLog {
  /** Every line kept, oldest first. */
  load(): Promise<unknown[]>
  /** Appends lines; resolves once they are durable (acknowledged = on disk). */
  append(lines: readonly unknown[]): Promise<void>
  /** Replaces the whole log with `lines`, atomically (compaction); absent on logs that never compact. */
  rewrite?(lines: readonly unknown[]): Promise<void>
  /** Calls `listener` with lines other processes appended (shared logs only). */
  onRemote?(listener: (lines: unknown[]) => void): void
  /** Waits for pending writes and writes no more. */
  close(): Promise<void>
}

/**
 * The log as a JSONL file. Durability: an `append` resolves after `fdatasync`; appends
 * that arrive while one is syncing are written together with the next one (group commit),
 * so many concurrent records cost one sync. On open a torn last line (a crash mid-write) is
 * ignored and cut off, so the next append starts on a clean line; a rewrite goes through a
 * temporary file, its sync, a rename and a sync of the folder.
 */
export class JsonlFileLog implements RecordLog {
  readonly path: string
  #pending: { line: string; done: () => void; fail: (e: unknown) => void }[] = []
  #writing?: Promise<void>
  #draining = false
  #closed = false
  /** Lines ignored on the last load (a torn tail, or lines that are not JSON). */
  ignored = 0

  constructor(path: string) {
    this.path = path
  }

  async load(): Promise<unknown[]> {
    const text = await readOptionalFile(this.path)
    if (text === undefined) return []
    const lines: unknown[] = []
    this.ignored = 0
    const complete = text.lastIndexOf("\n") + 1
    for (const raw of text.slice(0, complete).split("\n")) {
      if (raw.trim() === "") continue
      try {
        lines.push(JSON.parse(raw))
      } catch {
        this.ignored++
      }
    }
    if (complete < text.length) {
      // a torn last line: never acknowledged (its sync did not return), cut so appends start clean
      this.ignored++
      const fh = await open(this.path, "r+")
      try {
        await fh.truncate(Buffer.byteLength(text.slice(0, complete)))
        await fh.datasync()
      } finally {
        await fh.close()
      }
    }
    return lines
  }

  append(lines: readonly unknown[]): Promise<void> {
    if (this.#closed || lines.length === 0) return Promise.resolve()
    const body = lines.map(l => JSON.stringify(l) + "\n").join("")
    const written = new Promise<void>((done, fail) => this.#pending.push({ line: body, done, fail }))
    if (!this.#draining) {
      this.#draining = true
      this.#writing = this.#drain()
    }
    return written
  }

  /** Writes and syncs what is pending, batch after batch, until nothing is. */
  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0)
        try {
          // opened per batch (one open beside one sync), so a store nobody closes leaks no descriptor
          const fh = await this.#openForAppend()
          try {
            await fh.write(batch.map(b => b.line).join(""))
            await fh.datasync()
          } finally {
            await fh.close()
          }
          for (const b of batch) b.done()
        } catch (e) {
          for (const b of batch) b.fail(e)
        }
      }
    } finally {
      // cleared in the very turn that found #pending empty (no await between): a later append starts a new drain
      this.#draining = false
    }
  }

  #created = false

  async #openForAppend(): Promise<FileHandle> {
    if (this.#created) return open(this.path, "a", 0o600)
    const fh = await open(this.path, "a", 0o600)
    if ((await fh.stat()).size === 0) await syncDir(dirname(this.path)) // a new file: its name is durable too
    this.#created = true
    return fh
  }

  async rewrite(lines: readonly unknown[]): Promise<void> {
    await this.#writing
    const tmp = `${this.path}.${process.pid}.tmp`
    const fh = await open(tmp, "w", 0o600)
    try {
      await fh.write(lines.map(l => JSON.stringify(l) + "\n").join(""))
      await fh.datasync()
    } finally {
      await fh.close()
    }
    await rename(tmp, this.path)
    await syncDir(dirname(this.path))
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#writing?.catch(() => {})
  }
}

/** Makes a folder's entries (a created or renamed file) durable; some platforms cannot open a folder, which is then skipped. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined
  try {
    fh = await open(dir, "r")
    await fh.sync()
  } catch {
    // not supported here (e.g. Windows): the rename itself is still atomic
  } finally {
    await fh?.close().catch(() => {})
  }
}
