/**
 * What a hub on PostgreSQL shares with the other processes of its identity, opened in one
 * place: the bus (LISTEN/NOTIFY, and this process's slot), the record logs of policies and
 * signatures, the handshake state, and (once the Repo exists) the fan-out of stored chunks.
 */
import type { Repo } from "@automerge/automerge-repo"
import type { SharedHandshakeState } from "../handshake.ts"
import type { RecordLog } from "../recordLog.ts"
import { ClusterBus } from "./ClusterBus.ts"
import { ClusterSync } from "./ClusterSync.ts"
import { PostgresHandshakeState } from "./PostgresHandshakeState.ts"
import { PostgresRecordLog } from "./PostgresRecordLog.ts"
import { SingleLink, type SingleLinkHooks } from "./SingleLink.ts"
import type { PostgresStorageAdapter } from "./PostgresStorageAdapter.ts"

export interface Cluster {
  bus: ClusterBus
  /** This process's slot (0 for the first live process), unique among the live processes of the identity. */
  slot: number
  policyLog: RecordLog
  signatureLog: RecordLog
  handshake: SharedHandshakeState
  /** Starts applying other processes' chunks to `repo` (set `loadMissing` false under idle unloading). */
  follow(opts: { repo: Repo; held: (documentId: string) => Promise<void> | void; loadMissing: boolean; onError?: (documentId: string, err: unknown) => void }): ClusterSync
  /** A peer's single link across the processes: inbound sockets replaced across them, one dialer per peer. */
  singleLink(hooks: SingleLinkHooks): SingleLink
  close(): Promise<void>
}

/** Opens the shared parts on the database of `adapter` (the hub's storage). */
export async function openCluster(adapter: PostgresStorageAdapter, url: string, onError?: (err: Error) => void): Promise<Cluster> {
  const bus = await ClusterBus.open({ url, schema: adapter.schema, onError })
  adapter.announce = { channel: bus.channel, origin: bus.origin }
  return {
    bus,
    slot: bus.slot,
    policyLog: new PostgresRecordLog(adapter.pool, adapter.schema, "policies", bus),
    signatureLog: new PostgresRecordLog(adapter.pool, adapter.schema, "signatures", bus),
    handshake: new PostgresHandshakeState(adapter.pool, adapter.schema),
    follow: opts => new ClusterSync({ ...opts, storage: adapter, bus }),
    singleLink: hooks => new SingleLink(bus, hooks),
    close: () => bus.close(),
  }
}
