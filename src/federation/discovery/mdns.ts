/**
 * Multicast DNS discovery on the local network (DNS-SD over mDNS, RFC 6762/6763).
 * A hub runs an `MdnsAnnouncer`, which answers PTR queries for `_fedhub._tcp.local`
 * with its instance, a `v=fedhub1 id=… url=…` TXT record, SRV and (for IP-literal
 * URLs) A/AAAA records. `MdnsSource` sends one PTR query and collects answers for
 * its time budget. Both use `multicast-dns`; their `mdnsOptions` go to it unchanged.
 */
import { EventEmitter } from "node:events"
import { isIP } from "node:net"
import type { RemoteInfo } from "node:dgram"
import makeMdns from "multicast-dns"
import { FedhubError } from "../../errors.ts"
import { isNodeId, type NodeId } from "../../identity/index.ts"
import {
  DiscoverySourceBase,
  errorCode,
  errorMessage,
  formatFedhubTxt,
  parseFedhubTxt,
  type CollectContext,
} from "./types.ts"

/** Options passed unchanged to `multicast-dns` (port, ip, interface, bind, loopback, reuseAddr…). */
export type MdnsOptions = makeMdns.Options
type Mdns = makeMdns.MulticastDNS
type Answer = makeMdns.ResponseOutgoingPacket["answers"][number]

/** The DNS-SD service type of fedhub hubs. */
export const MDNS_SERVICE = "_fedhub._tcp.local"

/** The DNS-SD meta-query name that enumerates service types (RFC 6763 §9). */
export const DNS_SD_SERVICES = "_services._dns-sd._udp.local"

/** The standard mDNS IPv4 group. */
export const MDNS_IPV4_GROUP = "224.0.0.251"

/** Time budget of one `MdnsSource.discover()` when neither the source nor the call sets one. */
export const DEFAULT_MDNS_TIMEOUT_MS = 1_000

/** TTL (seconds) of announced records (RFC 6762 §10 recommends 120 s for these). */
export const DEFAULT_MDNS_TTL = 120

/**
 * How the tests exercise mDNS, found on the development machine (Linux, `lo` without
 * the MULTICAST flag): **real multicast confined to loopback works**. Each socket
 * joins the group on the loopback interface only (`interface: "127.0.0.1"`, which
 * also makes 127.0.0.1 the outgoing multicast interface) and is bound to the group
 * address (`bind: "224.0.0.251"`), so it receives that group's datagrams and nothing
 * else; several sockets share the port (`reuseAddr`) and see each other's packets
 * (`loopback`). What does not work: binding to `127.0.0.1` (Linux then drops the
 * datagrams addressed to the group, so nothing is received). The library's
 * unicast-only mode was therefore not needed. Tests use a free port, not 5353.
 */
export const MDNS_TEST_MODE = "real-multicast-on-loopback" as const

/**
 * `multicast-dns` options that keep mDNS on the loopback interface with real
 * multicast (see `MDNS_TEST_MODE`). Add a `port`; 5353 is the default.
 */
export const MDNS_LOOPBACK_OPTIONS: Readonly<MdnsOptions> = Object.freeze({
  interface: "127.0.0.1",
  bind: MDNS_IPV4_GROUP,
  ip: MDNS_IPV4_GROUP,
  multicast: true,
  loopback: true,
  reuseAddr: true,
})

/** `MDNS_LOOPBACK_OPTIONS` on the given port. */
export const loopbackMdnsOptions = (port: number): MdnsOptions => ({ ...MDNS_LOOPBACK_OPTIONS, port })

const OPEN_TIMEOUT_MS = 5_000

/**
 * Creates a `multicast-dns` instance and waits until its socket is bound. Error and
 * warning listeners are attached first, so a socket error never becomes an
 * uncaught 'error' event.
 * @throws the bind error (e.g. EADDRINUSE, EACCES), or FedhubError TIMEOUT.
 */
