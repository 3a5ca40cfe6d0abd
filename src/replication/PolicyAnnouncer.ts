/**
 * Carries policy records beside the documents they govern: before a hub sends a peer
 * anything about a document, it sends the records of that document's policy the peer has
 * not had from it yet, in a `fedhub-policy` frame (docs/ACCESS.md), so the peer knows the
 * policy before the first change and can enforce it as a relay or a replica. A policy
 * that changes later is pushed at once to the peers that were sent the document's records,
 * without waiting for the document's next sync message.
 */
import type { Message, PeerId } from "@automerge/automerge-repo/slim"
import { recordId } from "./access/policy.ts"
import type { PolicyStore } from "./PolicyStore.ts"
import type { PolicyFrame } from "./wire.ts"

/** The frame type of policy records (never passed to automerge-repo). */
export const POLICY_FRAME: PolicyFrame["type"] = "fedhub-policy"

/** Most records in one frame. */
export const MAX_POLICY_RECORDS_PER_FRAME = 200

export class PolicyAnnouncer {
  readonly #store: PolicyStore
  #sent = new Map<string, Set<string>>() // peer → "doc record" keys sent
  #peersOf = new Map<string, Set<string>>() // document → peers sent some of its records

  constructor(store: PolicyStore) {
    this.#store = store
  }

  /** The frames to send `message`'s target first (none when it has every record already). */
  framesFor(self: PeerId, message: Message): PolicyFrame[] {
    const { documentId, targetId } = message
    if (!documentId || (message.type !== "sync" && message.type !== "request")) return []
    return this.#fresh(self, targetId, documentId)
  }

  /**
   * The frames that bring a changed policy to every peer already sent records of the
   * document (and still connected): its new records only.
   */
  pushFor(self: PeerId, documentId: string): PolicyFrame[] {
    const peers = this.#peersOf.get(documentId)
    if (!peers) return []
    return [...peers].flatMap(peer => (this.#sent.has(peer) ? this.#fresh(self, peer as PeerId, documentId) : (peers.delete(peer), [])))
  }

  #fresh(self: PeerId, targetId: PeerId, documentId: string): PolicyFrame[] {
    const records = this.#store.records(documentId)
    if (records.length === 0) return []
    let sent = this.#sent.get(targetId)
    if (!sent) this.#sent.set(targetId, (sent = new Set()))
    const fresh = records.filter(r => !sent.has(`${documentId} ${recordId(r)}`))
    if (fresh.length === 0) return []
    for (const r of fresh) sent.add(`${documentId} ${recordId(r)}`)
    let peers = this.#peersOf.get(documentId)
    if (!peers) this.#peersOf.set(documentId, (peers = new Set()))
    peers.add(targetId)
    const frames: PolicyFrame[] = []
    for (let i = 0; i < fresh.length; i += MAX_POLICY_RECORDS_PER_FRAME)
      frames.push({ type: POLICY_FRAME, senderId: self, targetId, documentId, records: fresh.slice(i, i + MAX_POLICY_RECORDS_PER_FRAME) })
    return frames
  }

  /** Forgets what a peer was sent (it disconnected: it gets everything again next time). */
  forget(peerId: string): void {
    this.#sent.delete(peerId)
  }
}
