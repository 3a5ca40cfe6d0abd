/**
 * The catalog's full-text index, in typed arrays: a term dictionary (an open-addressing
 * hash over the text's code units, so a known term is found without allocating a
 * string; each term's code units kept once in one pool, no string per term), postings built in bulk (counting sort by term) into
 * segments merged geometrically, and a term list sorted on first use (radix sort) for
 * prefix lookups (binary search) and fuzzy ones (a walk of the sorted list as an
 * implicit trie, pruned by the edit-distance rows).
 *
 * Why: MiniSearch itself (a Map of per-document Maps per term) cost 50–300 µs per item
 * at 100K–1M items; the first flat-postings version (MiniSearch's radix tree as the
 * dictionary, a Map of small arrays as postings) 11–40 µs, growing with a million
 * distinct terms (bench/catalogSteps.ts). Here adding an item appends its postings to a
 * pending buffer; a query (or `seal`) sorts them into a segment.
 *
 * The answers are MiniSearch's: its tokenizer, lowercased terms, every word must match
 * (AND), by prefix from 3 letters (weight 0.375 · len/(len + 0.3 · extra letters)) and
 * fuzzily from 5 letters (Levenshtein, round(len · 0.2) edits, at most 2; weight
 * 0.45 · len/(len + edits)), scored by BM25+ per field (k 1.2, b 0.7, d 0.5) with the
 * field boosts, summed over a word's terms in code-unit order (exact, prefix, fuzzy).
 * Documents are keyed by the caller's slot; a removed document's postings are dropped
 * lazily (its document id is dead; merges drop them), while the frequencies scores use
 * are updated at once.
 */
import MiniSearch from "minisearch"
import { sortByCodeUnits } from "./radixSort.ts"

/** The indexed fields, in packing order (8 bits of term frequency each). */
export const TEXT_FIELDS = ["title", "tags", "description"] as const
/** The text of one document, per field. */
export type TextFields = Record<(typeof TEXT_FIELDS)[number], string>

/** The scoring constants (exported for the tests' linear-scan oracle). */
export const TEXT_SCORING = { boosts: [3, 2, 1], k: 1.2, b: 0.7, d: 0.5, prefixWeight: 0.375, fuzzyWeight: 0.45, maxFuzzy: 2 } as const
const BOOSTS = TEXT_SCORING.boosts
const K = TEXT_SCORING.k
const B = TEXT_SCORING.b
const D = TEXT_SCORING.d
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

type U32 = Uint32Array<ArrayBuffer>
const growU32 = (a: U32, n: number): U32 => {
  if (n <= a.length) return a
  const b = new Uint32Array(Math.max(n, a.length * 2, 1024))
  b.set(a)
  return b
}
type I32 = Int32Array<ArrayBuffer>
const growI32 = (a: I32, n: number): I32 => {
  if (n <= a.length) return a
  const b = new Int32Array(Math.max(n, a.length * 2, 1024))
  b.set(a)
  return b
}
const growF64 = (a: Float64Array<ArrayBuffer>, n: number): Float64Array<ArrayBuffer> => {
  if (n <= a.length) return a
  const b = new Float64Array(Math.max(n, a.length * 2, 1024))
  b.set(a)
  return b
}

/** FNV-1a over code units, ASCII upper case folded to lower (a term is stored lowercased); an int32 (a uint32 would be boxed as a heap number between functions). */
const hashRange = (s: string, start: number, end: number): number => {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) {
    let c = s.charCodeAt(i)
    if (c >= 65 && c <= 90) c += 32
    h = Math.imul(h ^ c, 0x01000193)
  }
  return h | 0
}

/** A hash's bits spread before it picks a table slot (FNV-1a's low bits cluster on similar terms such as numbers, and linear probing makes a cluster a long walk). */
const spread = (h: number): number => {
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b)
  return h ^ (h >>> 16)
}

