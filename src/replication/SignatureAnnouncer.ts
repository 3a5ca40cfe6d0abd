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
    const latest = this.#latestPerActor(documentId, data)
    if (latest.size === 0) return []
    const { store, authorship } = this.#opts
    const bindings: unknown[] = []
    const heads: unknown[] = []
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

  /** Each actor's latest change (highest seq) among those the sync message carries. */
  #latestPerActor(documentId: string, data: Uint8Array): Map<string, { hash: string; seq: number }> {
    const latest = new Map<string, { hash: string; seq: number }>()
    const note = (actor: string, hash: string, seq: number): void => {
      const known = latest.get(actor)
      if (!known || known.seq < seq) latest.set(actor, { hash, seq })
    }
    let decoded: A.DecodedSyncMessage
    try {
      decoded = A.decodeSyncMessage(data)
    } catch {
      return latest // not ours to judge: the receiver refuses what does not decode
    }
    for (const entry of decoded.changes)
      for (const chunk of splitChunks(entry)) {
        if (chunk.type === CHANGE_CHUNK || chunk.type === COMPRESSED_CHANGE_CHUNK) {
          const [h] = changeHeaders([chunk.bytes])
          if (h) note(h.actor, h.hash, h.seq)
        } else if (chunk.type === DOCUMENT_CHUNK) {
          // the whole document at the heads the message names (the replica may have moved on since it was made)
          const doc = this.#opts.docOf(documentId)
          if (doc) for (const c of ancestry(doc, decoded.heads)) note(c.actor, c.hash, c.seq)
        }
      }
    return latest
  }
}

/** The changes of `doc` that `heads` reach (themselves included). */
function ancestry(doc: A.Doc<unknown>, heads: readonly string[]): A.ChangeMetadata[] {
  const byHash = new Map(A.getChangesMetaSince(doc, []).map(c => [c.hash, c]))
  const out: A.ChangeMetadata[] = []
  const seen = new Set<string>()
  const stack = heads.filter(h => byHash.has(h))
  for (const h of stack) seen.add(h)
  while (stack.length > 0) {
    const c = byHash.get(stack.pop()!)!
    out.push(c)
    for (const d of c.deps)
      if (!seen.has(d) && byHash.has(d)) {
        seen.add(d)
        stack.push(d)
      }
  }
  return out
}
