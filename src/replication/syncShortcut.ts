/**
 * Automerge's `generateSyncMessage` saves the whole document (compresses and hashes every
 * column) each time it is asked for a message to a peer that has nothing yet, even when it
 * then returns nothing because the whole document is already in flight to that peer.
 * automerge-repo asks on every message in and every change, so an origin serving a
 * 1,000,000-item catalog to a fresh hub spent 72 s of CPU in those saves (about 0.7 s each
 * for a 62,500-item shard, six or more per shard). This answers "nothing to send" in exactly
 * the case Automerge's own rule does (its `sync.rs`: our heads unchanged since the last
 * message, the peer has responded, a message is in flight, and no reset is due), without
 * the save; every other call goes to Automerge as before. Installed once per process, on
 * the wasm class every document shares; `test/replication/sync-shortcut.test.ts` checks
 * it answers what Automerge answers over random exchanges.
 */
import { createRequire } from "node:module"
import * as A from "@automerge/automerge"

interface JsSyncState {
  lastSentHeads: string[]
  inFlight: boolean
  haveResponded: boolean
  theirHave: { lastSync: string[] }[] | null
}

interface WasmApi {
  importSyncState: (state: unknown) => unknown
  Automerge: { prototype: { generateSyncMessage: (state: unknown) => unknown; getHeads: () => string[]; getChangeMetaByHash: (h: string) => unknown } }
  exportSyncState: (state: unknown) => JsSyncState
}

let installed = false

let original: { api: WasmApi; generate: (this: unknown, state: unknown) => unknown } | undefined

/** What Automerge's own generateSyncMessage answers for `doc` and the JS sync state `state` (for tests comparing against it). */
export function automergeAnswer(doc: A.Doc<unknown>, state: A.SyncState): Uint8Array | null {
  if (!original) throw new Error("the sync shortcut is not installed")
  return original.generate.call(A.getBackend(doc), original.api.importSyncState(state)) as Uint8Array | null
}

const sameHeads = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((h, i) => h === b[i])

/** Whether Automerge would answer "nothing to send" for `js` on a document whose heads are `heads`. */
export function nothingToSend(js: JsSyncState, heads: readonly string[], holds: (hash: string) => boolean): boolean {
  if (!js.inFlight || !js.haveResponded || !sameHeads(js.lastSentHeads, heads)) return false
  // a peer that names heads we do not hold is sent a reset first (that message is Automerge's to build)
  const first = js.theirHave?.[0]
  return !first || first.lastSync.every(holds)
}

/** Installs the shortcut (idempotent). */
export function installSyncShortcut(): void {
  if (installed) return
  installed = true
  // the same module instance the ESM entry loaded (CommonJS modules are cached by path)
  const require = createRequire(import.meta.url)
  const entry = require.resolve("@automerge/automerge")
  const wasmPath = entry.replace(/cjs\/fullfat_node\.cjs$/, "mjs/wasm_bindgen_output/nodejs/automerge_wasm.cjs")
  if (wasmPath === entry) return // not the layout this was written against: leave Automerge alone
  let api: WasmApi
  try {
    api = require(wasmPath) as WasmApi
  } catch {
    return
  }
  // only if it is the class our documents use
  if (Object.getPrototypeOf(A.getBackend(A.init())) !== api.Automerge.prototype) return
  const proto = api.Automerge.prototype
  const generate = proto.generateSyncMessage
  original = { api, generate }
  proto.generateSyncMessage = function (this: WasmApi["Automerge"]["prototype"], state: unknown) {
    const js = api.exportSyncState(state)
    if (nothingToSend(js, this.getHeads(), h => this.getChangeMetaByHash(h) !== null)) return null
    return generate.call(this, state)
  }
}
