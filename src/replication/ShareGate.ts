/**
 * What this hub sends to whom: the Repo's `shareConfig` (which documents a peer is
 * offered and may sync) and the rewrite of every outgoing message (ephemeral messages
 * only to readers, signed). It gathers what the hub knows (policy records, the index of
 * held documents, loaded handles, a legacy ACL, blocks, link agreements) and asks the
 * pure decisions of access/share.ts, access/policy.ts and access/ephemeralSignature.ts.
 */
import type { DocHandle, DocumentId, Message, PeerId, Repo } from "@automerge/automerge-repo"
import { isNodeId, type Identity, type NodeId } from "../identity/index.ts"
import { mayRouteThrough, mayShareWith } from "./access/share.ts"
import { mayRead } from "./access/policy.ts"
import { signEphemeral, type SignedEphemeralMessage } from "./access/ephemeralSignature.ts"
import type { ShareConfig } from "./createRepo.ts"
import type { DocIndex } from "./DocIndex.ts"
import { aclOf } from "./DocStore.ts"
import type { PolicyStore } from "./PolicyStore.ts"

export interface ShareGateOptions {
  /** This hub: signs the ephemeral messages it originates. */
  identity: Identity
  policies: PolicyStore
  /** The documents this hub holds, known without loading them. */
  index: DocIndex
  /** This hub is a relay (it forwards requests for documents it does not hold). */
  relay: boolean
  /** Whether an administrator blocked a node: it gets no document. */
  blocked?: (nodeId: NodeId) => boolean
  /** Whether a node declared, in our link's agreement, that it accepts relaying. */
  acceptsRelay?: (nodeId: NodeId) => boolean
  /** How long a held document not in memory may take to load for its legacy ACL (ms; default 10 s). */
  loadTimeoutMs?: number
}

export class ShareGate {
  readonly #opts: ShareGateOptions
  #repo?: Repo

  /** automerge-repo's hooks: hubs are offered what a document's policy admits; local clients ask by id. */
  readonly shareConfig: ShareConfig = {
    announce: async (peerId, documentId) => isNodeId(peerId) && this.mayRelayTo(peerId, documentId) && (await this.mayShare(peerId, documentId)),
    access: async (peerId, documentId) => this.mayShare(peerId, documentId),
  }

  constructor(opts: ShareGateOptions) {
    this.#opts = opts
  }

  /**
   * Gives the gate the Repo it decides for (built with `shareConfig`, so it comes after):
   * its loaded handles are consulted, and a changed policy re-runs its share decisions at once.
   */
  attach(repo: Repo): void {
    this.#repo = repo
    // a narrowed policy stops running syncs at once; a widened one offers the document
    this.#opts.policies.events.on("changed", () => repo.shareConfigChanged())
  }

  /**
   * Rule 5: a node gets a document only if the document's policy (else its legacy ACL)
   * admits it and it is not blocked. Peers that are not nodes are local clients (admin token).
   */
  async mayShare(peerId: PeerId | string, documentId?: string): Promise<boolean> {
    if (!isNodeId(peerId)) return true
    if (this.#opts.blocked?.(peerId)) return false
    if (!documentId) return true
    const { policies, index } = this.#opts
    // a document with policy records is judged by its policy alone, without loading it
    if (policies.has(documentId)) return mayShareWith({ nodeId: peerId, policyKnown: true, policy: policies.effective(documentId) })
    // a document this hub holds is judged by its ACL even when not in memory; one it does
    // not hold is not ours to withhold: a peer offering it to us may sync it
    let handle: DocHandle<unknown> | undefined = this.#repo?.handles[documentId as DocumentId]
    if (!handle?.isReady()) {
      // the index covers storage (write-ahead), so a document not in it is not ours to withhold
      if (!index.has(documentId)) return true
      handle = await this.#repo
        ?.find(documentId as DocumentId, { signal: AbortSignal.timeout(this.#opts.loadTimeoutMs ?? 10_000) })
        .catch(() => undefined)
      if (!handle?.isReady()) return false // held but unreadable: withheld rather than guessed
    }
    return mayShareWith({ nodeId: peerId, policyKnown: false, policy: undefined, legacyAcl: aclOf(handle.doc()) })
  }

  /**
   * Whether a peer is refused a document on what is known without loading it (a block, or
   * the document's policy): the inbound gate answers such a request before any load.
   */
  withholds(peerId: PeerId | string, documentId: string): boolean {
    if (!isNodeId(peerId)) return false
    if (this.#opts.blocked?.(peerId)) return true
    const { policies } = this.#opts
    return policies.has(documentId) && !mayShareWith({ nodeId: peerId, policyKnown: true, policy: policies.effective(documentId) })
  }

  /** Relaying (access/share.ts `mayRouteThrough`): whether this hub may look for a document through a peer. */
  mayRelayTo(peerId: PeerId | string, documentId?: string): boolean {
    const held = !documentId || this.#opts.index.has(documentId) || this.#repo?.handles[documentId as DocumentId]?.isReady() === true
    const peerAcceptsRelay = this.#opts.acceptsRelay?.(peerId as NodeId) === true
    return mayRouteThrough({ relay: this.#opts.relay, held, peerAcceptsRelay })
  }

  /**
   * What goes to another hub (the adapters' `rewrite`): ephemeral messages only to a
   * document's readers, signed by this hub when it is their origin (or the hub of the
   * local client that sent them); one from another node keeps its origin's signature,
   * and is never sent unsigned. Other messages pass unchanged.
   */
  outgoing(m: Message): Message | undefined {
    if (m.type !== "ephemeral") return m
    const e = m as SignedEphemeralMessage
    const { policies, identity } = this.#opts
    if (policies.has(e.documentId) && !mayRead(policies.effective(e.documentId), e.targetId)) return undefined
    if (e.fedhubSig !== undefined) return m
    if (e.senderId !== (identity.nodeId as string) && isNodeId(e.senderId)) return undefined
    return { ...e, fedhubSig: signEphemeral(identity, e) } as Message
  }
}
