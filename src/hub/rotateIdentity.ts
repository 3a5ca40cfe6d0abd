/**
 * Live key rotation of a hub (issue 16 part 3, README "Encryption"): a new key, the rotation
 * record both keys sign, ownership handed on by policy versions the old key signs, then the
 * hub reopened under the new key within the same process (the HTTP face keeps its port and
 * swaps to the reopened hub, api/server.ts). Not pure: files, the hub's stores.
 *
 * Order, so a crash at any step leaves a home that starts: (1) the new key is staged as
 * `identity.next-<newId>.json`; (2) the record is published in our directory and every
 * document the old key administers gets a policy version naming the new id an admin;
 * (3) the hub closes (everything flushed); (4) `identity.json` is hard-linked to
 * `identity.old-<oldId>.json` (kept: history stays verifiable, the old key remains the
 * owner of its documents' policies) and the staged key is renamed over it; (5) the hub reopens.
 */
import { randomBytes } from "node:crypto"
import { constants as fsConstants } from "node:fs"
import { link, open, rename } from "node:fs/promises"
import { join } from "node:path"
import { FedhubError } from "../errors.ts"
import { IDENTITY_FILE, Identity, writeIdentityFile, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import { mayAdminister, nextPolicy } from "../replication/access/policy.ts"
import { rotateKey, type KeyRotation } from "../federation/rotation.ts"
import { Hub } from "./Hub.ts"

/** What `fedhub rotate` reports. */
export interface RotationReport {
  oldId: NodeId
  newId: NodeId
  /** The record, signed by the old key and counter-signed by the new one. */
  record: SignedEnvelope<KeyRotation>
  /** Documents whose policy the old key signed a version of, naming the new id an admin. */
  policies: string[]
  /** Where the old key is kept, inside the home. */
  archived: string
}

/** The file the old key is kept in after a rotation. */
export const archivedIdentityFile = (oldId: string): string => `identity.old-${oldId}.json`

/**
 * Rotates a hub's key: signs and publishes the rotation, hands the old key's administration
 * on to the new id, swaps the key files and returns the hub reopened under the new key (the
 * old `hub` is closed). ROTATION_UNAVAILABLE on PostgreSQL storage (its schema is claimed by
 * one node id, and other processes would keep the old key).
 */
export async function rotateHubIdentity(hub: Hub, now = Date.now()): Promise<{ next: Hub; report: RotationReport }> {
  if (hub.config.storage.kind === "postgres")
    throw new FedhubError("ROTATION_UNAVAILABLE", "live key rotation needs nodefs storage: a PostgreSQL schema is claimed by one node id and may be shared by several processes")
  const old = hub.identity
  const home = hub.paths.home
  const seed = new Uint8Array(randomBytes(32))
  try {
    const newId = Identity.fromSeed(seed).nodeId
    const stagedFile = `identity.next-${newId}.json`
    const next = await writeIdentityFile(home, stagedFile, seed, old.name)
    const record = rotateKey(old, next, now)
    hub.federation.publishRotation(record)
    const policies = await handOverPolicies(hub, newId, now)
    await hub.close()
    const archived = archivedIdentityFile(old.nodeId)
    await swapKeyFiles(home, stagedFile, archived)
    const reopened = await Hub.open(hub.paths, hub.config, hub.log)
    if (reopened.nodeId !== newId) {
      await reopened.close()
      throw new FedhubError("INTERNAL", `the reopened hub is ${reopened.nodeId}, not the new key ${newId}`)
    }
    hub.log.info({ oldId: old.nodeId, newId, policies: policies.length }, "rotated this hub's key")
    return { next: reopened, report: { oldId: old.nodeId, newId, record, policies, archived } }
  } finally {
    seed.fill(0)
  }
}

/**
 * Signs, with the old key, a policy version naming `newId` an admin of every held document
 * the old key administers (owner or admin): ownership never changes (docs/ACCESS.md §1), so the
 * old id stays the owner and the new id administers and writes from now on. Returns their ids.
 */
async function handOverPolicies(hub: Hub, newId: NodeId, now: number): Promise<string[]> {
  const old = hub.identity
  const done: string[] = []
  for (const id of hub.index.ids()) {
    const state = hub.policies.state(id)
    const eff = state?.effective
    if (!state || !eff || !mayAdminister(eff, old.nodeId) || mayAdminister(eff, newId)) continue
    await hub.policies.add(id, [nextPolicy(old, state, { add: { admins: [newId] } }, now)])
    done.push(id)
  }
  return done.sort()
}

/** Keeps identity.json as `archived` (a hard link, never clobbering), then renames the staged key over it. */
async function swapKeyFiles(home: string, staged: string, archived: string): Promise<void> {
  try {
    await link(join(home, IDENTITY_FILE), join(home, archived))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
  }
  await rename(join(home, staged), join(home, IDENTITY_FILE))
  try {
    const fh = await open(home, fsConstants.O_RDONLY)
    await fh.sync().finally(() => fh.close())
  } catch {
    // some filesystems refuse fsync on directories; the rename itself is atomic
  }
}

