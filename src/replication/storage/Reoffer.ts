/**
 * Under idle unloading a hub keeps few documents loaded, and automerge-repo offers a peer
 * only what is loaded. So when a hub connects, every held document it may have is loaded
 * a batch at a time, synced with it (until it holds all our heads, or says it will not
 * take it, or a timeout), and unloaded again: a peer that was away converges, and memory
 * stays bounded by one batch.
 */
import { EventEmitter } from "node:events"
import * as A from "@automerge/automerge"
import type { DocumentId, PeerId, Repo } from "@automerge/automerge-repo"

export interface ReofferOptions {
  /** The documents this hub holds (the DocIndex), without loading them. */
  held: () => string[]
  /** Whether a document is offered to a peer (the share gate's `announce`). */
  announce: (peerId: PeerId, documentId: string) => Promise<boolean>
  /** Documents loaded at once (default 32). */
  batch?: number
  /** Longest wait for one batch to sync (ms, default 10 s). */
  timeoutMs?: number
  /** Documents to leave loaded after their sync. */
  pinned?: (documentId: string) => boolean
}

export interface ReofferResult {
  peerId: PeerId
  /** Documents loaded and offered. */
  offered: number
  /** Of those, how many the peer confirmed (holds our heads, or refused the document). */
  settled: number
}

interface Events {
  done: [ReofferResult]
}

export class Reoffer {
  readonly events = new EventEmitter<Events>()
  readonly #repo: Repo
  readonly #opts: ReofferOptions
  readonly #running = new Map<PeerId, Promise<ReofferResult>>()
  #stopped = false

  constructor(repo: Repo, opts: ReofferOptions) {
    this.#repo = repo
    this.#opts = opts
  }

  /** Offers a peer every held document that is not loaded; one run per peer at a time. */
  offer(peerId: PeerId): Promise<ReofferResult> {
    let run = this.#running.get(peerId)
    if (!run) {
      run = this.#run(peerId).finally(() => this.#running.delete(peerId))
      this.#running.set(peerId, run)
    }
    return run
  }

  /** Ends every run after its current batch. */
  stop(): void {
    this.#stopped = true
  }

  async #run(peerId: PeerId): Promise<ReofferResult> {
    const result: ReofferResult = { peerId, offered: 0, settled: 0 }
    const size = this.#opts.batch ?? 32
    const ids = this.#opts.held()
    for (let i = 0; i < ids.length && this.#live(peerId); ) {
      const batch: string[] = []
      while (batch.length < size && i < ids.length) {
        const id = ids[i++]!
        if (this.#repo.handles[id as DocumentId]) continue // loaded: the Repo syncs it already
        if (await this.#opts.announce(peerId, id).catch(() => false)) batch.push(id)
      }
      if (batch.length === 0) continue
      result.offered += batch.length
      result.settled += await this.#syncBatch(peerId, batch)
    }
    this.events.emit("done", result)
    return result
  }

  #live(peerId: PeerId): boolean {
    return !this.#stopped && this.#repo.peers.includes(peerId)
  }

  /** Loads a batch, waits until the peer settled each document (or the timeout), unloads them. */
  async #syncBatch(peerId: PeerId, batch: string[]): Promise<number> {
    const pending = new Set(batch)
    let settle!: () => void
    const allSettled = new Promise<void>(resolve => (settle = resolve))
    const done = (id: string) => {
      if (pending.delete(id) && pending.size === 0) settle()
    }
    const onState = ({ peerId: p, documentId, syncState }: { peerId: PeerId; documentId: DocumentId; syncState: A.SyncState }) => {
      if (p !== peerId || !pending.has(documentId)) return
      const handle = this.#repo.handles[documentId]
      if (!handle?.isReady()) return
      const known = new Set([...(syncState.theirHeads ?? []), ...syncState.sharedHeads])
      if (A.getHeads(handle.doc()).every(h => known.has(h))) done(documentId)
    }
    const onMessage = (message: object) => {
      const m = message as { type?: string; senderId?: string; documentId?: string }
      if (m.type === "doc-unavailable" && m.senderId === peerId && m.documentId) done(m.documentId)
    }
    this.#repo.synchronizer.on("sync-state", onState)
    this.#repo.networkSubsystem.on("message", onMessage)
    const timer = setTimeout(settle, this.#opts.timeoutMs ?? 10_000)
    try {
      const signal = AbortSignal.timeout(this.#opts.timeoutMs ?? 10_000)
      await Promise.allSettled(batch.map(id => this.#repo.find(id as DocumentId, { signal }).catch(() => done(id))))
      await allSettled
    } finally {
      clearTimeout(timer)
      this.#repo.synchronizer.off("sync-state", onState)
      this.#repo.networkSubsystem.off("message", onMessage)
    }
    const loaded = batch.filter(id => this.#repo.handles[id as DocumentId]?.isReady() && !this.#opts.pinned?.(id)) as DocumentId[]
    await this.#repo.flush(loaded)
    await Promise.allSettled(loaded.map(id => this.#repo.removeFromCache(id)))
    return batch.length - pending.size
  }
}
