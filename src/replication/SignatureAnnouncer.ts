/**
 * Sends the signatures of the changes a sync message carries just before it
 * (docs/ACCESS.md §6): for every actor in the message, its binding and the signed heads
 * naming its latest change there — signed now when that change is this hub's own, the
 * author's record when this hub forwards another node's changes. A change's hash covers
 * its ancestors and a sync message carries every descendant of what it sends, so one
 * record per actor and message covers all of it.
 */
import * as A from "@automerge/automerge"
import type { Message, PeerId } from "@automerge/automerge-repo/slim"
import { changeHeaders } from "./access/changeHeader.ts"
import { recordId } from "./access/policy.ts"
import type { Authorship } from "./Authorship.ts"
import { splitChunks } from "./inspectChanges.ts"
import type { SignatureStore } from "./SignatureStore.ts"
import type { SignaturesFrame } from "./wire.ts"

/** The frame type of bindings and signed heads (never passed to automerge-repo). */
export const SIGNATURES_FRAME: SignaturesFrame["type"] = "fedhub-signatures"

/** Most bindings, and most signed heads, in one frame. */
export const MAX_SIGNATURE_RECORDS_PER_FRAME = 200

/** Most record keys remembered as sent per peer (past it, records may be sent twice: harmless). */
const MAX_SENT_PER_PEER = 100_000

const CHANGE_CHUNK = 1
const COMPRESSED_CHANGE_CHUNK = 2
const DOCUMENT_CHUNK = 0

export interface SignatureAnnouncerOptions {
  authorship: Authorship
  store: SignatureStore
  /** Whether changes of the document are checked (it has a policy): only those carry signatures. */
  governed: (documentId: string) => boolean
  /** This hub's replica of a document (for a message carrying the whole document). */
  docOf: (documentId: string) => A.Doc<unknown> | undefined
}

export class SignatureAnnouncer {
  readonly #opts: SignatureAnnouncerOptions
  #sent = new Map<string, Set<string>>() // peer → "doc record-key" sent on this connection

  constructor(opts: SignatureAnnouncerOptions) {
    this.#opts = opts
  }

  /** The frames to send `message`'s target first (none when it carries no changes or the target has them all). */
  framesFor(self: PeerId, message: Message): SignaturesFrame[] {
    const { documentId, targetId } = message
    const data = (message as { data?: unknown }).data
    if (!documentId || (message.type !== "sync" && message.type !== "request") || !(data instanceof Uint8Array)) return []
    if (!this.#opts.governed(documentId)) return []
    const { latest, whole } = this.#latestPerActor(data)
    if (latest.size === 0 && !whole) return []
    const { store, authorship } = this.#opts
    const bindings: unknown[] = []
    const heads: unknown[] = []
    if (whole) {
      // the whole document: every binding and every kept record, and our own latest change signed
      for (const b of store.bindings(documentId)) {
        bindings.push(b)
        heads.push(...store.headsOf(documentId, b.payload.actorId))
      }
      const doc = this.#opts.docOf(documentId)
      const own = doc && authorship.latestOwn(documentId, doc)
      if (own) heads.push(authorship.headsFor(documentId, own.actor, own.hash))
    }
    for (const [actor, { hash }] of latest) {
      const binding = store.binding(documentId, actor)
      if (binding) bindings.push(binding)
      if (authorship.owns(documentId, actor)) heads.push(authorship.headsFor(documentId, actor, hash))
      else {
        const record = store.headsNaming(documentId, hash)
        heads.push(...(record ? [record] : store.headsOf(documentId, actor)))
      }
    }
    let sent = this.#sent.get(targetId)
    if (!sent || sent.size > MAX_SENT_PER_PEER) this.#sent.set(targetId, (sent = new Set()))
    const fresh = (records: unknown[]): unknown[] =>
      records.filter(r => {
        const key = `${documentId} ${recordId(r)}`
        if (sent.has(key)) return false
        sent.add(key)
        return true
      })
    const b = fresh(bindings)
    const h = fresh(heads)
    const frames: SignaturesFrame[] = []
    for (let i = 0; i < Math.max(b.length, h.length); i += MAX_SIGNATURE_RECORDS_PER_FRAME)
      frames.push({
        type: SIGNATURES_FRAME,
        senderId: self,
        targetId,
        documentId,
        bindings: b.slice(i, i + MAX_SIGNATURE_RECORDS_PER_FRAME),
        heads: h.slice(i, i + MAX_SIGNATURE_RECORDS_PER_FRAME),
      })
    return frames
  }

  /** Forgets what a peer was sent (it disconnected: it gets everything again next time). */
  forget(peerId: string): void {
    this.#sent.delete(peerId)
  }

  /** Each actor's latest change (highest seq) among the change chunks of the sync message, and whether it carries a whole document. */
  #latestPerActor(data: Uint8Array): { latest: Map<string, { hash: string; seq: number }>; whole: boolean } {
    const latest = new Map<string, { hash: string; seq: number }>()
    let whole = false
    let decoded: A.DecodedSyncMessage
    try {
      decoded = A.decodeSyncMessage(data)
    } catch {
      return { latest, whole } // not ours to judge: the receiver refuses what does not decode
    }
    for (const entry of decoded.changes)
      for (const chunk of splitChunks(entry)) {
        if (chunk.type === DOCUMENT_CHUNK) whole = true
        else if (chunk.type === CHANGE_CHUNK || chunk.type === COMPRESSED_CHANGE_CHUNK) {
          const [h] = changeHeaders([chunk.bytes])
          const known = h && latest.get(h.actor)
          if (h && (!known || known.seq < h.seq)) latest.set(h.actor, { hash: h.hash, seq: h.seq })
        }
      }
    return { latest, whole }
  }
}
