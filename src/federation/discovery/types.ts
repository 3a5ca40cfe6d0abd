/**
 * Discovery sources: the contract every way of finding hubs implements (DNS TXT,
 * mDNS, and later bootstrap lists, peer exchange, manual configuration), a small
 * base class that owns the shared mechanics (abort, timeout, close, events), and
 * the `v=fedhub1 id=… url=…` record format that DNS and mDNS both carry.
 *
 * A source only *finds* candidates. A candidate's node id is a claim: the caller
 * must verify it (connect and complete the authenticated handshake) before it
 * trusts the candidate.
 */
import { EventEmitter } from "node:events"
import { FedhubError } from "../../errors.ts"
import { isNodeId, type NodeId } from "../../identity/index.ts"

/** The ways a hub can learn about other hubs. */
export type DiscoveryMethod =
  | "bootstrap_nodes"
  | "peer_exchange"
  | "dns_discovery"
  | "multicast_discovery"
  | "manual_configuration"

/** A hub some source says exists. Nothing about it is verified yet. */
export interface Candidate {
  /** The source that produced it. */
  method: DiscoveryMethod
  /** http(s) or ws(s) URL of the hub. */
  url: string
  /** The node id the record claims; the caller must verify it before trusting it. */
  nodeId?: NodeId
  /** Where it came from, e.g. the queried DNS name or the mDNS instance and responder address. */
  source: string
}

/** A record or lookup the source could not use (malformed TXT, NXDOMAIN, socket error…). */
export interface SourceProblem {
  /** The source that met the problem. */
  method: DiscoveryMethod
  /** Where it happened, e.g. the queried DNS name or the mDNS responder. */
  source: string
  /** A stable code: a FedhubError code (`INVALID_INPUT`), a DNS error code (`ENOTFOUND`, `ETIMEOUT`) or a socket error code. */
  code: string
  /** What exactly was wrong, for humans. */
  detail: string
}

/** What one `discover()` call found. */
export interface SourceResult {
  /** Usable candidates, de-duplicated by the source. */
  candidates: Candidate[]
  /** Everything the source met but could not use; never thrown. */
  problems: SourceProblem[]
}

/** Options of one `discover()` call. */
export interface DiscoverOptions {
  /**
   * Ends discovery early. `discover()` then resolves (never rejects) with what it
   * had collected so far; lookups still in flight are cancelled and not reported.
   * An already-aborted signal resolves at once with no candidates and no problems.
   */
  signal?: AbortSignal
  /** Overrides the source's own time budget for this call (milliseconds, > 0). */
  timeoutMs?: number
}

/**
 * One way of finding hubs. `discover()` resolves with candidates and problems; it
 * does not reject because of the network or of bad records (those are problems).
 * It rejects only on misuse: invalid options, or a call after `close()`
 * (FedhubError INVALID_INPUT). Calls may overlap and may be repeated.
 */
export interface DiscoverySource {
  /** The method every candidate of this source carries. */
  readonly method: DiscoveryMethod
  /** Looks for hubs once. */
  discover(opts?: DiscoverOptions): Promise<SourceResult>
  /** Stops calls in flight (they resolve with what they have) and releases sockets. */
  close?(): Promise<void>
}

/** Events of a discovery source, emitted as results arrive (tuple-style map for node:events). */
export interface DiscoverySourceEvents {
  /** A candidate was found (also part of the result of the running `discover()`). */
  candidate: [Candidate]
  /** A record or lookup could not be used (also part of the result). */
  problem: [SourceProblem]
}

/** Why a running discovery stopped before its collector finished on its own. */
export type StopReason = "timeout" | "aborted" | "closed"

/** What `DiscoverySourceBase` hands to an implementation for one `discover()` call. */
export interface CollectContext {
  /** Aborted on timeout, on the caller's abort and on `close()`; the collector must then finish promptly. */
  readonly signal: AbortSignal
  /** The time budget of this call, in milliseconds. */
  readonly timeoutMs: number
  /** Why `signal` fired, or undefined while it has not. */
  stopReason(): StopReason | undefined
  /** Records a candidate (the method is filled in); returns false once the call has finished. */
  addCandidate(c: Omit<Candidate, "method">): boolean
  /** Records a problem (the method is filled in); returns false once the call has finished. */
  addProblem(p: Omit<SourceProblem, "method">): boolean
}

