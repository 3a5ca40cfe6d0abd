/**
 * Sources whose candidates are a list someone wrote down: `bootstrap_nodes` (the
 * config's peers) and `manual_configuration` (nodes an administrator added).
 */
import type { NodeId } from "../../identity/index.ts"
import { DiscoverySourceBase, type CollectContext, type DiscoveryMethod } from "./types.ts"

export class StaticSource extends DiscoverySourceBase {
  readonly method: DiscoveryMethod
  protected readonly defaultTimeoutMs = 1_000
  readonly #list: () => { url: string; nodeId?: NodeId }[]

  /** `list` is read at each discover(), so later additions are seen. */
  constructor(method: "bootstrap_nodes" | "manual_configuration", list: () => { url: string; nodeId?: NodeId }[]) {
    super()
    this.method = method
    this.#list = list
  }

  protected async collect(ctx: CollectContext): Promise<void> {
    for (const { url, nodeId } of this.#list()) ctx.addCandidate({ url, nodeId, source: this.method === "bootstrap_nodes" ? "config" : "registry" })
  }
}
