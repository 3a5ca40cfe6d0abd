/** A running hub's admin REST API, as the CLI reaches it (URL from hub.json, token from the home). */
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

/** Calls `<baseUrl>/api<path>` with the admin token; problem+json errors become FedhubErrors. */
export function adminClient(baseUrl: string, token: string): AdminClient {
  return {
    baseUrl,
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      let res: Response
      try {
        res = await fetch(`${baseUrl}/api${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(60_000),
        })
      } catch (e) {
        throw new FedhubError("HUB_UNREACHABLE", `${baseUrl}: ${(e as Error).message}`)
      }
      if (res.status === 204) return undefined as T
      const json = (await res.json().catch(() => null)) as unknown
      if (!res.ok) {
        const p = json as { code?: string; detail?: string } | null
        const code = p?.code && p.code in ERRORS ? (p.code as ErrorCode) : "INTERNAL"
        throw new FedhubError(code, p?.detail ?? `HTTP ${res.status}`)
      }
      return json as T
    },
  }
}
