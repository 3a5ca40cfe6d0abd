/**
 * This hub as an author (docs/ACCESS.md §2, §3): it writes each governed document under
 * its own derived actor, bound to its node id by a signed binding, and signs heads over
 * its changes when it sends them, so every hub can check who wrote what.
 */
import * as A from "@automerge/automerge"
import type { DocHandle } from "@automerge/automerge-repo"
import type { Identity } from "../identity/index.ts"
import { randomInt } from "node:crypto"
import { MAX_EPOCH, actorIdFor, bindActor } from "./access/actorBinding.ts"
import { signHeads, type SignedHeadsRecord } from "./access/signedHeads.ts"
import type { SignatureStore } from "./SignatureStore.ts"
import { holdsChange } from "./changeHashes.ts"

export class Authorship {
  readonly identity: Identity
  readonly store: SignatureStore
  /** The epoch this run writes each document under (chosen on its first write). */
  readonly #epochs = new Map<string, number>()

  constructor(identity: Identity, store: SignatureStore) {
    this.identity = identity
    this.store = store
  }

  /**
   * The actor this hub writes `documentId` under, its binding signed and kept. Each run of
   * the hub (each `Authorship`) takes a fresh random epoch on its first write to a document:
   * two processes of one identity (a restored backup started beside the original, several
   * processes on one database) then never write two different changes under one actor and
   * sequence number, which Automerge cannot merge ("duplicate seq") — their forks merge, and
   * what one signed twice (a double spend) is seen by the records' own rules.
   */
  actorFor(documentId: string): string {
    const nodeId = this.identity.nodeId
    let epoch = this.#epochs.get(documentId)
    if (epoch === undefined) {
      const taken = new Set(this.store.bindings(documentId).filter(b => b.signer === nodeId).map(b => b.payload.epoch))
      do epoch = randomInt(0, MAX_EPOCH + 1)
      while (taken.has(epoch))
      this.#epochs.set(documentId, epoch)
    }
    const actor = actorIdFor(nodeId, documentId, epoch)
    if (!this.store.binding(documentId, actor)) this.store.keepOwn(documentId, bindActor(this.identity, documentId, { epoch }), "binding")
    return actor
  }

  /** Makes this hub's next changes to the handle's document under its bound actor (call before `change`). */
  adopt<T>(handle: DocHandle<T>): void {
    const doc = handle.doc()
    const actor = this.actorFor(handle.documentId)
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
    const known = signed.filter(h => holdsChange(doc, h))
    let best: { actor: string; hash: string; seq: number } | undefined
    const actors = new Set(own.map(b => b.payload.actorId))
    for (const c of A.getChangesMetaSince(doc, known)) if (actors.has(c.actor) && (!best || best.seq < c.seq)) best = { actor: c.actor, hash: c.hash, seq: c.seq }
    if (best) return best
    const last = own.flatMap(b => this.store.headsOf(documentId, b.payload.actorId).slice(-1)).find(r => r.payload.heads.some(h => holdsChange(doc, h)))
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
