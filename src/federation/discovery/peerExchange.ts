/**
 * `peer_exchange`: nodes listed in the directory documents of connected hubs.
 * Accepted only from hubs at or above a minimum trust level, and only entries
 * whose descriptors verify (each is self-signed by the node it describes).
 */
import type { NodeId } from "../../identity/index.ts"
import type { DirectoryView } from "../directory.ts"
import { DiscoverySourceBase, type CollectContext } from "./types.ts"

export interface ExchangePeer {
  nodeId: NodeId
  /** Whether this peer's trust level is at or above the configured minimum. */
  trusted: boolean
  /** Its directory, as verified by readDirectory (undefined: not synced yet). */
  directory: () => Promise<DirectoryView | undefined>
}

export class PeerExchangeSource extends DiscoverySourceBase {
  readonly method = "peer_exchange" as const
  protected readonly defaultTimeoutMs = 5_000
  readonly #peers: () => ExchangePeer[]

  constructor(peers: () => ExchangePeer[]) {
    super()
    this.#peers = peers
  }

  protected async collect(ctx: CollectContext): Promise<void> {
    await Promise.all(
      this.#peers().map(async peer => {
        if (!peer.trusted) {
          ctx.addProblem({ source: peer.nodeId, code: "UNTRUSTED_ENDORSER", detail: "peer exchange from this hub is below the minimum trust level" })
          return
        }
        const view = await peer.directory()
        if (!view) {
          ctx.addProblem({ source: peer.nodeId, code: "NOT_FOUND", detail: "its directory is not available" })
          return
        }
        for (const r of view.refused) ctx.addProblem({ source: `${peer.nodeId}:${r.key}`, code: r.code, detail: r.detail })
        for (const entry of view.nodes) {
          const endpoint = entry.descriptor.payload.connectivity.endpoints[0]
          if (entry.nodeId === peer.nodeId || !endpoint) continue
          ctx.addCandidate({ url: endpoint.url, nodeId: entry.nodeId, source: peer.nodeId })
        }
      }),
    )
  }
}
