/**
 * Verifying a discovered node before it enters the registry: first its signed
 * descriptor, then proof that whoever answers at that URL holds the key (it signs
 * our fresh nonce in the handshake).
 */
import type { Identity, NodeId, SignedEnvelope } from "../identity/index.ts"
import type { FederationNode } from "../schema/index.ts"
import { FedhubError, toFedhubError } from "../errors.ts"
import { performHandshake, syncEndpoint } from "../replication/handshake.ts"
import { verifyDescriptor } from "./descriptor.ts"

export interface VerifiedNode {
  nodeId: NodeId
  url: string
  descriptor: SignedEnvelope<FederationNode>
  latencyMs: number
}

/** The http(s) base of any hub URL (http, https, ws, wss; with or without /sync). */
export const httpBase = (url: string): string => {
  const endpoint = syncEndpoint(url)
  return endpoint.replace(/^ws/, "http").replace(/\/sync$/, "")
}

/**
 * Fetches and verifies the node at `url`; if the candidate came with a claimed id
 * (DNS, mDNS, a directory), the node that answers must be that id (KEY_MISMATCH).
 */
export async function verifyCandidate(
  identity: Identity,
  candidate: { url: string; nodeId?: string },
  opts: { timeoutMs?: number } = {},
): Promise<VerifiedNode> {
  const base = httpBase(candidate.url)
  const t0 = performance.now()
  let body: unknown
  try {
    const res = await fetch(`${base}/api/node`, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5_000) })
    if (!res.ok) throw new FedhubError("HUB_UNREACHABLE", `${base}/api/node answered ${res.status}`)
    body = await res.json()
  } catch (e) {
    const err = toFedhubError(e)
    throw err.code === "INTERNAL" ? new FedhubError("HUB_UNREACHABLE", `${base}: ${err.detail}`) : err
  }
  const descriptor = verifyDescriptor(body)
  const nodeId = descriptor.payload.id as NodeId
  if (candidate.nodeId !== undefined && candidate.nodeId !== nodeId)
    throw new FedhubError("KEY_MISMATCH", `announced as ${candidate.nodeId}, but the node at ${base} is ${nodeId}`)
  if (nodeId === identity.nodeId) throw new FedhubError("INVALID_INPUT", "that is this hub itself")
  await performHandshake(identity, base, { expectServerId: nodeId, timeoutMs: opts.timeoutMs })
  return { nodeId, url: base, descriptor, latencyMs: Math.round(performance.now() - t0) }
}