/**
 * The small base class of a discovery source: it validates options, short-circuits
 * an already-aborted signal, enforces the time budget, lets `close()` stop calls in
 * flight, emits `candidate`/`problem` events, and turns an unexpected exception
 * of the collector into a problem. Implementations write `collect()` only.
 */
export abstract class DiscoverySourceBase extends EventEmitter<DiscoverySourceEvents> implements DiscoverySource {
  /** The method every candidate of this source carries. */
  abstract readonly method: DiscoveryMethod
  /** The time budget used when `discover()` gets no `timeoutMs`. */
  protected abstract readonly defaultTimeoutMs: number
  readonly #running = new Set<AbortController>()
  #closed = false

  /** Gathers candidates for one call until done or until `ctx.signal` aborts. */
  protected abstract collect(ctx: CollectContext): Promise<void>

  /** Looks for hubs once; see `DiscoverySource.discover`. */
  async discover(opts: DiscoverOptions = {}): Promise<SourceResult> {
    if (this.#closed) throw new FedhubError("INVALID_INPUT", `the ${this.method} source is closed`)
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs
    assertTimeout(timeoutMs)
    const result: SourceResult = { candidates: [], problems: [] }
    if (opts.signal?.aborted) return result

    const controller = new AbortController()
    let reason: StopReason | undefined
    const stop = (r: StopReason) => {
      if (reason !== undefined) return
      reason = r
      controller.abort(r)
    }
    const onAbort = () => stop("aborted")
    opts.signal?.addEventListener("abort", onAbort, { once: true })
    const timer = setTimeout(() => stop("timeout"), timeoutMs)
    this.#running.add(controller)
    let finished = false
    const ctx: CollectContext = {
      signal: controller.signal,
      timeoutMs,
      stopReason: () => reason,
      addCandidate: c => {
        if (finished) return false
        const candidate: Candidate = { method: this.method, ...c }
        result.candidates.push(candidate)
        this.#emitSafely(() => this.emit("candidate", candidate))
        return true
      },
      addProblem: p => {
        if (finished) return false
        const problem: SourceProblem = { method: this.method, ...p }
        result.problems.push(problem)
        this.#emitSafely(() => this.emit("problem", problem))
        return true
      },
    }
    try {
      await this.collect(ctx)
    } catch (e) {
      ctx.addProblem({ source: this.method, code: errorCode(e) ?? "INTERNAL", detail: errorMessage(e) })
    } finally {
      finished = true
      clearTimeout(timer)
      opts.signal?.removeEventListener("abort", onAbort)
      this.#running.delete(controller)
    }
    return result
  }

  /** Stops the calls in flight (they resolve with what they have); later calls reject. */
  async close(): Promise<void> {
    this.#closed = true
    for (const c of this.#running) c.abort("closed" satisfies StopReason)
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed
  }

  #emitSafely(emit: () => void): void {
    try {
      emit()
    } catch {
      // a throwing listener must not break discovery
    }
  }
}

function assertTimeout(ms: unknown): asserts ms is number {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0)
    throw new FedhubError("INVALID_INPUT", `timeoutMs must be a positive number of milliseconds, got ${String(ms)}`)
}

/** The `code` of an error-like value (Node system errors, FedhubError), if any. */
export function errorCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") return e.code
  return undefined
}

/** The message (or FedhubError detail) of any thrown value. */
export function errorMessage(e: unknown): string {
  if (e instanceof FedhubError) return e.detail
  if (e instanceof Error) return e.message
  return String(e)
}

// --- the v=fedhub1 record -----------------------------------------------------------

/** Version tag of the TXT record format. */
export const FEDHUB_TXT_VERSION = "fedhub1"

/** Longest TXT record text `parseFedhubTxt` accepts (a record is id + URL, well under this). */
export const MAX_FEDHUB_TXT_LENGTH = 2048

