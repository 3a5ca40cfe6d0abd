/**
 * The catalog's full-text index: MiniSearch's radix tree (`SearchableMap`) as the term
 * dictionary, for its prefix and fuzzy lookups, over postings kept in flat arrays.
 *
 * Why not MiniSearch itself: measured here (bench/search.ts, bench/catalog.ts), adding an
 * item to a MiniSearch index costs 50–300 µs at 100K–1M items, mostly in its per-term
 * Maps of per-document Maps (a common word holds a Map of a million entries), so a 1M
 * catalog took minutes to index. Here a term's postings are one array of (document,
 * packed field frequencies) pairs, and a document's terms one range of a shared pool:
 * adding an item is a few µs, and a query over a word every item holds walks one array.
 *
 * The answers are MiniSearch's: its tokenizer, lowercased terms, every word must match
 * (AND), by prefix from 3 letters (weight 0.375 · len/(len + 0.3 · extra letters)) and
 * fuzzily from 5 letters (round(len · 0.2) edits, at most 2; weight 0.45 · len/(len + edits)),
 * scored by BM25+ per field (k 1.2, b 0.7, d 0.5) with the field boosts, summed.
 * Documents are keyed by the caller's slot; a removed document's postings are dropped
 * lazily (its document id is dead, and a term whose postings are mostly dead is compacted
 * when next read), while the frequencies scores use are updated at once.
 */
import MiniSearch from "minisearch"
import SearchableMap from "minisearch/SearchableMap"

/** The indexed fields, in packing order (8 bits of term frequency each). */
export const TEXT_FIELDS = ["title", "tags", "description"] as const
/** The text of one document, per field. */
export type TextFields = Record<(typeof TEXT_FIELDS)[number], string>

const BOOSTS = [3, 2, 1]
const K = 1.2
const B = 0.7
const D = 0.5
const PREFIX_WEIGHT = 0.375
const FUZZY_WEIGHT = 0.45
const MAX_FUZZY = 2
const NO_SLOT = 0xffffffff

const tokenize = MiniSearch.getDefault("tokenize") as (text: string) => string[]

/** ASCII characters MiniSearch's tokenizer splits on (`[\n\r\p{Z}\p{P}]`), by code. */
const SEPARATOR = new Uint8Array(128)
for (let c = 0; c < 128; c++) if (/[\n\r\p{Z}\p{P}]/u.test(String.fromCharCode(c))) SEPARATOR[c] = 1

/**
 * The terms of a text, as the index and its queries see them: MiniSearch's tokenizer,
 * lowercased, empty pieces dropped (an ASCII text is split by a table, a third of the
 * regular expression's cost; the same pieces).
 */
export const textTerms = (text: string): string[] => {
  const out: string[] = []
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 128) {
      out.length = 0
      for (const t of tokenize(text)) if (t.length > 0) out.push(t.toLowerCase())
      return out
    }
    if (SEPARATOR[c] === 1) {
      if (i > start) out.push(text.slice(start, i).toLowerCase())
      start = i + 1
    }
  }
  if (text.length > start) out.push(text.slice(start).toLowerCase())
  return out
}

const growU32 = (a: Uint32Array<ArrayBuffer>, n: number): Uint32Array<ArrayBuffer> => {
  if (n <= a.length) return a
  const b = new Uint32Array(Math.max(n, a.length * 2, 1024))
  b.set(a)
  return b
}
const growF64 = (a: Float64Array<ArrayBuffer>, n: number): Float64Array<ArrayBuffer> => {
  if (n <= a.length) return a
  const b = new Float64Array(Math.max(n, a.length * 2, 1024))
  b.set(a)
  return b
}

/** Matching documents of a query: slots and scores, `count` of each filled. */
export interface TextMatches {
  count: number
  slots: Uint32Array
  scores: Float64Array
}

