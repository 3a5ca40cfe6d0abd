/**
 * Whether a document holds a change, by its metadata. `A.hasHeads` builds the bytes of
 * each change it checks: for a catalog shard published in one 17 MB change that is about
 * 0.4 s a call, and the signature announcer asks on every sync message it sends (39 s of
 * an origin's CPU in a 1M-item sync).
 */
import * as A from "@automerge/automerge"

/** Whether `doc` holds the change `hash` (false for a malformed hash). */
export function holdsChange(doc: A.Doc<unknown>, hash: string): boolean {
  try {
    return A.getBackend(doc).getChangeMetaByHash(hash) !== null
  } catch {
    return false
  }
}

/** Whether `doc` holds every change of `heads`. */
export const holdsHeads = (doc: A.Doc<unknown>, heads: readonly string[]): boolean => heads.every(h => holdsChange(doc, h))
