/** A running hub's admin REST API, as the CLI reaches it (URL from hub.json, token from the home). */
import { request as httpRequest } from "node:http"
import { request as httpsRequest } from "node:https"
import { readAdminToken, readRunInfo, resolveHome } from "../hub/home.ts"
import { ERRORS, FedhubError, type ErrorCode } from "../errors.ts"

export interface HubTarget {
  home?: string
  hub?: string
  token?: string
}

export interface AdminClient {
  baseUrl: string
  call<T>(method: string, path: string, body?: unknown): Promise<T>
}

/** Finds the running hub of the home (or --hub/--token, $FEDHUB_URL/$FEDHUB_TOKEN). */
export async function openAdminClient(opts: HubTarget): Promise<AdminClient> {
  const paths = resolveHome(opts.home)
  const run = opts.hub ? undefined : await readRunInfo(paths)
  const url = opts.hub ?? process.env.FEDHUB_URL ?? run?.url
  if (!url)
    throw new FedhubError("HUB_UNREACHABLE", `no hub is running on ${paths.home}: start one, pass --hub URL, or use --offline`)
  const token = opts.token ?? process.env.FEDHUB_TOKEN ?? (await readAdminToken(paths))
  return adminClient(url, token)
}

/**
 * Where a local admin client talks to a hub: an https:// URL on loopback is reached in
 * plain HTTP on the same port (a hub serves both there, README "Encryption"); any other
 * URL as given.
 */
export function adminBase(url: string): string {
  const u = new URL(url)
  const host = u.hostname.replace(/^\[|\]$/g, "")
  if (u.protocol === "https:" && (host === "localhost" || host === "::1" || /^127\./.test(host))) u.protocol = "http:"
  return u.toString().replace(/\/$/, "")
}

/** Calls `<baseUrl>/api<path>` with the admin token; problem+json errors become FedhubErrors. */
export function adminClient(url: string, token: string): AdminClient {
  const baseUrl = adminBase(url)
  return {
    baseUrl,
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      let res: { status: number; text: string }
      try {
        res = await send(new URL(`${baseUrl}/api${path}`), method, token, body)
      } catch (e) {
        throw new FedhubError("HUB_UNREACHABLE", `${baseUrl}: ${(e as Error).message}`)
      }
      if (res.status === 204) return undefined as T
      let json: unknown = null
      try {
        json = JSON.parse(res.text)
      } catch {
        json = null
      }
      if (res.status < 200 || res.status >= 300) {
        const p = json as { code?: string; detail?: string } | null
        const code = p?.code && p.code in ERRORS ? (p.code as ErrorCode) : "INTERNAL"
        throw new FedhubError(code, p?.detail ?? `HTTP ${res.status}`)
      }
      return json as T
    },
  }
}

/**
 * One request with node:http(s), not `fetch`: a CLI command runs one or two requests and
 * exits, and loading fetch's client (undici) costs about 100 ms of every command.
 */
function send(url: URL, method: string, token: string, body: unknown): Promise<{ status: number; text: string }> {
  const payload = body !== undefined ? Buffer.from(JSON.stringify(body)) : undefined
  const request = url.protocol === "https:" ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { "content-type": "application/json", "content-length": String(payload.byteLength) } : {}),
        },
        timeout: 60_000,
      },
      res => {
        const chunks: Buffer[] = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", reject)
      },
    )
    req.on("timeout", () => req.destroy(new Error("timed out after 60 s")))
    req.on("error", reject)
    req.end(payload)
  })
}