/** URL schemes a hub record may carry. */
export const HUB_URL_PROTOCOLS: readonly string[] = ["http:", "https:", "ws:", "wss:"]

/** The content of one `v=fedhub1` record. */
export interface FedhubTxt {
  /** The node id the record claims. */
  id: NodeId
  /** Where that node listens (http, https, ws or wss). */
  url: string
}

/**
 * Parses `v=fedhub1 id=<node id> url=<url>`: whitespace-separated `key=value`
 * fields in any order; keys are case-insensitive (RFC 6763 §6.4); unknown keys
 * are ignored so later versions can add fields; a known key given twice, a field
 * without `=`, a missing or other `v`, an id that is not a node id, and a URL that
 * is not absolute http/https/ws/wss (or carries credentials) are refused.
 * @throws FedhubError INVALID_INPUT whose detail says what was wrong.
 */
export function parseFedhubTxt(txt: string): FedhubTxt {
  if (typeof txt !== "string") throw bad("a fedhub TXT record is a string")
  if (txt.length > MAX_FEDHUB_TXT_LENGTH)
    throw bad(`a fedhub TXT record is at most ${MAX_FEDHUB_TXT_LENGTH} characters, got ${txt.length}`)
  const fields = new Map<string, string>()
  for (const token of txt.trim().split(/\s+/)) {
    if (token === "") continue
    const eq = token.indexOf("=")
    if (eq <= 0) throw bad(`field "${clip(token)}" is not key=value`)
    const key = token.slice(0, eq).toLowerCase()
    if (key !== "v" && key !== "id" && key !== "url") continue
    if (fields.has(key)) throw bad(`field ${key}= appears twice`)
    fields.set(key, token.slice(eq + 1))
  }
  const v = fields.get("v")
  if (v === undefined) throw bad(`missing v=${FEDHUB_TXT_VERSION}`)
  if (v !== FEDHUB_TXT_VERSION) throw bad(`unsupported version v=${clip(v)} (expected v=${FEDHUB_TXT_VERSION})`)
  const id = fields.get("id")
  if (id === undefined) throw bad("missing id=<node id>")
  if (!isNodeId(id)) throw bad(`id=${clip(id)} is not a fedhub node id`)
  const url = fields.get("url")
  if (url === undefined) throw bad("missing url=<hub url>")
  assertHubUrl(url)
  return { id, url }
}

/**
 * Formats the TXT record that announces a hub: `v=fedhub1 id=<id> url=<url>`.
 * @throws FedhubError INVALID_INPUT when the id or URL would not parse back.
 */
export function formatFedhubTxt(rec: { id: NodeId | string; url: string }): string {
  if (!isNodeId(rec.id)) throw bad(`id=${clip(String(rec.id))} is not a fedhub node id`)
  assertHubUrl(rec.url)
  const txt = `v=${FEDHUB_TXT_VERSION} id=${rec.id} url=${rec.url}`
  if (txt.length > MAX_FEDHUB_TXT_LENGTH) throw bad(`the record would exceed ${MAX_FEDHUB_TXT_LENGTH} characters`)
  return txt
}

/**
 * Checks that `url` is an absolute http/https/ws/wss URL with a host, no
 * credentials and no whitespace.
 * @throws FedhubError INVALID_INPUT otherwise.
 */
export function assertHubUrl(url: string): void {
  if (typeof url !== "string" || url === "") throw bad("url is empty")
  if (/\s/.test(url)) throw bad("url contains whitespace")
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw bad(`url=${clip(url)} is not an absolute URL`)
  }
  if (!HUB_URL_PROTOCOLS.includes(u.protocol))
    throw bad(`url=${clip(url)} has scheme ${u.protocol.slice(0, -1)}; expected http, https, ws or wss`)
  if (u.hostname === "") throw bad(`url=${clip(url)} has no host`)
  if (u.username !== "" || u.password !== "") throw bad("url must not carry credentials")
}

const bad = (detail: string) => new FedhubError("INVALID_INPUT", `bad fedhub TXT record: ${detail}`)
const clip = (s: string) => (s.length > 80 ? `${s.slice(0, 77)}...` : s)
