/**
 * Memory bounded by use: a document nobody touched for `idleMs` (no message in or out, no
 * new heads) is flushed and dropped from the Repo (`repo.removeFromCache`). The next
 * request from a peer or a client loads it from storage again; policy checks never need it.
 */
import type { DocumentId, Repo } from "@automerge/automerge-repo"

export interface IdleUnloaderOptions {
  /** Unused this long (ms), a document is unloaded. */
  idleMs: number
  /** Documents never unloaded (handles other parts keep, e.g. this hub's directory). */
  pinned?: (documentId: string) => boolean
  onError?: (documentId: string, err: unknown) => void
}

/** Longer than the Repo's save throttle (automerge-repo's default saveDebounceRate is 100 ms). */
const SAVE_DRAIN_MS = 150

export class IdleUnloader {
  readonly #repo: Repo
  readonly #opts: IdleUnloaderOptions
  /** When each loaded document was last seen in use, and its heads then. */
  readonly #lastUse = new Map<string, { at: number; heads: string }>()
  #timer?: NodeJS.Timeout
  #sweeping?: Promise<string[]>
  /** Documents unloaded since start. */
  unloaded = 0

  constructor(repo: Repo, opts: IdleUnloaderOptions) {
    this.#repo = repo
    this.#opts = opts
    const touch = (m: object) => {
      const id = (m as { documentId?: string }).documentId
      if (id) this.touch(id)
    }
    repo.networkSubsystem.on("message", touch)
    repo.synchronizer.on("message", touch)
  }

  /** Marks a document as in use now. */
  touch(documentId: string, now = Date.now()): void {
    const seen = this.#lastUse.get(documentId)
    if (seen) seen.at = now
  }

  /** Sweeps every `min(idleMs / 2, 60 s)` until `stop`. */
  start(): void {
    const every = Math.max(100, Math.min(Math.floor(this.#opts.idleMs / 2), 60_000))
    this.#timer = setInterval(() => void this.sweep().catch(() => {}), every)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /**
   * Notes newly loaded or changed documents as in use at `now`, and unloads those idle
   * for `idleMs` (after flushing them). Returns the ids unloaded; one sweep runs at a time.
   */
  sweep(now = Date.now()): Promise<string[]> {
    this.#sweeping ??= this.#sweep(now).finally(() => (this.#sweeping = undefined))
    return this.#sweeping
  }

  async #sweep(now: number): Promise<string[]> {
    const handles = this.#repo.handles
    for (const id of this.#lastUse.keys()) if (!handles[id as DocumentId]) this.#lastUse.delete(id)
    const idle: DocumentId[] = []
    for (const [id, handle] of Object.entries(handles)) {
      if (!handle.isReady() || this.#opts.pinned?.(id)) continue
      const heads = handle.heads().join(",")
      const seen = this.#lastUse.get(id)
      if (!seen || seen.heads !== heads) this.#lastUse.set(id, { at: now, heads })
      else if (now - seen.at >= this.#opts.idleMs) idle.push(id as DocumentId)
    }
    if (idle.length === 0) return []
    await this.#repo.flush(idle)
    // a save the Repo throttled (it fires up to its debounce later, and may compact) must not
    // run while the document is reloaded from storage: let it fire, then flush once more
    await new Promise(resolve => setTimeout(resolve, SAVE_DRAIN_MS).unref())
    await this.#repo.flush(idle)
    const done: string[] = []
    for (const id of idle) {
      const seen = this.#lastUse.get(id)
      // used while flushing (a message came in): kept
      if (!seen || now - seen.at < this.#opts.idleMs) continue
      try {
        await this.#repo.removeFromCache(id)
        this.#lastUse.delete(id)
        done.push(id)
        this.unloaded++
      } catch (e) {
        this.#opts.onError?.(id, e)
      }
    }
    return done
  }
}
