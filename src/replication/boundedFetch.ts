/**
 * Outgoing HTTP requests to peers, with limits: where they may go (dialTarget.ts),
 * how long they may take, and how much of the answer is read. A peer (or a URL a
 * peer handed us) can answer slowly, endlessly or with gigabytes; none of that may
 * stall or exhaust this hub.
 *
 * Built on node:http / https rather than the global fetch: redirects are not
 * followed (a redirect could point anywhere), and the connection's own DNS lookup
 * is the checked one (`guardedLookup`), so no rebinding gap opens between the check
 * and the connect.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http"
import { request as httpsRequest } from "node:https"
import { isIP } from "node:net"
import { FedhubError, isFedhubError } from "../errors.ts"
import { pinnedTlsConnect, type CreateConnection } from "./tlsLink.ts"
import { checkDialTarget, guardedLookup, type AddressScope, type DialRule } from "./dialTarget.ts"

/** Limits of one request to a peer. */
export interface PeerFetchOptions {
  /** Whole request, connect to last byte, in ms (default 10 000). */
  timeoutMs?: number
  /** Most bytes of response body read; past it the request is aborted with BODY_TOO_LARGE (default 1 MiB). */
  maxBytes?: number
  /** Address scopes the target may resolve to (default: all; a hub narrows it). */
  allow?: readonly AddressScope[]
  /** Resolver of hostnames (default: node:dns `lookup`, all addresses). */
  resolve?: DialRule["resolve"]
}

export const DEFAULT_PEER_FETCH = { timeoutMs: 10_000, maxBytes: 1024 * 1024 } as const

/** A fully read, size-bounded response. */
export interface BoundedResponse {
  status: number
  ok: boolean
  headers: IncomingHttpHeaders
  body: Buffer
  /** The body parsed as JSON. @throws FedhubError INVALID_INPUT when it is not JSON. */
  json(): unknown
}

/**
 * Requests `url` from a peer within `opts` limits: the target address is checked
 * first (ADDRESS_NOT_ALLOWED), the whole exchange times out (TIMEOUT), and a body past
 * `maxBytes` is refused without reading it all (BODY_TOO_LARGE). Redirects are returned, not followed.
 * @throws FedhubError ADDRESS_NOT_ALLOWED, TIMEOUT, BODY_TOO_LARGE, HUB_UNREACHABLE, INVALID_INPUT.
 */
export async function boundedFetch(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; createConnection?: CreateConnection } = {},
  opts: PeerFetchOptions = {},
): Promise<BoundedResponse> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PEER_FETCH.timeoutMs
  const maxBytes = opts.maxBytes ?? DEFAULT_PEER_FETCH.maxBytes
  const u = new URL(url)
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new FedhubError("INVALID_INPUT", `cannot fetch ${u.protocol} URLs`)
  const rule: DialRule = { allow: opts.allow, resolve: opts.resolve }
  // an IP literal is never looked up by the socket: check it here; a name is checked by the lookup itself
  if (isIP(u.hostname.replace(/^\[|\]$/g, ""))) await checkDialTarget(url, rule)
  const request = u.protocol === "https:" ? httpsRequest : httpRequest
  const body = init.body === undefined ? undefined : Buffer.from(init.body)
  return new Promise<BoundedResponse>((resolve, reject) => {
    let settled = false
    const fail = (e: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      reject(asFetchError(e, url))
    }
    const timer = setTimeout(() => fail(new FedhubError("TIMEOUT", `${url} did not answer within ${timeoutMs} ms`)), timeoutMs)
    const req = request(u, {
      method: init.method ?? "GET",
      headers: { ...(body ? { "content-length": String(body.length) } : {}), ...init.headers },
      lookup: guardedLookup(rule),
      // https: a node certificate or a CA-verified one, checked before the request is sent (tlsLink.ts)
      ...(u.protocol === "https:" ? { createConnection: (init.createConnection ?? pinnedTlsConnect(undefined, {})) as never } : {}),
    })
    req.on("error", fail)
    req.on("response", (res: IncomingMessage) => {
      const declared = Number(res.headers["content-length"])
      if (Number.isFinite(declared) && declared > maxBytes) {
        fail(tooLarge(url, maxBytes, `declares ${declared} bytes`))
        return
      }
      const chunks: Buffer[] = []
      let size = 0
      res.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size > maxBytes) {
          fail(tooLarge(url, maxBytes, "sent more"))
          return
        }
        chunks.push(chunk)
      })
      res.on("error", fail)
      res.on("aborted", () => fail(new FedhubError("HUB_UNREACHABLE", `${url}: the connection closed mid-answer`)))
      res.on("end", () => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        const buf = Buffer.concat(chunks)
        const status = res.statusCode ?? 0
        resolve({
          status,
          ok: status >= 200 && status < 300,
          headers: res.headers,
          body: buf,
          json: () => {
            try {
              return JSON.parse(buf.toString("utf8")) as unknown
            } catch {
              throw new FedhubError("INVALID_INPUT", `${url} answered something that is not JSON`)
            }
          },
        })
      })
    })
    req.end(body)
  })
}

const tooLarge = (url: string, maxBytes: number, what: string) =>
  new FedhubError("BODY_TOO_LARGE", `${url} answered more than ${maxBytes} bytes (${what}); refused`, { maxBytes })

function asFetchError(e: unknown, url: string): FedhubError {
  if (isFedhubError(e)) return e
  return new FedhubError("HUB_UNREACHABLE", `${url}: ${(e as Error).message ?? String(e)}`)
}
