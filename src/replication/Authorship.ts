/**
 * This hub as an author (docs/ACCESS.md §2, §3): it writes each governed document under
 * its own derived actor, bound to its node id by a signed binding, and signs heads over
 * its changes when it sends them, so every hub can check who wrote what.
 */
import * as A from "@automerge/automerge"
import type { DocHandle } from "@automerge/automerge-repo"
import type { Identity } from "../identity/index.ts"
import { actorIdFor, bindActor } from "./access/actorBinding.ts"
import { signHeads, type SignedHeadsRecord } from "./access/signedHeads.ts"
import type { SignatureStore } from "./SignatureStore.ts"

/** Epochs each process slot owns when several processes share one identity (slot k: k·2^24 … (k+1)·2^24 − 1). */
export const EPOCHS_PER_SLOT = 2 ** 24

export class Authorship {
  readonly identity: Identity
  readonly store: SignatureStore
  /** The first epoch of this process's range (0 for a hub alone): processes of one identity never share an actor. */
  readonly epochBase: number

  constructor(identity: Identity, store: SignatureStore, opts: { slot?: number } = {}) {
    this.identity = identity
    this.store = store
    this.epochBase = (opts.slot ?? 0) * EPOCHS_PER_SLOT
  }

  /**
   * The actor this hub writes `documentId` under, its binding signed and kept. A new epoch
   * (a new actor) is taken when `doc` lacks this hub's last signed change of the current
   * one: its history of that actor is incomplete (a restored backup), and reusing the actor
   * would repeat sequence numbers.
   */
  actorFor(documentId: string, doc?: A.Doc<unknown>): string {
    const nodeId = this.identity.nodeId
    const epochs = this.store
      .bindings(documentId)
      .filter(b => b.signer === nodeId && b.payload.epoch >= this.epochBase && b.payload.epoch < this.epochBase + EPOCHS_PER_SLOT)
      .map(b => b.payload.epoch)
    let epoch = epochs.length > 0 ? Math.max(...epochs) : this.epochBase
    if (epochs.length > 0 && doc) {
      const last = this.store.headsOf(documentId, actorIdFor(nodeId, documentId, epoch)).at(-1)
      if (last && !A.hasHeads(doc, last.payload.heads)) epoch++
    }
    const actor = actorIdFor(nodeId, documentId, epoch)
    if (!this.store.binding(documentId, actor)) this.store.keepOwn(documentId, bindActor(this.identity, documentId, { epoch }), "binding")
    return actor
  }

  /** Makes this hub's next changes to the handle's document under its bound actor (call before `change`). */
  adopt<T>(handle: DocHandle<T>): void {
    const doc = handle.doc()
    const actor = this.actorFor(handle.documentId, doc as A.Doc<unknown>)
    if (A.getActorId(doc) !== actor) handle.update(d => A.clone(d, { actor }))
  }

  /** Whether `actor` is one of this hub's in the document. */
  owns(documentId: string, actor: string): boolean {
    return this.store.authorOf(documentId, actor) === this.identity.nodeId
  }

  /**
   * This hub's latest change in the document, if any: found among the changes since its
   * last signed heads (a few, when it signs as it writes), or in the whole history otherwise.
   */
  latestOwn(documentId: string, doc: A.Doc<unknown>): { actor: string; hash: string } | undefined {
    const own = this.store.bindings(documentId).filter(b => b.signer === this.identity.nodeId)
    if (own.length === 0) return undefined
    const signed = own.flatMap(b => this.store.headsOf(documentId, b.payload.actorId).slice(-1)).flatMap(r => r.payload.heads)
    const known = signed.filter(h => A.hasHeads(doc, [h]))
    let best: { actor: string; hash: string; seq: number } | undefined
    const actors = new Set(own.map(b => b.payload.actorId))
    for (const c of A.getChangesMetaSince(doc, known)) if (actors.has(c.actor) && (!best || best.seq < c.seq)) best = { actor: c.actor, hash: c.hash, seq: c.seq }
    if (best) return best
    const last = own.flatMap(b => this.store.headsOf(documentId, b.payload.actorId).slice(-1)).find(r => r.payload.heads.some(h => A.hasHeads(doc, [h])))
    return last ? { actor: last.payload.actor, hash: last.payload.heads[0]! } : undefined
  }

  /** Signs this hub's change that is now the document's only head (call right after a local change). */
  signLatest<T>(handle: DocHandle<T>): void {
    const doc = handle.doc() as A.Doc<unknown>
    const heads = A.getHeads(doc)
    const actor = A.getActorId(doc)
    if (heads.length === 1 && this.owns(handle.documentId, actor)) this.headsFor(handle.documentId, actor, heads[0]!)
  }

  /** Signed heads over this hub's change `hash` of `actor` (signed now when none names it yet). */
  headsFor(documentId: string, actor: string, hash: string): SignedHeadsRecord {
    const known = this.store.headsNaming(documentId, hash)
    if (known) return known
    const record = signHeads(this.identity, documentId, actor, [hash])
    this.store.keepOwn(documentId, record, "heads")
    return record
  }
}
