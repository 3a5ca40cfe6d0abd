/**
 * Creating a document this hub owns (docs/ACCESS.md §1, §2): a self-certifying id, the
 * owner-signed genesis of its policy, and a first change written under this hub's bound
 * actor, so every hub can check it from the first byte.
 */
import * as A from "@automerge/automerge"
import type { DocHandle, DocumentId, Repo } from "@automerge/automerge-repo"
import type { Identity } from "../identity/index.ts"
import { genesisPolicy, newDocumentId, type PolicyLists } from "./access/policy.ts"
import type { Authorship } from "./Authorship.ts"
import type { PolicyStore } from "./PolicyStore.ts"

/** What creating an owned document needs. */
export interface OwnerContext {
  repo: Repo
  identity: Identity
  policies: PolicyStore
  authorship: Authorship
}

/**
 * Creates a document owned by this hub with `initial` as its root (one first change,
 * carrying `message`) under a genesis policy with `lists` (private to this hub when empty).
 * `id` (from `newDocumentId`) names it in advance, so that its first change can already
 * hold what refers to it (or to a document made next to it).
 */
export async function createOwnedDocument<T extends object>(
  ctx: OwnerContext,
  initial: T,
  lists: Partial<PolicyLists>,
  message?: string,
  id: { documentId: string; nonce: string } = newDocumentId(ctx.identity.nodeId),
): Promise<DocHandle<T>> {
  const { documentId, nonce } = id
  const genesis = genesisPolicy(ctx.identity, documentId, { nonce, ...lists })
  await ctx.policies.add(documentId, [genesis])
  const actor = ctx.authorship.actorFor(documentId)
  const options = message === undefined ? {} : { message }
  const empty = A.init<T>({ actor })
  const doc = Object.keys(initial).length === 0 ? A.emptyChange(empty, options) : A.change(empty, options, d => void Object.assign(d, initial))
  const handle = ctx.repo.import<T>(A.save(doc), { docId: documentId as DocumentId })
  // the handle loaded the bytes under a random actor: this hub's next changes go under its own
  handle.update(() => doc)
  ctx.authorship.signLatest(handle)
  return handle
}