/** Postings of some terms: for term `terms[i]`, documents `docs[offs[i]..offs[i+1])` with their packed frequencies. */
interface Segment {
  terms: U32
  offs: U32
  docs: U32
  freqs: U32
}

/** Matching documents of a query: slots and scores, `count` of each filled. */
export interface TextMatches {
  count: number
  slots: Uint32Array
  scores: Float64Array
}

/** A full-text index of short documents (see the module comment). */
export class TextIndex {
  // ---- the term dictionary
  /** The terms' code units, lowercased, in one pool (no string per term): term `id` is `chars[keyStart[id], keyStart[id] + keyLen[id])`. */
  private chars = new Uint16Array(1 << 16)
  private charsUsed = 0
  private keyStart = new Uint32Array(1024)
  private keyLen = new Uint32Array(1024)
  private nTerms = 0
  private termHash = new Int32Array(1024)
  /** Open addressing over (hash, term id) pairs, so that a probe reads one cache line: [2i] the hash, [2i + 1] the id (-1: empty). */
  private table = new Int32Array(4096).fill(-1)
  private mask = 2047
  /** Per term: documents holding it in each field (live ones only). */
  private df = [new Uint32Array(1024), new Uint32Array(1024), new Uint32Array(1024)]
  /** Per term scratch: the document that last used it (+1), its place in that document's terms, counts while sealing. */
  private mark = new Uint32Array(1024)
  private place = new Uint32Array(1024)
  private counts = new Uint32Array(1024)
  /** Term ids sorted by term, covering ids below `sortedUpTo`; `side`: later terms, sorted. */
  private sorted = new Uint32Array(0)
  private sortedUpTo = 0
  private side = new Uint32Array(0)
  private sideUpTo = 0

  // ---- postings
  private segments: Segment[] = []
  /** Documents from this id on are not sealed yet (their postings are their pool ranges). */
  private sealedDocs = 0
  private postingsHeld = 0
  private deadPostings = 0

  // ---- documents
  /** Per document id (never reused): its slot, or NO_SLOT once removed. */
  private docSlot = new Uint32Array(0)
  /** Per document id: its terms and their packed frequencies, as a range of the pools, and its field lengths. */
  private termStart = new Uint32Array(0)
  private termCount = new Uint32Array(0)
  private lengths = [new Uint32Array(0), new Uint32Array(0), new Uint32Array(0)]
  private poolTerm = new Uint32Array(0)
  private poolFreq = new Uint32Array(0)
  private poolUsed = 0
  private docs = 0
  /** Per slot: its live document id + 1 (0: none). */
  private slotDoc = new Uint32Array(0)
  private live = 0
  private readonly totalLength = [0, 0, 0]
  // scratch
  private bounds = new Int32Array(256)
  private acc = new Float64Array(0)
  private hits = new Uint32Array(0)
  private touched = new Uint32Array(0)

  /** Number of documents indexed. */
  get size(): number {
    return this.live
  }

  /** Number of distinct terms ever seen. */
  get terms(): number {
    return this.nTerms
  }

  /** Indexes `fields` under `slot` (replacing what the slot held); its postings are sealed at the next query. */
  add(slot: number, fields: TextFields): void {
    this.addDoc(slot, fields.title, fields.tags, fields.description)
  }

  /** As `add`, the fields as arguments (no object per item): title, tags (joined by spaces, or a list: the same terms), description. */
  addDoc(slot: number, title: string, tags: string | readonly string[], description: string): void {
    this.remove(slot)
    const doc = this.docs++
    if (doc >= this.docSlot.length) {
      this.docSlot = growU32(this.docSlot, doc + 1)
      this.termStart = growU32(this.termStart, doc + 1)
      this.termCount = growU32(this.termCount, doc + 1)
      for (let f = 0; f < 3; f++) this.lengths[f] = growU32(this.lengths[f]!, doc + 1)
    }
    if (slot >= this.slotDoc.length) this.slotDoc = growU32(this.slotDoc, slot + 1)
    this.docSlot[doc] = slot
    this.slotDoc[slot] = doc + 1
    const start = this.poolUsed
    this.termStart[doc] = start
    this.setLength(doc, 0, this.field(doc, 0, title))
    if (typeof tags === "string") this.setLength(doc, 1, this.field(doc, 1, tags))
    else {
      let n = 0
      for (let i = 0; i < tags.length; i++) n += this.field(doc, 1, tags[i]!)
      this.setLength(doc, 1, n)
    }
    this.setLength(doc, 2, this.field(doc, 2, description))
    this.termCount[doc] = this.poolUsed - start
    this.live++
  }

