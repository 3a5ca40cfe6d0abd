/**
 * Verifying a discovered node before it enters the registry: first its signed
 * descriptor, then proof that whoever answers at that URL holds the key (it signs
 * our fresh nonce in the handshake).
 */
import type { Identity, NodeId, SignedEnvelope } from "../identity/index.ts"
import type { FederationNode } from "../schema/index.ts"
import { FedhubError } from "../errors.ts"
import { boundedFetch, type PeerFetchOptions } from "../replication/boundedFetch.ts"
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

/** Most bytes of a descriptor read when the caller sets no `maxBytes` (one is a few KB, with its certificate chain). */
export const DEFAULT_DESCRIPTOR_BYTES = 256 * 1024

/**
 * Fetches a hub's signed descriptor (GET /api/node) within `peerFetch` limits (address
 * rule, time, size) and verifies it; the caller checks whose it is.
 * @throws FedhubError HUB_UNREACHABLE, TIMEOUT, BODY_TOO_LARGE, ADDRESS_NOT_ALLOWED, or the descriptor's verification error.
 */
export async function fetchDescriptor(url: string, peerFetch: PeerFetchOptions = {}): Promise<SignedEnvelope<FederationNode>> {
  const base = httpBase(url)
  const res = await boundedFetch(`${base}/api/node`, {}, { timeoutMs: 5_000, maxBytes: DEFAULT_DESCRIPTOR_BYTES, ...peerFetch })
  if (!res.ok) throw new FedhubError("HUB_UNREACHABLE", `${base}/api/node answered ${res.status}`)
  return verifyDescriptor(res.json())
}

/**
 * Fetches and verifies the node at `url`; if the candidate came with a claimed id
 * (DNS, mDNS, a directory), the node that answers must be that id (KEY_MISMATCH).
 * Both requests (descriptor, handshake) are bounded by `opts.peerFetch`; `timeoutMs` overrides its time limit.
 */
export async function verifyCandidate(
  identity: Identity,
  candidate: { url: string; nodeId?: string },
  opts: { timeoutMs?: number; peerFetch?: PeerFetchOptions } = {},
): Promise<VerifiedNode> {
  const base = httpBase(candidate.url)
  const t0 = performance.now()
  const peerFetch: PeerFetchOptions = { ...opts.peerFetch, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) }
  const descriptor = await fetchDescriptor(base, peerFetch)
  const nodeId = descriptor.payload.id as NodeId
  if (candidate.nodeId !== undefined && candidate.nodeId !== nodeId)
    throw new FedhubError("KEY_MISMATCH", `announced as ${candidate.nodeId}, but the node at ${base} is ${nodeId}`)
  if (nodeId === identity.nodeId) throw new FedhubError("INVALID_INPUT", "that is this hub itself")
  await performHandshake(identity, base, { expectServerId: nodeId, peerFetch })
  return { nodeId, url: base, descriptor, latencyMs: Math.round(performance.now() - t0) }
}