/** A full-text index of short documents (see the module comment). */
export class TextIndex {
  /** Term → id: the radix tree for prefix and fuzzy lookups, a Map for exact ones (a hash is cheaper than a tree walk). */
  private readonly dict = new SearchableMap<number>()
  private readonly ids = new Map<string, number>()
  /** Per term: [doc, packed frequencies, doc, packed frequencies, …]. */
  private postings: number[][] = []
  /** Per term: documents holding it in each field (live ones only). */
  private df = [new Uint32Array(0), new Uint32Array(0), new Uint32Array(0)]
  /** Per term: postings of dead documents still in its array. */
  private dead = new Uint32Array(0)
  /** Per document id (never reused): its slot, or NO_SLOT once removed. */
  private docSlot = new Uint32Array(0)
  /** Per document id: its terms, as a range of `pool`, and its field lengths. */
  private termStart = new Uint32Array(0)
  private termCount = new Uint32Array(0)
  private lengths = [new Uint32Array(0), new Uint32Array(0), new Uint32Array(0)]
  private pool = new Uint32Array(0)
  private poolUsed = 0
  private docs = 0
  /** Per slot: its live document id + 1 (0: none). */
  private slotDoc = new Uint32Array(0)
  private live = 0
  private readonly totalLength = [0, 0, 0]
  // query scratch, per document id
  private acc = new Float64Array(0)
  private hits = new Uint32Array(0)

  /** Number of documents indexed. */
  get size(): number {
    return this.live
  }