  private setLength(doc: number, f: number, count: number): void {
    this.lengths[f]![doc] = count
    this.totalLength[f]! += count
  }

  /** The terms of one field of `doc` into the pools (distinct terms once, frequencies packed); returns how many terms the text holds. */
  private field(doc: number, f: number, text: string): number {
    // ASCII: split by the table and hashed in the same pass, terms found by their code units; otherwise MiniSearch's tokenizer
    const len = text.length
    let bounds = this.bounds
    let nb = 0
    let s = 0
    let h = 0x811c9dc5
    for (let i = 0; i <= len; i++) {
      const c = i < len ? text.charCodeAt(i) : 32
      if (c >= 128) {
        nb = -1
        break
      }
      if (SEPARATOR[c] === 1) {
        if (i > s) {
          if (nb + 3 > bounds.length) bounds = this.bounds = growI32(bounds, nb + 3)
          bounds[nb] = s
          bounds[nb + 1] = i
          bounds[nb + 2] = h
          nb += 3
        }
        s = i + 1
        h = 0x811c9dc5
      } else h = Math.imul(h ^ (c >= 65 && c <= 90 ? c + 32 : c), 0x01000193)
    }
    let count = 0
    if (nb >= 0) {
      for (let k = 0; k < nb; k += 3) this.use(doc, f, this.termAt(text, bounds[k]!, bounds[k + 1]!, bounds[k + 2]!))
      count = nb / 3
    } else {
      const terms = textTerms(text)
      for (const t of terms) this.use(doc, f, this.termOf(t))
      count = terms.length
    }
    return count
  }

  /** One occurrence of term `id` in field `f` of `doc` (its document frequency counted at its first occurrence in the field). */
  private use(doc: number, f: number, id: number): void {
    const shift = f * 8
    if (this.mark[id] !== doc + 1) {
      this.mark[id] = doc + 1
      const p = this.poolUsed++
      if (p >= this.poolTerm.length) {
        this.poolTerm = growU32(this.poolTerm, p + 1)
        this.poolFreq = growU32(this.poolFreq, p + 1)
      }
      this.place[id] = p
      this.poolTerm[p] = id
      this.poolFreq[p] = 1 << shift
      this.df[f]![id]!++
      return
    }
    const p = this.place[id]!
    const tf = (this.poolFreq[p]! >>> shift) & 0xff
    if (tf === 0) this.df[f]![id]!++
    if (tf < 0xff) this.poolFreq[p]! += 1 << shift
  }

  /** The id of the (lowercased) term `text[start, end)`, ASCII, added when new. */
  private termAt(text: string, start: number, end: number, h: number): number {
    const len = end - start
    for (let i = spread(h) & this.mask; ; i = (i + 1) & this.mask) {
      const id = this.table[2 * i + 1]!
      if (id < 0) {
        // ASCII: its code units folded into the pool, no string
        return this.newTerm(text, start, end, h, i)
      }
      if (this.table[2 * i] !== h || this.keyLen[id] !== len) continue
      const chars = this.chars
      const at = this.keyStart[id]! - start
      let same = true
      for (let j = start; j < end && same; j++) {
        let c = text.charCodeAt(j)
        if (c >= 65 && c <= 90) c += 32
        same = chars[at + j] === c
      }
      if (same) return id
    }
  }

