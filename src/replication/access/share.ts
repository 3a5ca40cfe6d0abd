/**
 * Whom a hub shares a document with: a pure function of what it knows, so every hub,
 * relays included, decides alike (DESIGN rule 5). A document with policy records is
 * judged by its effective policy only (readers, writers, admins, the owner, and the
 * relays named in it), failing closed when no record is valid; a document without any
 * (older documents, directories) by its legacy `fedhub:acl` list, else shared.
 */
import { mayRelay, type EffectivePolicy } from "./policy.ts"

export interface ShareInput {
  /** The node asking, or being offered the document. */
  nodeId: string
  /** True when the hub holds policy records for the document. */
  policyKnown: boolean
  policy: EffectivePolicy | undefined
  /** The document's legacy ACL (undefined: none), consulted only without policy records. */
  legacyAcl?: readonly string[] | undefined
}

/** True when the document may be synced with `nodeId`. */
export function mayShareWith(input: ShareInput): boolean {
  if (input.policyKnown) return mayRelay(input.policy, input.nodeId)
  return input.legacyAcl === undefined || input.legacyAcl.includes(input.nodeId)
}

export interface RouteInput {
  /** This hub is a relay (it forwards requests for documents it does not hold). */
  relay: boolean
  /** This hub holds the document (then it is serving it, not routing). */
  held: boolean
  /** The peer declared, in the link's agreement, that it accepts relaying. */
  peerAcceptsRelay: boolean
}

/**
 * Whether a hub may look for a document through a peer: a plain hub asks every peer for
 * what it wants itself (it forwards nothing), a relay routes a document it does not hold
 * only through peers that accept relaying (issue 11: nothing is relayed through a hub
 * that did not accept it).
 */
export const mayRouteThrough = (input: RouteInput): boolean => !input.relay || input.held || input.peerAcceptsRelay