async function openMdns(options: MdnsOptions | undefined, onTrouble: (e: Error) => void): Promise<Mdns> {
  const opts: MdnsOptions = { ...options }
  if (opts.port === 0 || opts.bind === false)
    throw new FedhubError("INVALID_INPUT", "mDNS needs a bound, fixed port (port 0 and bind: false are not supported)")
  const m = makeMdns(opts)
  // While binding, a bind failure arrives twice (as 'warning' and as 'error'): hold
  // warnings back until the outcome is known, and drop the one that is the bind error.
  let early: Error[] | undefined = []
  m.on("warning", (e: Error) => (early ? early.push(e) : onTrouble(e)))
  let opening = true
  let failure: unknown
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new FedhubError("TIMEOUT", `mDNS socket not bound within ${OPEN_TIMEOUT_MS} ms`)),
        OPEN_TIMEOUT_MS,
      )
      m.once("ready", () => {
        clearTimeout(timer)
        resolve()
      })
      m.on("error", (e: Error) => {
        if (opening) {
          clearTimeout(timer)
          reject(e)
        } else onTrouble(e)
      })
    })
  } catch (e) {
    failure = e
    await destroyMdns(m)
    throw e
  } finally {
    opening = false
    const held = early
    early = undefined
    for (const w of held ?? []) if (w !== failure) onTrouble(w)
  }
  return m
}

/** Destroys a `multicast-dns` instance and resolves once its socket is closed. */
function destroyMdns(m: Mdns): Promise<void> {
  return new Promise<void>(resolve => {
    try {
      m.destroy(() => resolve())
    } catch {
      resolve() // already closed
    }
  })
}

const lower = (s: string) => s.toLowerCase()

/** Splits text into DNS character-strings of at most 255 bytes. */
function txtChunks(text: string): Buffer[] {
  const b = Buffer.from(text, "utf8")
  const out: Buffer[] = []
  for (let i = 0; i < b.length; i += 255) out.push(b.subarray(i, i + 255))
  return out
}

/** Joins a decoded TXT record's character-strings into one text. */
function txtText(data: unknown): string {
  const parts = Array.isArray(data) ? data : [data]
  return Buffer.concat(parts.map(p => (Buffer.isBuffer(p) ? p : Buffer.from(String(p), "utf8")))).toString("utf8")
}

// --- announcer ----------------------------------------------------------------------

/** Options of an `MdnsAnnouncer`. */
export interface MdnsAnnouncerOptions {
  /** The node id to announce. */
  nodeId: NodeId
  /** The hub's URL (http, https, ws or wss). */
  url: string
  /** The DNS-SD instance label (no dots, 1–63 bytes); default `fedhub-<12 chars of the id>`. */
  instanceName?: string
  /** Passed to `multicast-dns`. */
  mdnsOptions?: MdnsOptions
  /** TTL of the records in seconds (default `DEFAULT_MDNS_TTL`). */
  ttl?: number
  /** Send one unsolicited announcement on start and a goodbye (TTL 0) on stop (default true). */
  announce?: boolean
}

/** Events of an `MdnsAnnouncer`. */
export interface MdnsAnnouncerEvents {
  /** A query for this hub was answered. */
  answered: [RemoteInfo]
  /** A socket error or warning, or a query that could not be handled; the announcer keeps running. */
  warning: [Error]
}

/**
 * Answers mDNS queries for `_fedhub._tcp.local` (PTR → `<instance>._fedhub._tcp.local`,
 * with TXT, SRV and A/AAAA as additionals), for the instance's TXT/SRV, for the
 * host's address, and for the DNS-SD service enumeration. Queries from another
 * port than the mDNS port (legacy unicast) are answered by unicast.
 */
export class MdnsAnnouncer extends EventEmitter<MdnsAnnouncerEvents> {
  /** The announced node id. */
  readonly nodeId: NodeId
  /** The announced URL. */
  readonly url: string
  /** The instance label. */
  readonly instanceName: string
  /** `<instance>._fedhub._tcp.local`. */
  readonly instanceFqdn: string
  /** The TXT record text (`v=fedhub1 id=… url=…`). */
  readonly txt: string
  readonly #opts: MdnsAnnouncerOptions
  readonly #ttl: number
  readonly #srv: { port: number; target: string }
  readonly #address: Answer | undefined
  #mdns: Mdns | undefined
  #starting: Promise<void> | undefined
  #answered = 0

