/**
 * A peer's single link across the processes of one identity (issue 17 part 2). Inbound:
 * the 4409 rule (the same node connecting again replaces its older socket) holds across
 * processes — a process announces each node socket it accepts, and a process holding an
 * older socket of that node closes it. Outbound: one process at a time dials a given
 * peer — a dial needs a claim (a lock held until it hangs up or dies); the others stand by.
 */
import type { ClusterBus } from "./ClusterBus.ts"

export interface SingleLinkHooks {
  /** When this process's inbound socket of `nodeId` joined (ms), if it holds one. */
  inboundSince(nodeId: string): number | undefined
  /** Closes this process's inbound socket of `nodeId`: another process holds a newer one. */
  replaceInbound(nodeId: string): void
  onError?: (err: Error) => void
}

/** Whether socket (at, origin) is older than socket (otherAt, otherOrigin): the join time decides, then the origin. */
export const olderSocket = (at: number, origin: string, otherAt: number, otherOrigin: string): boolean =>
  at < otherAt || (at === otherAt && origin < otherOrigin)

export class SingleLink {
  readonly #bus: ClusterBus
  readonly #hooks: SingleLinkHooks

  constructor(bus: ClusterBus, hooks: SingleLinkHooks) {
    this.#bus = bus
    this.#hooks = hooks
    bus.on("link-in", m => {
      const { node, at } = m
      if (typeof node !== "string" || typeof at !== "number") return
      const mine = hooks.inboundSince(node)
      if (mine !== undefined && olderSocket(mine, bus.origin, at, m.o)) hooks.replaceInbound(node)
    })
  }

  /** A socket of `nodeId` joined this process at `at`: the other processes close their older ones. */
  joined(nodeId: string, at: number): void {
    this.#bus.publish("link-in", { node: nodeId, at }).catch(e => this.#hooks.onError?.(e as Error))
  }

  /** Whether this process may dial the peer `key` (a node id, else an endpoint) now: it holds the claim or takes it. */
  mayDial(key: string): Promise<boolean> {
    return this.#bus.tryLock(`dial:${key}`)
  }

  /** This process no longer dials `key`: another process may. */
  release(key: string): void {
    this.#bus.unlock(`dial:${key}`).catch(e => this.#hooks.onError?.(e as Error))
  }
}