  /** True when term `id` is `term` (lowercased). */
  private isTerm(id: number, term: string): boolean {
    if (this.keyLen[id] !== term.length) return false
    const chars = this.chars
    const at = this.keyStart[id]!
    for (let j = 0; j < term.length; j++) if (chars[at + j] !== term.charCodeAt(j)) return false
    return true
  }

  /** Term `id` as a string (query time only: prefix, fuzzy and ordering of expansions). */
  private key(id: number): string {
    const at = this.keyStart[id]!
    const sub = this.chars.subarray(at, at + this.keyLen[id]!)
    return sub.length <= 1024 ? String.fromCharCode(...sub) : Array.from(sub, (c) => String.fromCharCode(c)).join("")
  }

  /** The id of a lowercased term, added when new. */
  private termOf(term: string): number {
    const h = hashRange(term, 0, term.length)
    for (let i = spread(h) & this.mask; ; i = (i + 1) & this.mask) {
      const id = this.table[2 * i + 1]!
      if (id < 0) return this.newTerm(term, 0, term.length, h, i)
      if (this.table[2 * i] === h && this.isTerm(id, term)) return id
    }
  }

  /** The id of a lowercased term, or -1. */
  private lookup(term: string): number {
    const h = hashRange(term, 0, term.length)
    for (let i = spread(h) & this.mask; ; i = (i + 1) & this.mask) {
      const id = this.table[2 * i + 1]!
      if (id < 0) return -1
      if (this.table[2 * i] === h && this.isTerm(id, term)) return id
    }
  }

  /** A new term: `text[start, end)`, ASCII upper case folded (a non-ASCII term comes lowercased), hash `h`, at table position `at`. */
  private newTerm(text: string, start: number, end: number, h: number, at: number): number {
    const id = this.nTerms++
    const len = end - start
    if (this.charsUsed + len > this.chars.length) {
      const b = new Uint16Array(Math.max(this.charsUsed + len, this.chars.length * 2))
      b.set(this.chars.subarray(0, this.charsUsed))
      this.chars = b
    }
    const chars = this.chars
    const base = this.charsUsed - start
    for (let j = start; j < end; j++) {
      const c = text.charCodeAt(j)
      chars[base + j] = c >= 65 && c <= 90 ? c + 32 : c
    }
    if (id >= this.termHash.length) {
      const n = id + 1
      this.keyStart = growU32(this.keyStart, n)
      this.keyLen = growU32(this.keyLen, n)
      this.termHash = growI32(this.termHash, n)
      for (let f = 0; f < 3; f++) this.df[f] = growU32(this.df[f]!, n)
      this.mark = growU32(this.mark, n)
      this.place = growU32(this.place, n)
      this.counts = growU32(this.counts, n)
    }
    this.keyStart[id] = this.charsUsed
    this.keyLen[id] = len
    this.charsUsed += len
    this.termHash[id] = h
    this.table[2 * at] = h
    this.table[2 * at + 1] = id
    if (this.nTerms * 2 > this.mask) {
      const size = (this.mask + 1) * 2
      this.mask = size - 1
      const table = (this.table = new Int32Array(2 * size).fill(-1))
      for (let t = 0; t < this.nTerms; t++) {
        const th = this.termHash[t]!
        let i = spread(th) & this.mask
        while (table[2 * i + 1]! >= 0) i = (i + 1) & this.mask
        table[2 * i] = th
        table[2 * i + 1] = t
      }
    }
    return id
  }

