/**
 * A peer's key rotation, as the administrator of documents that name it sees it: the new id
 * gets what the old id had (README "Encryption", docs/ACCESS.md "Key rotation").
 */
import type { Identity, NodeId } from "../identity/index.ts"
import { mayAdminister, nextPolicy, type EffectivePolicy, type PolicyLists } from "../replication/access/policy.ts"
import type { DocIndex } from "../replication/DocIndex.ts"
import type { PolicyStore } from "../replication/PolicyStore.ts"

/** What handing grants over needs from a hub. */
export interface PolicyHolder {
  identity: Identity
  index: DocIndex
  policies: PolicyStore
}

/**
 * What a policy grants `oldId` that it does not grant `newId`, list by list (pure): the
 * additions a rotation of `oldId` to `newId` asks of the document's administrators.
 * Empty when the lists already name the new id wherever they name the old one.
 */
export function rotatedGrants(policy: EffectivePolicy, oldId: NodeId, newId: NodeId): Partial<PolicyLists> {
  const add: Partial<PolicyLists> = {}
  for (const key of ["admins", "writers", "readers", "relays"] as const) {
    const list = policy[key] as readonly string[]
    if (list.includes(oldId) && !list.includes(newId)) (add[key] as string[] | undefined) = [newId]
  }
  return add
}

/**
 * A peer rotated from `oldId` to `newId` (a verified record, its new id admitted): every held
 * document this hub administers that names the old id gets a version naming the new id in
 * the same lists, so the rotated hub keeps reading and writing what it could. Returns their ids.
 */
export async function followPeerRotation(hub: PolicyHolder, oldId: NodeId, newId: NodeId, now = Date.now()): Promise<string[]> {
  const done: string[] = []
  for (const id of hub.index.ids()) {
    const state = hub.policies.state(id)
    const eff = state?.effective
    if (!state || !eff || !mayAdminister(eff, hub.identity.nodeId)) continue
    const add = rotatedGrants(eff, oldId, newId)
    if (Object.keys(add).length === 0) continue
    await hub.policies.add(id, [nextPolicy(hub.identity, state, { add }, now)])
    done.push(id)
  }
  return done.sort()
}
