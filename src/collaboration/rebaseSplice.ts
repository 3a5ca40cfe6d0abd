/**
 * A splice a client computed on an older version of a shared text, carried over to the
 * text as it is now: its position and deleted range move with every insertion and deletion
 * made since (the patches `A.diff` gives from that version to now), so an edit from another
 * hub that landed in between is neither overwritten nor shifted under the client's caret.
 */
import type * as A from "@automerge/automerge"

export interface Splice {
  pos: number
  del: number
}

/** `s` (positions in the old text) moved through `patches` (old → now) on the text at `path`. */
export function rebaseSplice(s: Splice, patches: readonly A.Patch[], path: readonly (string | number)[] = ["text"]): Splice {
  let start = s.pos
  let end = s.pos + s.del
  for (const p of patches) {
    if (p.path.length !== path.length + 1 || !path.every((k, i) => p.path[i] === k)) continue
    const at = p.path[path.length]
    if (typeof at !== "number") continue
    if (p.action === "splice") {
      const n = p.value.length
      // text inserted at the client's position goes before its insertion (it was there first)
      if (at <= start) start += n
      if (at < end || (at === end && s.del === 0)) end += n
    } else if (p.action === "del") {
      const n = p.length ?? 1
      const cut = (x: number) => (x <= at ? x : x - Math.min(n, x - at))
      start = cut(start)
      end = cut(end)
    }
  }
  return { pos: start, del: Math.max(0, end - start) }
}
