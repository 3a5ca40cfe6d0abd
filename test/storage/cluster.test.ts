/**
 * Several hub processes of one identity on one PostgreSQL (issue 17 part 2): real
 * `bin/fedhub start` child processes sharing one database, each with a peer hub linked to
 * it. A change one peer makes reaches the other through PostgreSQL LISTEN/NOTIFY; nonces
 * are refused across processes; a process SIGKILLed mid-sync loses nothing acknowledged.
 */
import "@automerge/automerge-repo"
import WebSocket from "ws"
import { describe, expect, it } from "vitest"
import { Identity, randomNonce } from "../../src/identity/index.ts"
import { PROOF_HEADER, performHandshake, syncEndpoint } from "../../src/replication/handshake.ts"
import type { RunningHub } from "../../src/hub/startHub.ts"
import { waitForDoc } from "../helpers/hubs.ts"
import { clusterForFile, handleArrives, type ClusterProcess } from "../helpers/cluster.ts"

const { cluster, peers, nodeId } = clusterForFile("cluster", 2, { peers: true, stopSignal: "SIGKILL" })

type Items = { items?: Record<string, number> }

/** A document made on process 1 that both peers may write, open on both peers. */
async function sharedDoc(): Promise<{ url: string; documentId: string }> {
  const [a, b] = peers as [RunningHub, RunningHub]
  const doc = await cluster[0]!.api.call<{ url: string; documentId: string }>("POST", "/docs", {
    content: { items: {} },
    share: [a.hub.nodeId, b.hub.nodeId],
    writers: [a.hub.nodeId, b.hub.nodeId],
  })
  // process 1 offers it to peer A; process 2 learns it from the database and offers it to peer B
  await Promise.all([handleArrives(a, doc.documentId), handleArrives(b, doc.documentId)])
  return doc
}

/** The refusal of a WebSocket upgrade: status and problem code. */
function upgradeRefusal(endpoint: string, proof: string): Promise<{ status: number; code?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(endpoint, { headers: { [PROOF_HEADER]: proof } })
    ws.on("error", () => {})
    ws.once("open", () => {
      ws.close()
      reject(new Error("the upgrade was accepted"))
    })
    ws.once("unexpected-response", (_req, res) => {
      let body = ""
      res.on("data", c => (body += c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(body || "{}") as { code?: string }).code }))
    })
  })
}

describe("several hub processes of one identity on one PostgreSQL", () => {
  it("share one identity, and a change a peer of one process makes reaches the peer of the other, both ways", async () => {
    expect(cluster[1]!.proc.nodeId).toBe(nodeId())
    const [a, b] = peers as [RunningHub, RunningHub]
    const doc = await sharedDoc()
    const onA = await a.hub.docs.find(doc.url)
    const onB = await b.hub.docs.find(doc.url)
    await a.hub.docs.put(doc.url, "items.fromA", 1)
    await waitForDoc<Items>(onB as never, d => d.items?.fromA === 1, 30_000)
    await b.hub.docs.put(doc.url, "items.fromB", 2)
    await waitForDoc<Items>(onA as never, d => d.items?.fromB === 2, 30_000)
    // both processes hold the merged document
    for (const p of cluster) {
      const got = await p.api.call<{ content: Items }>("GET", `/docs/${encodeURIComponent(doc.url)}`)
      expect(got.content.items).toEqual({ fromA: 1, fromB: 2 })
    }
  }, 90_000)

  it("a write through one process's API reaches the peer of the other", async () => {
    const [, b] = peers as [RunningHub, RunningHub]
    const doc = await sharedDoc()
    const onB = await b.hub.docs.find(doc.url)
    await cluster[0]!.api.call("PUT", `/docs/${encodeURIComponent(doc.url)}/value`, { path: "items.viaApi", value: 7 })
    await waitForDoc<Items>(onB as never, d => d.items?.viaApi === 7, 30_000)
  }, 60_000)

  it("refuses a client nonce replayed to the other process", async () => {
    const client = Identity.generate()
    const clientNonce = randomNonce()
    const challenge = (p: ClusterProcess) =>
      fetch(`${p.proc.localUrl}/sync/challenge`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ protocol: "fedhub/1", clientId: client.nodeId, clientNonce, endpoint: syncEndpoint(p.proc.localUrl) }),
      })
    expect((await challenge(cluster[0]!)).status).toBe(200)
    const replayed = await challenge(cluster[1]!)
    expect(replayed.status).toBe(401)
    expect(((await replayed.json()) as { code: string }).code).toBe("NONCE_REPLAYED")
  })

  it("accepts a proof on the other process than the one that issued the challenge, once: a replay is refused on either", async () => {
    const client = Identity.generate()
    const hs = await performHandshake(client, cluster[0]!.proc.localUrl, { expectServerId: nodeId() })
    const other = syncEndpoint(cluster[1]!.proc.localUrl)
    // the challenge was issued by process 1; process 2 takes it from the database
    const ws = new WebSocket(other, { headers: { [PROOF_HEADER]: hs.proof } })
    ws.on("error", () => {})
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve())
      ws.once("unexpected-response", (_q, res) => reject(new Error(`refused: ${res.statusCode}`)))
    })
    ws.close()
    for (const endpoint of [hs.endpoint, other]) expect(await upgradeRefusal(endpoint, hs.proof)).toEqual({ status: 401, code: "NONCE_REPLAYED" })
  })

  it("loses nothing acknowledged when a process is SIGKILLed mid-sync, and the other keeps serving", async () => {
    const [, b] = peers as [RunningHub, RunningHub]
    const doc = await sharedDoc()
    const onB = await b.hub.docs.find(doc.url)
    const ref = encodeURIComponent(doc.url)
    const victim = cluster[0]!
    const acked: string[] = []
    let killed = false
    // six writers on process 1, each write fanned out to process 2 and on to peer B; killed after 40 acknowledgements
    const writer = async (w: number) => {
      for (let i = 0; !killed; i++) {
        try {
          await victim.api.call("PUT", `/docs/${ref}/value`, { path: `items.w${w}_${i}`, value: i })
          if (!killed) acked.push(`w${w}_${i}`)
        } catch {
          return // the process died under this request: not acknowledged
        }
        if (acked.length >= 40 && !killed) {
          killed = true
          await victim.proc.stop("SIGKILL")
        }
      }
    }
    await Promise.all(Array.from({ length: 6 }, (_, w) => writer(w)))
    expect(acked.length).toBeGreaterThanOrEqual(40)
    // every acknowledged write reaches peer B through the surviving process
    await waitForDoc<Items>(onB as never, d => acked.every(k => d.items?.[k] !== undefined), 30_000)
    const survivor = cluster[1]!
    const items = (await survivor.api.call<{ content: Items }>("GET", `/docs/${ref}`)).content.items ?? {}
    expect(acked.filter(k => items[k] !== Number(k.split("_")[1]))).toEqual([])
    // and it keeps serving: a new write through it reaches its peer
    await survivor.api.call("PUT", `/docs/${ref}/value`, { path: "items.after", value: 1 })
    await waitForDoc<Items>(onB as never, d => d.items?.after === 1, 30_000)
  }, 120_000)
})
