/**
 * The node descriptor: a hub's signed FederationNode (schemas/federation-node.schema.json),
 * served at GET /api/node and, later, entered into the directory document.
 */
import {
  publicKeyFromNodeId,
  signEnvelope,
  toBase64,
  verifyEnvelope,
  type Identity,
  type SignedEnvelope,
} from "../identity/index.ts"
import { FedhubError } from "../errors.ts"
import { validate, type FederationNode } from "../schema/index.ts"

export const DESCRIPTOR_PURPOSE = "fedhub/node-descriptor/v1"
export const PROTOCOL_VERSIONS = ["fedhub/1"]
export const SOFTWARE = { name: "fedhub", version: "0.1.0" }

/** The settings a descriptor is built from (a subset of the hub's resolved config). */
export interface DescriptorSettings {
  name: string
  type: FederationNode["type"]
  federationMode: FederationNode["policies"]["federationMode"]
  dataRetentionDays: number | null
  requireEncryption?: boolean
}

/**
 * The sequence of a node's next descriptor: its issue time, but always above the last
 * one it published (`previous`, e.g. read from its own directory), so a clock that
 * stepped back across a restart still yields a descriptor peers accept as newer
 * (a lower sequence is refused everywhere as a replay, DESCRIPTOR_REPLAYED).
 */
export function nextSequence(previous: number | undefined, now = Date.now()): number {
  return previous === undefined || now > previous ? now : previous + 1
}

/** Builds this node's FederationNode from its identity, settings and endpoints. */
export function buildDescriptor(
  identity: Identity,
  settings: DescriptorSettings,
  live: { endpoints: string[]; startedAt: number; directory?: string; sequence?: number; issuedAt?: number },
): FederationNode {
  const issuedAt = live.issuedAt ?? Date.now()
  return {
    id: identity.nodeId,
    // a restart issues a newer descriptor; issue time in ms orders them
    sequence: live.sequence ?? issuedAt,
    issuedAt,
    name: settings.name,
    type: settings.type,
    software: SOFTWARE,
    identity: { publicKey: toBase64(identity.publicKey), algorithm: "ed25519", certificateChain: [] },
    connectivity: {
      endpoints: live.endpoints.map((url, i) => ({ url, transport: url.startsWith("wss:") ? "wss" : "ws", priority: i })),
      protocolVersions: PROTOCOL_VERSIONS,
      ...(live.directory ? { directory: live.directory } : {}),
    },
    policies: {
      federationMode: settings.federationMode,
      dataRetentionDays: settings.dataRetentionDays,
      acceptsRelay: settings.type === "relay",
      requireEncryption: settings.requireEncryption ?? false,
      minPeerTrust: "unknown",
    },
    services: {
      capabilities: settings.type === "relay" ? ["sync", "directory", "relay"] : ["sync", "directory"],
      maxPeers: 1000,
    },
    health: { status: "healthy", startedAt: live.startedAt },
    metadata: { tags: [] },
  }
}

/** Checks a descriptor against its schema and signs it. */
export function signDescriptor(identity: Identity, node: FederationNode): SignedEnvelope<FederationNode> {
  return signEnvelope(identity, DESCRIPTOR_PURPOSE, validate<FederationNode>("federation-node", node))
}

/**
 * Verifies a signed descriptor: signature and purpose, the signer is the node it
 * describes, its key is the one its id commits to, and the payload fits the schema.
 */
export function verifyDescriptor(envelope: unknown): SignedEnvelope<FederationNode> {
  const payload = (envelope as { payload?: { id?: unknown } } | null)?.payload
  const verified = verifyEnvelope<FederationNode>(envelope, {
    purpose: DESCRIPTOR_PURPOSE,
    signer: typeof payload?.id === "string" ? payload.id : undefined,
  })
  const node = validate<FederationNode>("federation-node", verified.payload)
  if (node.identity.publicKey !== toBase64(publicKeyFromNodeId(verified.signer)))
    throw new FedhubError("WRONG_SIGNER", "the descriptor's public key is not the one its node id commits to")
  return verified
}
