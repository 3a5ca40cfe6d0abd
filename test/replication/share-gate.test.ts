/** The share gate: which documents a hub offers and syncs with whom, and what its outgoing ephemeral messages become. */
import { join } from "node:path"
import { rm } from "node:fs/promises"
import type { Message, Repo } from "@automerge/automerge-repo"
import { afterEach, describe, expect, it, vi } from "vitest"
import { Identity, type NodeId } from "../../src/identity/index.ts"
import { genesisPolicy, newDocumentId, nextPolicy } from "../../src/replication/access/policy.ts"
import { verifyEphemeral, type SignedEphemeralMessage } from "../../src/replication/access/ephemeralSignature.ts"
import { createRepo } from "../../src/replication/createRepo.ts"
import { DocIndex } from "../../src/replication/DocIndex.ts"
import { ACL_KEY } from "../../src/replication/DocStore.ts"
import { PolicyStore } from "../../src/replication/PolicyStore.ts"
import { ShareGate, type ShareGateOptions } from "../../src/replication/ShareGate.ts"
import { tempDir } from "../helpers/hubs.ts"

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A gate over a real PolicyStore and DocIndex in a temp dir and an in-memory Repo. */
async function setup(opts: Partial<Pick<ShareGateOptions, "relay" | "blocked" | "acceptsRelay">> = {}) {
  const dir = await tempDir()
  const self = Identity.generate()
  const policies = await PolicyStore.open(join(dir, "policies.json"))
  const index = await DocIndex.open(join(dir, "documents.idx"), async () => [])
  const share = new ShareGate({ identity: self, policies, index, relay: opts.relay ?? false, loadTimeoutMs: 500, ...opts })
  const repo: Repo = createRepo({ peerId: self.nodeId, shareConfig: share.shareConfig })
  share.attach(repo)
  cleanups.push(async () => {
    await repo.shutdown()
    await rm(dir, { recursive: true, force: true })
  })
  return { self, policies, index, share, repo }
}

const ephemeral = (fields: { documentId: string; senderId: string; targetId: string }, extra: Record<string, unknown> = {}): Message =>
  ({ type: "ephemeral", sessionId: "s1", count: 1, data: new Uint8Array([1, 2, 3]), ...fields, ...extra }) as unknown as Message

