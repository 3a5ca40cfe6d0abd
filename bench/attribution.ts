/**
 * Attribution: what checking every change for its author costs. A document of
 * 100,000 small changes by two authors (raw Automerge backend) is written, then
 * applied to a fresh document: bare (baseline), with a signature per change, and
 * with signed heads every 1,000 changes (decode every change, verify, attribute).
 * Target (issue 12): the checks cost at most 1.3x the bare apply.
 */
import * as A from "@automerge/automerge"
import { Identity } from "../src/identity/index.ts"
import {
  actorIdFor,
  attributeChanges,
  bindActor,
  changeHeaders,
  decodeChanges,
  newDocumentId,
  signHeads,
  type SignedHeadsRecord,
} from "../src/replication/access/index.ts"
import { ms, printTable } from "./stats.ts"

interface Written {
  changes: Uint8Array[]
  /** Author index (0 or 1) and hash of each change, in write order. */
  authors: number[]
  hashes: string[]
  writeMs: number
}

/** Two authors alternately write `batch` changes each, exchanging them after every batch. */
function write(documentId: string, authors: Identity[], total: number, batch: number): Written {
  const docs = authors.map((who) => A.getBackend(A.init({ actor: actorIdFor(who.nodeId, documentId) })))
  const changes: Uint8Array[] = []
  const who: number[] = []
  const hashes: string[] = []
  const t0 = performance.now()
  let i = 0
  for (let turn = 0; i < total; turn ^= 1) {
    const doc = docs[turn]!
    const fresh: Uint8Array[] = []
    for (let k = 0; k < batch && i < total; k++, i++) {
      // on the raw backend a string is one atomic "str" scalar (what A.ImmutableString is in the doc API)
      doc.put("_root", `${turn}:${k % 100}`, `v${i}`)
      const hash = doc.commit(null)!
      fresh.push(doc.getLastLocalChange()!)
      who.push(turn)
      hashes.push(hash)
    }
    docs[turn ^ 1]!.applyChanges(fresh)
    changes.push(...fresh)
  }
  return { changes, authors: who, hashes, writeMs: performance.now() - t0 }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

function timeIt(fn: () => void): number {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}

/** Runs the attribution bench and prints its table. */
export async function benchAttribution(total = 100_000, batch = 1_000, rounds = 3): Promise<void> {
  const authors = [Identity.generate("author-a"), Identity.generate("author-b")]
  const { documentId } = newDocumentId(authors[0]!.nodeId)
  const actors = authors.map((a) => actorIdFor(a.nodeId, documentId))
  const bindings = authors.map((a) => bindActor(a, documentId))
  const w = write(documentId, authors, total, batch)

  // signing on the author's side, measured apart from writing
  let perBatch: SignedHeadsRecord[] = []
  const signPerBatchMs = timeIt(() => {
    perBatch = []
    for (let i = batch - 1; i < total + batch - 1; i += batch) {
      const last = Math.min(i, total - 1)
      perBatch.push(signHeads(authors[w.authors[last]!]!, documentId, actors[w.authors[last]!]!, [w.hashes[last]!]))
    }
  })

  const bare = (): void => {
    const doc = A.getBackend(A.init())
    doc.applyChanges(w.changes)
    if (doc.getHeads().length === 0) throw new Error("nothing applied")
  }
  const checked = (records: SignedHeadsRecord[], decode = changeHeaders) => (): void => {
    const decoded = decode(w.changes)
    const report = attributeChanges({ documentId, changes: decoded, signedHeads: records, bindings })
    if (!report.results.every((r) => r.ok)) throw new Error("a change was refused")
    const doc = A.getBackend(A.init())
    doc.applyChanges(w.changes)
  }
  const headersOnly = (): void => void changeHeaders(w.changes)
  const decodeOnly = (): void => void decodeChanges(w.changes)

  // alternate the variants so drift hits all alike; the per-change variant (~20x) runs once
  const samples = {
    bare: [] as number[],
    perBatch: [] as number[],
    perBatchFullDecode: [] as number[],
    headers: [] as number[],
    decode: [] as number[],
  }
  timeIt(bare) // warm-up: JIT, wasm
  for (let r = 0; r < rounds; r++) {
    samples.bare.push(timeIt(bare))
    samples.perBatch.push(timeIt(checked(perBatch)))
    samples.perBatchFullDecode.push(timeIt(checked(perBatch, decodeChanges)))
    samples.headers.push(timeIt(headersOnly))
    samples.decode.push(timeIt(decodeOnly))
  }
  // per-change records last, so their 100,000 envelopes do not weigh on the other runs' garbage collection
  let perChange: SignedHeadsRecord[] = []
  const signPerChangeMs = timeIt(() => {
    perChange = w.hashes.map((h, i) => signHeads(authors[w.authors[i]!]!, documentId, actors[w.authors[i]!]!, [h]))
  })
  const perChangeMs = timeIt(checked(perChange))
  const base = median(samples.bare)
  const row = (label: string, t: number, ratio: boolean) => [
    label,
    ms(t),
    Math.round(total / (t / 1000)).toLocaleString("en-US"),
    ratio ? `${(t / base).toFixed(2)}x` : "",
  ]
  const writeRate = (extra: number) => Math.round(total / ((w.writeMs + extra) / 1000)).toLocaleString("en-US")
  printTable(
    `attribution: apply ${total.toLocaleString("en-US")} changes by 2 authors to a fresh document (median of ${rounds}; target: checks <= 1.3x bare)`,
    ["", "total", "changes/s", "vs bare"],
    [
      row("baseline: bare applyChanges", base, true),
      row(`checks, signed heads every ${batch.toLocaleString("en-US")} (read headers + verify + apply)`, median(samples.perBatch), true),
      row(`checks, signed heads every ${batch.toLocaleString("en-US")}, full A.decodeChange`, median(samples.perBatchFullDecode), true),
      row("checks, signature per change (read headers + verify + apply; 1 run)", perChangeMs, true),
      row("  of which: reading every change header (changeHeaders)", median(samples.headers), false),
      row("  of which: A.decodeChange of every change", median(samples.decode), false),
    ],
  )
  printTable(
    `attribution: writing ${total.toLocaleString("en-US")} changes (put + commit, raw backend) and signing them`,
    ["", "total", "changes/s"],
    [
      ["baseline: write, unsigned", ms(w.writeMs), writeRate(0)],
      ["write + signature per change", ms(w.writeMs + signPerChangeMs), writeRate(signPerChangeMs)],
      [`write + signed heads every ${batch.toLocaleString("en-US")}`, ms(w.writeMs + signPerBatchMs), writeRate(signPerBatchMs)],
    ],
  )
  await Promise.resolve()
}