  /** Indexes `fields` under `slot` (replacing what the slot held). */
  add(slot: number, fields: TextFields): void {
    this.remove(slot)
    const doc = this.docs++
    this.docSlot = growU32(this.docSlot, doc + 1)
    this.termStart = growU32(this.termStart, doc + 1)
    this.termCount = growU32(this.termCount, doc + 1)
    for (let f = 0; f < 3; f++) this.lengths[f] = growU32(this.lengths[f]!, doc + 1)
    this.slotDoc = growU32(this.slotDoc, slot + 1)
    this.docSlot[doc] = slot
    this.slotDoc[slot] = doc + 1
    // distinct terms of the document with their packed per-field frequencies
    const ids: number[] = []
    const freqs: number[] = []
    for (let f = 0; f < 3; f++) {
      const terms = textTerms(fields[TEXT_FIELDS[f]!])
      this.lengths[f]![doc] = terms.length
      this.totalLength[f]! += terms.length
      for (const t of terms) {
        const id = this.termId(t)
        let at = ids.indexOf(id)
        if (at < 0) {
          at = ids.length
          ids.push(id)
          freqs.push(0)
        }
        const shift = f * 8
        if (((freqs[at]! >>> shift) & 0xff) < 0xff) freqs[at]! += 1 << shift
      }
    }
    this.pool = growU32(this.pool, this.poolUsed + ids.length)
    this.termStart[doc] = this.poolUsed
    this.termCount[doc] = ids.length
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      const packed = freqs[i]!
      this.pool[this.poolUsed++] = id
      this.postings[id]!.push(doc, packed)
      for (let f = 0; f < 3; f++) if ((packed >>> (f * 8)) & 0xff) this.df[f]![id]!++
    }
    this.live++
  }

  /** Takes the document of `slot` out (no-op when the slot holds none). */
  remove(slot: number): void {
    const d1 = slot < this.slotDoc.length ? this.slotDoc[slot]! : 0
    if (d1 === 0) return
    const doc = d1 - 1
    this.slotDoc[slot] = 0
    this.docSlot[doc] = NO_SLOT
    const start = this.termStart[doc]!
    const end = start + this.termCount[doc]!
    for (let i = start; i < end; i++) {
      const id = this.pool[i]!
      const list = this.postings[id]!
      // its frequencies are in the postings: found from the end (recent documents are last)
      for (let p = list.length - 2; p >= 0; p -= 2)
        if (list[p] === doc) {
          const packed = list[p + 1]!
          for (let f = 0; f < 3; f++) if ((packed >>> (f * 8)) & 0xff) this.df[f]![id]!--
          break
        }
      this.dead[id]!++
    }
    for (let f = 0; f < 3; f++) this.totalLength[f]! -= this.lengths[f]![doc]!
    this.live--
  }

  private termId(term: string): number {
    const known = this.ids.get(term)
    if (known !== undefined) return known
    const id = this.postings.length
    this.ids.set(term, id)
    this.dict.set(term, id)
    this.postings.push([])
    for (let f = 0; f < 3; f++) this.df[f] = growU32(this.df[f]!, id + 1)
    this.dead = growU32(this.dead, id + 1)
    return id
  }

  /** The live postings of a term (compacted first when a quarter or more are dead). */
  private livePostings(id: number): number[] {
    const list = this.postings[id]!
    if (this.dead[id]! * 4 > list.length / 2) {
      const kept: number[] = []
      for (let p = 0; p < list.length; p += 2) if (this.docSlot[list[p]!] !== NO_SLOT) kept.push(list[p]!, list[p + 1]!)
      this.postings[id] = kept
      this.dead[id] = 0
      return kept
    }
    return list
  }

  /** The terms a query word stands for, each with its weight (exact 1, prefix, fuzzy). */
  private expand(word: string): Map<number, number> {
    const out = new Map<number, number>()
    const exact = this.ids.get(word)
    if (exact !== undefined) out.set(exact, 1)
    if (word.length >= 3)
      for (const [term, id] of this.dict.atPrefix(word)) {
        const extra = term.length - word.length
        if (extra > 0) out.set(id, (PREFIX_WEIGHT * term.length) / (term.length + 0.3 * extra))
      }
    if (word.length >= 5) {
      const edits = Math.min(MAX_FUZZY, Math.round(word.length * 0.2))
      if (edits > 0)
        for (const [term, [id, distance]] of this.dict.fuzzyGet(word, edits))
          if (distance > 0 && !out.has(id)) out.set(id, (FUZZY_WEIGHT * term.length) / (term.length + distance))
    }
    return out
  }

  /**
   * Every document matching all `words` (terms as `textTerms` gives them) and `accept`,
   * with its score; the arrays are fresh (the caller keeps them).
   */
  search(words: readonly string[], accept?: (slot: number) => boolean): TextMatches {
    const none = { count: 0, slots: new Uint32Array(0), scores: new Float64Array(0) }
    const distinct = [...new Set(words)]
    if (distinct.length === 0 || this.live === 0) return none
    const expansions = distinct.map((w) => this.expand(w))
    if (expansions.some((e) => e.size === 0)) return none
    this.acc = growF64(this.acc, this.docs)
    this.hits = growU32(this.hits, this.docs)
    const acc = this.acc
    const hits = this.hits
    const avg = this.totalLength.map((t) => t / this.live)
    const touched: number[] = []
    for (let k = 0; k < expansions.length; k++) {
      for (const [id, weight] of expansions[k]!) {
        const list = this.livePostings(id)
        const idf = [0, 1, 2].map((f) => {
          const n = this.df[f]![id]!
          return n === 0 ? 0 : Math.log(1 + (this.live - n + 0.5) / (n + 0.5))
        })
        for (let p = 0; p < list.length; p += 2) {
          const doc = list[p]!
          if (this.docSlot[doc] === NO_SLOT) continue
          // hits: the words a document matched so far; it counts for word k only when it matched every word before
          const h = hits[doc]!
          if (h === k) {
            hits[doc] = k + 1
            if (k === 0) touched.push(doc)
          } else if (h !== k + 1) continue
          const packed = list[p + 1]!
          let s = 0
          for (let f = 0; f < 3; f++) {
            const tf = (packed >>> (f * 8)) & 0xff
            if (tf === 0) continue
            const len = this.lengths[f]![doc]!
            s += BOOSTS[f]! * idf[f]! * (D + (tf * (K + 1)) / (tf + K * (1 - B + (B * len) / avg[f]!)))
          }
          acc[doc]! += weight * s
        }
      }
    }
    const n = expansions.length
    const slots = new Uint32Array(touched.length)
    const scores = new Float64Array(touched.length)
    let count = 0
    for (const doc of touched) {
      const slot = this.docSlot[doc]!
      if (hits[doc] === n && (!accept || accept(slot))) {
        slots[count] = slot
        scores[count] = acc[doc]!
        count++
      }
      acc[doc] = 0
      hits[doc] = 0
    }
    return { count, slots, scores }
  }
}