describe("ShareGate", () => {
  it("shares a document with policy records only with the nodes its policy names, without loading it", async () => {
    const { self, policies, share } = await setup()
    const reader = Identity.generate().nodeId
    const stranger = Identity.generate().nodeId
    const { documentId, nonce } = newDocumentId(self.nodeId)
    await policies.add(documentId, [genesisPolicy(self, documentId, { nonce, readers: [reader] })])

    expect(await share.mayShare(reader, documentId)).toBe(true)
    expect(await share.mayShare(self.nodeId, documentId)).toBe(true)
    expect(await share.mayShare(stranger, documentId)).toBe(false)
    expect(await share.shareConfig.access!(stranger as never, documentId as never)).toBe(false)
  })

  it("stops sharing with a reader the policy removed, and tells the Repo at once", async () => {
    const { self, policies, share, repo } = await setup()
    const reader = Identity.generate().nodeId
    const { documentId, nonce } = newDocumentId(self.nodeId)
    await policies.add(documentId, [genesisPolicy(self, documentId, { nonce, readers: [reader] })])
    const changed = vi.spyOn(repo, "shareConfigChanged")

    await policies.add(documentId, [nextPolicy(self, policies.state(documentId)!, { remove: { readers: [reader] } })])

    expect(changed).toHaveBeenCalled()
    expect(await share.mayShare(reader, documentId)).toBe(false)
  })

  it("shares nothing with a blocked node, and everything with a local client", async () => {
    const blockedId = Identity.generate().nodeId
    const { self, policies, share } = await setup({ blocked: id => id === blockedId })
    const { documentId, nonce } = newDocumentId(self.nodeId)
    await policies.add(documentId, [genesisPolicy(self, documentId, { nonce, readers: ["public"] })])

    expect(await share.mayShare(blockedId, documentId)).toBe(false)
    expect(await share.mayShare(blockedId)).toBe(false)
    expect(await share.mayShare(Identity.generate().nodeId, documentId)).toBe(true)
    expect(await share.mayShare("client-7f3a", documentId)).toBe(true)
    // a local client is never announced to (it asks by id)
    expect(await share.shareConfig.announce("client-7f3a" as never, documentId as never)).toBe(false)
  })

  it("judges a held document without policy records by its legacy ACL", async () => {
    const { share, repo, index } = await setup()
    const listed = Identity.generate().nodeId
    const other = Identity.generate().nodeId
    const handle = repo.create<Record<string, unknown>>({ [ACL_KEY]: [listed] })
    await index.record(handle.documentId)

    expect(await share.mayShare(listed, handle.documentId)).toBe(true)
    expect(await share.mayShare(other, handle.documentId)).toBe(false)
    // no ACL at all: every federated hub
    const open = repo.create<Record<string, unknown>>({ title: "open" })
    expect(await share.mayShare(other, open.documentId)).toBe(true)
  })

  it("withholds a held document it cannot load, and does not withhold one it does not hold", async () => {
    const { self, share, index } = await setup()
    const peer = Identity.generate().nodeId
    const held = newDocumentId(self.nodeId).documentId
    const notHeld = newDocumentId(self.nodeId).documentId
    await index.record(held)

    expect(await share.mayShare(peer, held)).toBe(false)
    expect(await share.mayShare(peer, notHeld)).toBe(true)
  })

  it("lets a relay look for a document it does not hold only through peers that accept relaying", async () => {
    const accepting = Identity.generate().nodeId
    const plainPeer = Identity.generate().nodeId
    const relay = await setup({ relay: true, acceptsRelay: id => id === accepting })
    const missing = newDocumentId(relay.self.nodeId).documentId
    const held = relay.repo.create({ title: "held" }).documentId

    expect(relay.share.mayRelayTo(accepting, missing)).toBe(true)
    expect(relay.share.mayRelayTo(plainPeer, missing)).toBe(false)
    expect(relay.share.mayRelayTo(plainPeer, held)).toBe(true)
    expect(await relay.share.shareConfig.announce(plainPeer as never, missing as never)).toBe(false)
    expect(await relay.share.shareConfig.announce(accepting as never, missing as never)).toBe(true)

    const hub = await setup({ relay: false })
    expect(hub.share.mayRelayTo(plainPeer, missing)).toBe(true)
  })

  it("signs ephemeral messages it originates, sends them only to readers, and never forwards another node's unsigned", async () => {
    const { self, policies, share } = await setup()
    const reader = Identity.generate().nodeId
    const stranger = Identity.generate().nodeId
    const { documentId, nonce } = newDocumentId(self.nodeId)
    await policies.add(documentId, [genesisPolicy(self, documentId, { nonce, readers: [reader] })])

    const own = share.outgoing(ephemeral({ documentId, senderId: self.nodeId, targetId: reader })) as SignedEphemeralMessage
    expect(verifyEphemeral(own, own.fedhubSig, () => false)).toBe(self.nodeId)
    expect(share.outgoing(ephemeral({ documentId, senderId: self.nodeId, targetId: stranger }))).toBeUndefined()

    const otherNode = Identity.generate()
    expect(share.outgoing(ephemeral({ documentId, senderId: otherNode.nodeId as NodeId, targetId: reader }))).toBeUndefined()
    const relayed = ephemeral({ documentId, senderId: otherNode.nodeId, targetId: reader }, { fedhubSig: { signer: otherNode.nodeId } })
    expect(share.outgoing(relayed)).toBe(relayed)

    // a local client's message leaves signed by this hub; sync messages pass unchanged
    const fromClient = share.outgoing(ephemeral({ documentId, senderId: "client-1", targetId: reader })) as SignedEphemeralMessage
    expect(verifyEphemeral(fromClient, fromClient.fedhubSig, signer => signer === self.nodeId)).toBe(self.nodeId)
    const sync = { type: "sync", senderId: self.nodeId, targetId: stranger, documentId, data: new Uint8Array() } as unknown as Message
    expect(share.outgoing(sync)).toBe(sync)
  })
})