  /** Takes the document of `slot` out (no-op when the slot holds none). */
  remove(slot: number): void {
    const d1 = slot < this.slotDoc.length ? this.slotDoc[slot]! : 0
    if (d1 === 0) return
    const doc = d1 - 1
    this.slotDoc[slot] = 0
    this.docSlot[doc] = NO_SLOT
    const start = this.termStart[doc]!
    const n = this.termCount[doc]!
    for (let i = start; i < start + n; i++) {
      const id = this.poolTerm[i]!
      const packed = this.poolFreq[i]!
      if (packed & 0xff) this.df[0]![id]!--
      if (packed & 0xff00) this.df[1]![id]!--
      if (packed & 0xff0000) this.df[2]![id]!--
    }
    if (doc < this.sealedDocs) this.deadPostings += n
    for (let f = 0; f < 3; f++) this.totalLength[f]! -= this.lengths[f]![doc]!
    this.live--
  }

  /** Seals the pending postings and sorts the term list now, so that no query pays for it. */
  warm(): void {
    this.seal()
    if (this.nTerms > 0) this.dictionary()
  }

  /** Sorts the pending postings into a segment (a query does it first), merging segments of similar size. */
  seal(): void {
    if (this.sealedDocs < this.docs) {
      const seg = this.buildPending(this.sealedDocs, this.docs)
      this.sealedDocs = this.docs
      this.segments.push(seg)
      this.postingsHeld += seg.docs.length
      const segs = this.segments
      while (segs.length >= 2 && segs[segs.length - 2]!.docs.length <= 2 * segs[segs.length - 1]!.docs.length) {
        const b = segs.pop()!
        const a = segs.pop()!
        segs.push(this.merge([a, b]))
      }
    }
    // many dead postings: one segment of the live ones
    if (this.deadPostings > 4096 && this.deadPostings * 2 > this.postingsHeld) this.segments = this.segments.length > 0 ? [this.merge(this.segments)] : []
  }

  /**
   * A segment of the pending documents `[from, to)` (removed ones skipped), read from
   * the pools in place: a counting sort on the term, no copy of the postings first.
   */
  private buildPending(from: number, to: number): Segment {
    const counts = this.counts
    const pt = this.poolTerm
    const pf = this.poolFreq
    const docSlot = this.docSlot
    const termStart = this.termStart
    const termCount = this.termCount
    let n = 0
    for (let d = from; d < to; d++) if (docSlot[d] !== NO_SLOT) n += termCount[d]!
    const first = new Uint32Array(Math.min(n, this.nTerms))
    let distinct = 0
    for (let d = from; d < to; d++) {
      if (docSlot[d] === NO_SLOT) continue
      const e = termStart[d]! + termCount[d]!
      for (let i = termStart[d]!; i < e; i++) {
        const t = pt[i]!
        if (counts[t]!++ === 0) first[distinct++] = t
      }
    }
    const { terms, offs } = this.layout(first, distinct)
    const docs = new Uint32Array(n)
    const freqs = new Uint32Array(n)
    for (let d = from; d < to; d++) {
      if (docSlot[d] === NO_SLOT) continue
      const e = termStart[d]! + termCount[d]!
      for (let i = termStart[d]!; i < e; i++) {
        const p = counts[pt[i]!]!++
        docs[p] = d
        freqs[p] = pf[i]!
      }
    }
    for (let i = 0; i < distinct; i++) counts[terms[i]!] = 0
    return { terms, offs, docs, freqs }
  }

  /**
   * The sorted distinct terms of a build (`first[0, distinct)`, their posting counts in
   * `counts`) and their offsets; `counts` becomes each term's next free position. Many
   * terms: a pass over every term id instead of a sort.
   */
  private layout(first: U32, distinct: number): { terms: U32; offs: U32 } {
    const counts = this.counts
    let terms: U32
    if (distinct * 8 >= this.nTerms) {
      terms = new Uint32Array(distinct)
      let k = 0
      for (let t = 0; t < this.nTerms && k < distinct; t++) if (counts[t]! > 0) terms[k++] = t
    } else terms = first.slice(0, distinct).sort()
    const offs = new Uint32Array(distinct + 1)
    let at = 0
    for (let i = 0; i < distinct; i++) {
      const t = terms[i]!
      offs[i] = at
      at += counts[t]!
      counts[t] = offs[i]!
    }
    offs[distinct] = at
    return { terms, offs }
  }