  /** @throws FedhubError INVALID_INPUT on a bad node id, URL, instance name or TTL. */
  constructor(opts: MdnsAnnouncerOptions) {
    super()
    if (!isNodeId(opts?.nodeId)) throw new FedhubError("INVALID_INPUT", "nodeId is not a fedhub node id")
    this.txt = formatFedhubTxt({ id: opts.nodeId, url: opts.url })
    this.nodeId = opts.nodeId
    this.url = opts.url
    this.instanceName = opts.instanceName ?? `fedhub-${opts.nodeId.slice(3, 15)}`
    assertInstanceName(this.instanceName)
    this.instanceFqdn = `${this.instanceName}.${MDNS_SERVICE}`
    this.#ttl = opts.ttl ?? DEFAULT_MDNS_TTL
    if (!Number.isInteger(this.#ttl) || this.#ttl < 1 || this.#ttl > 2 ** 31 - 1)
      throw new FedhubError("INVALID_INPUT", "ttl is a positive integer number of seconds")
    this.#opts = opts
    const u = new URL(opts.url)
    const port = u.port ? Number(u.port) : u.protocol === "https:" || u.protocol === "wss:" ? 443 : 80
    const host = u.hostname.replace(/^\[(.*)\]$/, "$1")
    const family = isIP(host)
    if (family === 0) this.#srv = { port, target: host }
    else {
      const target = `${this.instanceName.replace(/[^A-Za-z0-9-]/g, "-")}.local`
      this.#srv = { port, target }
      this.#address = { name: target, type: family === 4 ? "A" : "AAAA", ttl: this.#ttl, flush: true, data: host }
    }
  }

  /** True between a successful `start()` and `stop()`. */
  get running(): boolean {
    return this.#mdns !== undefined
  }

  /** How many queries this announcer has answered. */
  get answered(): number {
    return this.#answered
  }

  /**
   * Binds the socket and starts answering (idempotent). Resolves once bound.
   * @throws the bind error (EADDRINUSE, EACCES…) or FedhubError TIMEOUT.
   */
  start(): Promise<void> {
    this.#starting ??= (async () => {
      const m = await openMdns(this.#opts.mdnsOptions, e => this.#warn(e))
      m.on("query", (q, rinfo) => {
        try {
          this.#onQuery(m, q, rinfo)
        } catch (e) {
          this.#warn(e instanceof Error ? e : new Error(String(e)))
        }
      })
      this.#mdns = m
      if (this.#opts.announce !== false) m.respond({ answers: this.#records(this.#ttl) }, err => err && this.#warn(err))
    })().catch(e => {
      this.#starting = undefined
      throw e
    })
    return this.#starting
  }

  /** Stops answering and closes the socket (idempotent); sends a goodbye first unless `announce: false`. */
  async stop(): Promise<void> {
    const starting = this.#starting
    if (!starting) return
    try {
      await starting
    } catch {
      return // never started
    }
    const m = this.#mdns
    this.#mdns = undefined
    this.#starting = undefined
    if (!m) return
    m.removeAllListeners("query")
    if (this.#opts.announce !== false)
      await new Promise<void>(resolve => m.respond({ answers: this.#records(0) }, () => resolve()))
    await destroyMdns(m)
  }

  /** The records this hub publishes, with the given TTL (0 = goodbye). */
  #records(ttl: number): Answer[] {
    const recs: Answer[] = [
      { name: MDNS_SERVICE, type: "PTR", ttl, data: this.instanceFqdn },
      { name: this.instanceFqdn, type: "TXT", ttl, flush: true, data: txtChunks(this.txt) },
      { name: this.instanceFqdn, type: "SRV", ttl, flush: true, data: { port: this.#srv.port, target: this.#srv.target } },
    ]
    if (this.#address) recs.push({ ...this.#address, ttl } as Answer)
    return recs
  }

  #onQuery(m: Mdns, query: makeMdns.QueryPacket, rinfo: RemoteInfo): void {
    const [ptr, txt, srv, ...addr] = this.#records(this.#ttl) as [Answer, Answer, Answer, ...Answer[]]
    const answers: Answer[] = []
    const additionals: Answer[] = []
    const add = (list: Answer[], r: Answer) => {
      if (!answers.includes(r) && !additionals.includes(r)) list.push(r)
    }
    const known = (query.answers ?? []).some(
      a => a.type === "PTR" && lower(a.name) === lower(MDNS_SERVICE) && typeof a.data === "string" &&
        lower(a.data) === lower(this.instanceFqdn) && (a.ttl ?? 0) > this.#ttl / 2,
    )
    for (const q of query.questions ?? []) {
      const name = lower(q.name)
      const any = (q.type as string) === "ANY"
      if (name === lower(MDNS_SERVICE) && (any || q.type === "PTR")) {
        if (known) continue // known-answer suppression (RFC 6762 §7.1)
        add(answers, ptr)
        for (const r of [txt, srv, ...addr]) add(additionals, r)
      } else if (name === lower(this.instanceFqdn)) {
        if (any || q.type === "TXT") add(answers, txt)
        if (any || q.type === "SRV") {
          add(answers, srv)
          for (const r of addr) add(additionals, r)
        }
      } else if (name === lower(DNS_SD_SERVICES) && (any || q.type === "PTR")) {
        answers.push({ name: DNS_SD_SERVICES, type: "PTR", ttl: this.#ttl, data: MDNS_SERVICE })
      } else if (addr[0] && name === lower(addr[0].name) && (any || q.type === addr[0].type)) {
        add(answers, addr[0])
      }
    }
    if (answers.length === 0) return
    this.#answered++
    const mdnsPort = this.#opts.mdnsOptions?.port ?? 5353
    if (rinfo.port !== mdnsPort) {
      // legacy unicast query (RFC 6762 §6.7): answer the sender directly, echoing id and questions
      m.respond({ id: query.id, questions: query.questions, answers, additionals }, { port: rinfo.port, address: rinfo.address }, err => err && this.#warn(err))
    } else m.respond({ answers, additionals }, err => err && this.#warn(err))
    this.emit("answered", rinfo)
  }

  #warn(e: Error): void {
    this.emit("warning", e)
  }
}

/**
 * Checks a DNS-SD instance label: 1–63 bytes of UTF-8, no dots, no control characters.
 * @throws FedhubError INVALID_INPUT otherwise.
 */
export function assertInstanceName(name: string): void {
  if (typeof name !== "string" || name === "") throw new FedhubError("INVALID_INPUT", "instanceName is a non-empty string")
  if (Buffer.byteLength(name, "utf8") > 63) throw new FedhubError("INVALID_INPUT", "instanceName is at most 63 bytes")
  // eslint-disable-next-line no-control-regex
  if (/[.\u0000-\u001f\u007f]/.test(name)) throw new FedhubError("INVALID_INPUT", "instanceName holds no dots or control characters")
}

// --- source -------------------------------------------------------------------------

/** Options of an `MdnsSource`. */
export interface MdnsSourceOptions {
  /** How long one `discover()` collects answers, in milliseconds (default `DEFAULT_MDNS_TIMEOUT_MS`). */
  timeoutMs?: number
  /** Passed to `multicast-dns`. */
  mdnsOptions?: MdnsOptions
}

/**
 * Finds hubs on the local network (method `multicast_discovery`). Each `discover()`
 * opens its own socket, sends one PTR query for `_fedhub._tcp.local`, and collects
 * every response until its time budget ends (the normal end) or the call is
 * aborted; then it closes the socket. TXT records of `_fedhub._tcp.local` instances
 * become candidates, de-duplicated by node id (the same id with another URL is a
 * `DUPLICATE_NODE_ID` problem); a PTR whose TXT is missing triggers one TXT query and,
 * if none comes, an `MDNS_NO_TXT` problem; records with TTL 0 (goodbyes) are ignored.
 * Socket errors become problems and never escape.
 */
export class MdnsSource extends DiscoverySourceBase {
  /** Always `multicast_discovery`. */
  readonly method = "multicast_discovery" as const
  /** The collection window of a call that sets none (`timeoutMs` option, else `DEFAULT_MDNS_TIMEOUT_MS`). */
  protected readonly defaultTimeoutMs: number
  readonly #mdnsOptions: MdnsOptions | undefined

  /** Nothing is bound until `discover()`; each call opens and closes its own socket. */
  constructor(opts: MdnsSourceOptions = {}) {
    super()
    this.defaultTimeoutMs = opts.timeoutMs ?? DEFAULT_MDNS_TIMEOUT_MS
    this.#mdnsOptions = opts.mdnsOptions
  }

  /** Opens a socket, sends the PTR query, collects until `ctx.signal` fires, closes the socket. */
  protected async collect(ctx: CollectContext): Promise<void> {
    const opts = this.#mdnsOptions
    const socketName = `mdns ${opts?.ip ?? MDNS_IPV4_GROUP}:${opts?.port ?? 5353}${opts?.interface ? ` on ${opts.interface}` : ""}`
    const trouble = (e: Error) =>
      ctx.addProblem({ source: socketName, code: errorCode(e) ?? "MDNS_SOCKET_ERROR", detail: errorMessage(e) })
    let m: Mdns
    try {
      m = await openMdns(opts, trouble)
    } catch (e) {
      trouble(e instanceof Error ? e : new Error(String(e)))
      return
    }
    const byId = new Map<NodeId, string>()
    const conflicts = new Set<string>() // "id url" already reported as DUPLICATE_NODE_ID
    const seenTxt = new Set<string>() // instance + text already handled
    const withTxt = new Set<string>() // instances whose TXT arrived
    const pending = new Map<string, string>() // instance → responder, PTR seen but no TXT yet
    const service = lower(MDNS_SERVICE)

    const onTxt = (instance: string, data: unknown, rinfo: RemoteInfo) => {
      const key = lower(instance)
      withTxt.add(key)
      pending.delete(key)
      const text = txtText(data)
      const source = `${instance}@${rinfo.address}`
      if (seenTxt.has(`${key} ${text}`)) return
      seenTxt.add(`${key} ${text}`)
      let rec: { id: NodeId; url: string }
      try {
        rec = parseFedhubTxt(text)
      } catch (e) {
        ctx.addProblem({ source, code: errorCode(e) ?? "INVALID_INPUT", detail: errorMessage(e) })
        return
      }
      const known = byId.get(rec.id)
      if (known === undefined) {
        byId.set(rec.id, rec.url)
        ctx.addCandidate({ url: rec.url, nodeId: rec.id, source })
      } else if (known !== rec.url && !conflicts.has(`${rec.id} ${rec.url}`)) {
        conflicts.add(`${rec.id} ${rec.url}`)
        ctx.addProblem({
          source,
          code: "DUPLICATE_NODE_ID",
          detail: `${rec.id} is also announced at ${rec.url}; kept ${known}`,
        })
      }
    }

    const onResponse = (res: makeMdns.ResponsePacket, rinfo: RemoteInfo) => {
      const records = [...(res.answers ?? []), ...(res.additionals ?? [])]
      for (const r of records)
        if (r.type === "TXT" && (r.ttl ?? 1) > 0 && lower(r.name).endsWith(`.${service}`)) onTxt(r.name, r.data, rinfo)
      for (const r of records) {
        if (r.type !== "PTR" || (r.ttl ?? 1) <= 0 || lower(r.name) !== service || typeof r.data !== "string") continue
        const key = lower(r.data)
        if (withTxt.has(key) || pending.has(key)) continue
        pending.set(key, `${r.data}@${rinfo.address}`)
        m.query([{ name: r.data, type: "TXT" }], err => err && trouble(err))
      }
    }
    m.on("response", (res, rinfo) => {
      try {
        onResponse(res, rinfo)
      } catch (e) {
        ctx.addProblem({ source: `${rinfo.address}:${rinfo.port}`, code: "MALFORMED_RESPONSE", detail: errorMessage(e) })
      }
    })

    try {
      if (!ctx.signal.aborted) {
        const ended = new Promise<void>(resolve => ctx.signal.addEventListener("abort", () => resolve(), { once: true }))
        m.query([{ name: MDNS_SERVICE, type: "PTR" }], err => err && trouble(err))
        await ended
      }
    } finally {
      m.removeAllListeners("response")
      await destroyMdns(m)
    }
    if (ctx.stopReason() === "timeout")
      for (const source of pending.values())
        ctx.addProblem({ source, code: "MDNS_NO_TXT", detail: "announced by PTR, but no TXT record arrived" })
  }
}
