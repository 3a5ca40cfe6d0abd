/** Who an authenticated sync connection belongs to. */
import type { NodeId } from "../identity/index.ts"

/** A hub proven by the handshake, or a local client holding the admin token. */
export type Principal =
  | { kind: "node"; nodeId: NodeId }
  | { kind: "client"; name: string }

/** A short label for logs and errors. */
export const describePrincipal = (p: Principal): string =>
  p.kind === "node" ? `node ${p.nodeId}` : `client ${p.name}`

/** Two principals are the same party (a reconnect may replace the old socket). */
export const samePrincipal = (a: Principal, b: Principal): boolean =>
  a.kind === "node" ? b.kind === "node" && a.nodeId === b.nodeId : b.kind === "client" && a.name === b.name