  /** A segment of `n` postings (term, doc, packed) by a counting sort on the term. */
  private build(term: U32, doc: U32, freq: U32, n: number): Segment {
    const counts = this.counts
    const first = new Uint32Array(Math.min(n, this.nTerms))
    let distinct = 0
    for (let i = 0; i < n; i++) {
      const t = term[i]!
      if (counts[t]!++ === 0) first[distinct++] = t
    }
    const { terms, offs } = this.layout(first, distinct)
    const docs = new Uint32Array(n)
    const freqs = new Uint32Array(n)
    for (let i = 0; i < n; i++) {
      const p = counts[term[i]!]!++
      docs[p] = doc[i]!
      freqs[p] = freq[i]!
    }
    for (let i = 0; i < distinct; i++) counts[terms[i]!] = 0
    return { terms, offs, docs, freqs }
  }

  /** One segment of the live postings of `segs` (terms in order; a term's postings in segment order). */
  private merge(segs: Segment[]): Segment {
    let total = 0
    for (const s of segs) total += s.docs.length
    const tmpTerm = new Uint32Array(total)
    const tmpDoc = new Uint32Array(total)
    const tmpFreq = new Uint32Array(total)
    let n = 0
    for (const s of segs)
      for (let i = 0; i < s.terms.length; i++) {
        const t = s.terms[i]!
        for (let p = s.offs[i]!; p < s.offs[i + 1]!; p++) {
          const d = s.docs[p]!
          if (this.docSlot[d] === NO_SLOT) continue
          tmpTerm[n] = t
          tmpDoc[n] = d
          tmpFreq[n] = s.freqs[p]!
          n++
        }
      }
    this.deadPostings -= total - n
    this.postingsHeld -= total - n
    return this.build(tmpTerm, tmpDoc, tmpFreq, n)
  }

  /** Term ids sorted by term: the main list and the later terms (each sorted). */
  private dictionary(): [U32, U32] {
    const n = this.nTerms
    if (n - this.sortedUpTo > Math.max(4096, this.sortedUpTo / 8)) {
      const all = new Uint32Array(n)
      for (let i = 0; i < n; i++) all[i] = i
      sortByCodeUnits(all, this.chars, this.keyStart, this.keyLen)
      this.sorted = all
      this.sortedUpTo = n
      this.side = new Uint32Array(0)
      this.sideUpTo = n
    } else if (this.sideUpTo !== n) {
      const side = new Uint32Array(n - this.sortedUpTo)
      for (let i = 0; i < side.length; i++) side[i] = this.sortedUpTo + i
      sortByCodeUnits(side, this.chars, this.keyStart, this.keyLen)
      this.side = side
      this.sideUpTo = n
    }
    return [this.sorted, this.side]
  }

