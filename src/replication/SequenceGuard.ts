/**
 * One actor, one sequence number, one change. Automerge numbers each actor's changes
 * 1, 2, 3…; two different changes with one (actor, seq) cannot both be held ("duplicate
 * seq"), so a writer that signs both — a double spend sent to two sides of a partition —
 * would leave each side with its own version forever, and automerge-repo only logs the
 * failure. The gate asks this guard first, refuses such a change as an equivocation by the
 * actor's author and reports it.
 */
import type { Backend } from "./inspectChanges.ts"

/** A change as the guard needs it. */
export interface SequencedChange {
  hash: string
  actor: string
  seq: number
}

/** A change that repeats a sequence number the replica already holds with another change. */
export interface Equivocation extends SequencedChange {
  /** The change the replica holds under the same actor and sequence number. */
  held: string
}

/** Documents whose highest sequence per actor is remembered; past it the oldest is forgotten. */
const MAX_DOCUMENTS = 1_000

export class SequenceGuard {
  /** Per document: the highest sequence number held per actor (a lower bound: stale only low). */
  #seqs = new Map<string, Map<string, number>>()

  /**
   * The changes of `fresh` (ones the replica does not hold) that reuse a held change's
   * actor and sequence number. Cheap on the common path: a remembered highest sequence per
   * actor; the replica's history is read only to build it and to confirm a suspect.
   */
  duplicates(documentId: string, backend: Backend, fresh: readonly SequencedChange[]): Equivocation[] {
    if (fresh.length === 0) return []
    let seqs = this.#seqs.get(documentId)
    if (!seqs) seqs = this.#build(documentId, backend)
    if (!fresh.some(c => c.seq <= (seqs.get(c.actor) ?? 0))) return []
    // confirm against the history (and refresh what is remembered)
    const held = new Map<string, string>()
    for (const c of backend.getChangesMeta([])) held.set(`${c.actor}:${c.seq}`, c.hash)
    this.#build(documentId, backend)
    return fresh.flatMap(c => {
      const other = held.get(`${c.actor}:${c.seq}`)
      return other !== undefined && other !== c.hash ? [{ ...c, held: other }] : []
    })
  }

  /** Records that `changes` passed and are about to be applied. */
  passed(documentId: string, changes: readonly SequencedChange[]): void {
    const seqs = this.#seqs.get(documentId)
    if (!seqs) return
    for (const c of changes) if (c.seq > (seqs.get(c.actor) ?? 0)) seqs.set(c.actor, c.seq)
  }

  #build(documentId: string, backend: Backend): Map<string, number> {
    const seqs = new Map<string, number>()
    for (const c of backend.getChangesMeta([])) if (c.seq > (seqs.get(c.actor) ?? 0)) seqs.set(c.actor, c.seq)
    this.#seqs.delete(documentId)
    this.#seqs.set(documentId, seqs)
    if (this.#seqs.size > MAX_DOCUMENTS) this.#seqs.delete(this.#seqs.keys().next().value!)
    return seqs
  }
}