  /** The first position in `list` whose term is not below `word`. */
  private lowerBound(list: U32, word: string, from = 0): number {
    let lo = from
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.key(list[mid]!) < word) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /**
   * The first position from `from` in `list` whose term does not start with the first `n`
   * code units of term `p` (terms below it excluded too): `prefixEnd` on the pool, with no
   * string per term visited (the fuzzy walk skips subtrees this way).
   */
  private prefixEndOf(list: U32, p: number, n: number, from: number): number {
    const chars = this.chars
    const ps = this.keyStart[p]!
    let lo = from
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const k = list[mid]!
      const ks = this.keyStart[k]!
      const kl = this.keyLen[k]!
      // below the prefix, or starting with it: go right
      let right = true
      for (let j = 0; j < n; j++) {
        if (j >= kl) break // a proper prefix of the prefix sorts below it
        const ck = chars[ks + j]!
        const cp = chars[ps + j]!
        if (ck !== cp) {
          right = ck < cp
          break
        }
      }
      if (right) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** The first position from `from` in `list` whose term does not start with `prefix` (terms below it excluded too). */
  private prefixEnd(list: U32, prefix: string, from: number): number {
    let lo = from
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const k = this.key(list[mid]!)
      if (k < prefix || k.startsWith(prefix)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Terms of `list` within `edits` of `word` (Levenshtein), as [id, distance], walking the sorted list as a trie. */
  private fuzzy(list: U32, word: string, edits: number, out: [number, number][]): void {
    const w = word.length
    const maxDepth = w + edits
    const width = w + 1
    const rows = new Uint16Array((maxDepth + 2) * width)
    for (let j = 0; j <= w; j++) rows[j] = j
    const chars = this.chars
    let prevStart = 0
    let prevLen = 0
    let valid = 0 // rows[0..valid] hold the rows of the previous term's first `valid` code units
    let i = 0
    while (i < list.length) {
      const id = list[i]!
      const at = this.keyStart[id]!
      const len = this.keyLen[id]!
      let lcp = 0
      const lim = Math.min(valid, len, prevLen)
      while (lcp < lim && chars[at + lcp] === chars[prevStart + lcp]) lcp++
      let d = lcp
      let pruned = -1
      while (d < len) {
        if (d + 1 > maxDepth) {
          pruned = d + 1
          break
        }
        const c = chars[at + d]!
        const base = d * width
        const next = base + width
        rows[next] = d + 1
        let min = d + 1
        for (let j = 1; j <= w; j++) {
          const sub = rows[base + j - 1]! + (word.charCodeAt(j - 1) === c ? 0 : 1)
          const del = rows[base + j]! + 1
          const ins = rows[next + j - 1]! + 1
          const v = sub < del ? (sub < ins ? sub : ins) : del < ins ? del : ins
          rows[next + j] = v
          if (v < min) min = v
        }
        d++
        if (min > edits) {
          pruned = d
          break
        }
      }
      prevStart = at
      prevLen = len
      if (pruned >= 0) {
        // no term starting with this one's first `pruned` code units is within reach
        valid = pruned - 1
        i = this.prefixEndOf(list, id, pruned, i + 1)
        continue
      }
      valid = len
      const dist = rows[len * width + w]!
      if (dist <= edits) out.push([id, dist])
      i++
    }
  }

  /** The terms a query word stands for, each with its weight (exact 1, prefix, fuzzy), in code-unit order of the terms within each kind. */
  private expand(word: string, dict: [U32, U32]): { ids: number[]; weights: number[] } {
    const ids: number[] = []
    const weights: number[] = []
    const exact = this.lookup(word)
    if (exact >= 0) {
      ids.push(exact)
      weights.push(1)
    }
    const seen = new Set<number>(ids)
    if (word.length >= 3) {
      const found: number[] = []
      for (const list of dict) {
        for (let p = this.lowerBound(list, word); p < list.length; p++) {
          const id = list[p]!
          const term = this.key(id)
          if (!term.startsWith(word)) break
          if (term.length > word.length) found.push(id)
        }
      }
      if (dict[1].length > 0) found.sort((a, b) => (this.key(a) < this.key(b) ? -1 : 1))
      for (const id of found) {
        const term = this.key(id)
        const extra = term.length - word.length
        ids.push(id)
        weights.push((TEXT_SCORING.prefixWeight * term.length) / (term.length + 0.3 * extra))
        seen.add(id)
      }
    }
    if (word.length >= 5) {
      const edits = Math.min(TEXT_SCORING.maxFuzzy, Math.round(word.length * 0.2))
      if (edits > 0) {
        const found: [number, number][] = []
        for (const list of dict) this.fuzzy(list, word, edits, found)
        if (dict[1].length > 0) found.sort((a, b) => (this.key(a[0]) < this.key(b[0]) ? -1 : 1))
        for (const [id, distance] of found) {
          if (distance === 0 || seen.has(id)) continue
          const term = this.key(id)
          ids.push(id)
          weights.push((TEXT_SCORING.fuzzyWeight * term.length) / (term.length + distance))
        }
      }
    }
    return { ids, weights }
  }

  /** The postings range of term `id` in `seg`, or undefined. */
  private static range(seg: Segment, id: number): [number, number] | undefined {
    let lo = 0
    let hi = seg.terms.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (seg.terms[mid]! < id) lo = mid + 1
      else hi = mid
    }
    return lo < seg.terms.length && seg.terms[lo] === id ? [seg.offs[lo]!, seg.offs[lo + 1]!] : undefined
  }

  /**
   * Every document matching all `words` (terms as `textTerms` gives them) and `accept`,
   * with its score; the arrays are fresh (the caller keeps them).
   */
  search(words: readonly string[], accept?: (slot: number) => boolean): TextMatches {
    const none = { count: 0, slots: new Uint32Array(0), scores: new Float64Array(0) }
    const distinct = [...new Set(words)]
    if (distinct.length === 0 || this.live === 0) return none
    this.seal()
    const dict = distinct.some((w) => w.length >= 3) ? this.dictionary() : ([new Uint32Array(0), new Uint32Array(0)] as [U32, U32])
    const expansions = distinct.map((w) => this.expand(w, dict))
    if (expansions.some((e) => e.ids.length === 0)) return none
    this.acc = growF64(this.acc, this.docs)
    this.hits = growU32(this.hits, this.docs)
    this.touched = growU32(this.touched, this.docs)
    const acc = this.acc
    const hits = this.hits
    const touched = this.touched
    let nt = 0
    const docSlot = this.docSlot
    const [len0, len1, len2] = this.lengths as [U32, U32, U32]
    const avg0 = this.totalLength[0]! / this.live
    const avg1 = this.totalLength[1]! / this.live
    const avg2 = this.totalLength[2]! / this.live
    const [b0, b1, b2] = BOOSTS
    for (let k = 0; k < expansions.length; k++) {
      const { ids, weights } = expansions[k]!
      for (let e = 0; e < ids.length; e++) {
        const id = ids[e]!
        const weight = weights[e]!
        const [idf0, idf1, idf2] = [0, 1, 2].map((f) => {
          const n = this.df[f]![id]!
          return n === 0 ? 0 : Math.log(1 + (this.live - n + 0.5) / (n + 0.5))
        }) as [number, number, number]
        for (const seg of this.segments) {
          const r = TextIndex.range(seg, id)
          if (!r) continue
          const { docs, freqs } = seg
          for (let p = r[0]; p < r[1]; p++) {
            const doc = docs[p]!
            if (docSlot[doc] === NO_SLOT) continue
            // hits: the words a document matched so far; it counts for word k only when it matched every word before
            const h = hits[doc]!
            if (h === k) {
              hits[doc] = k + 1
              if (k === 0) touched[nt++] = doc
            } else if (h !== k + 1) continue
            const packed = freqs[p]!
            // BM25+ per field, summed in field order (the same operations as the oracle's)
            let s = 0
            let tf = packed & 0xff
            if (tf !== 0) s += b0 * idf0 * (D + (tf * (K + 1)) / (tf + K * (1 - B + (B * len0[doc]!) / avg0)))
            tf = (packed >>> 8) & 0xff
            if (tf !== 0) s += b1 * idf1 * (D + (tf * (K + 1)) / (tf + K * (1 - B + (B * len1[doc]!) / avg1)))
            tf = (packed >>> 16) & 0xff
            if (tf !== 0) s += b2 * idf2 * (D + (tf * (K + 1)) / (tf + K * (1 - B + (B * len2[doc]!) / avg2)))
            acc[doc]! += weight * s
          }
        }
      }
    }
    const n = expansions.length
    const slots = new Uint32Array(nt)
    const scores = new Float64Array(nt)
    let count = 0
    for (let i = 0; i < nt; i++) {
      const doc = touched[i]!
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
