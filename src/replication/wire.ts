/**
 * The frames of the /sync WebSocket: automerge-repo-network-websocket's protocol
 * (CBOR maps, `join` → `peer`), so any automerge-repo client can talk to a hub.
 */
import { cbor, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo/slim"
import { FedhubError } from "../errors.ts"

/** The only wire protocol version of automerge-repo's WebSocket adapters. */
export const PROTOCOL_V1 = "1"

/** Sent once by a client right after the socket opens. */
export interface JoinMessage {
  type: "join"
  senderId: PeerId
  peerMetadata: PeerMetadata
  supportedProtocolVersions: string[]
}

/** The server's answer to a join: its own peer id and the chosen version. */
export interface PeerMessage {
  type: "peer"
  senderId: PeerId
  peerMetadata: PeerMetadata
  selectedProtocolVersion: string
  targetId: PeerId
}

/** Sent before the sender closes the socket, saying why. */
export interface ErrorMessage {
  type: "error"
  senderId: PeerId
  targetId: PeerId
  message: string
}

/** A document's policy records, sent before its sync messages (docs/ACCESS.md §4). */
export interface PolicyFrame {
  type: "fedhub-policy"
  senderId: PeerId
  targetId: PeerId
  documentId: string
  records: unknown[]
}

/** Actor bindings and signed heads of the changes that follow (docs/ACCESS.md §6). */
export interface SignaturesFrame {
  type: "fedhub-signatures"
  senderId: PeerId
  targetId: PeerId
  documentId: string
  bindings: unknown[]
  heads: unknown[]
}

export type WireMessage = JoinMessage | PeerMessage | ErrorMessage | PolicyFrame | SignaturesFrame | Message

/** Encodes one frame. */
export const encodeFrame = (message: WireMessage): Uint8Array => cbor.encode(message)

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)

/**
 * Decodes and shape-checks one frame from an untrusted peer; throws MALFORMED_FRAME
 * rather than handing automerge-repo something it could choke on.
 */
export function decodeFrame(bytes: Uint8Array): WireMessage {
  let decoded: unknown
  try {
    decoded = cbor.decode(bytes)
  } catch (e) {
    throw new FedhubError("MALFORMED_FRAME", `not CBOR: ${(e as Error).message}`)
  }
  if (!isRecord(decoded)) throw new FedhubError("MALFORMED_FRAME", "a frame must be a CBOR map")
  const { type, senderId } = decoded
  if (typeof type !== "string" || type.length === 0 || type.length > 64)
    throw new FedhubError("MALFORMED_FRAME", "missing or invalid `type`")
  if (typeof senderId !== "string" || senderId.length === 0 || senderId.length > 256)
    throw new FedhubError("MALFORMED_FRAME", "missing or invalid `senderId`")
  if (type === "join") {
    const { peerMetadata, supportedProtocolVersions } = decoded
    if (peerMetadata !== undefined && !isRecord(peerMetadata))
      throw new FedhubError("MALFORMED_FRAME", "`peerMetadata` must be a map")
    if (
      supportedProtocolVersions !== undefined &&
      !(Array.isArray(supportedProtocolVersions) && supportedProtocolVersions.every(v => typeof v === "string"))
    )
      throw new FedhubError("MALFORMED_FRAME", "`supportedProtocolVersions` must be a list of strings")
    return decoded as unknown as JoinMessage
  }
  if (typeof decoded.targetId !== "string") throw new FedhubError("MALFORMED_FRAME", "missing `targetId`")
  if (decoded.data !== undefined && !(decoded.data instanceof Uint8Array))
    throw new FedhubError("MALFORMED_FRAME", "`data` must be bytes")
  if (decoded.documentId !== undefined && typeof decoded.documentId !== "string")
    throw new FedhubError("MALFORMED_FRAME", "`documentId` must be a string")
  if (type === "peer" && typeof decoded.selectedProtocolVersion !== "string")
    throw new FedhubError("MALFORMED_FRAME", "`peer` needs `selectedProtocolVersion`")
  if (type === "error" && typeof decoded.message !== "string")
    throw new FedhubError("MALFORMED_FRAME", "`error` needs `message`")
  return decoded as unknown as WireMessage
}

export const isJoin = (m: WireMessage): m is JoinMessage => m.type === "join"
export const isPeer = (m: WireMessage): m is PeerMessage => m.type === "peer"
export const isError = (m: WireMessage): m is ErrorMessage => m.type === "error"

/** Copies a Uint8Array view into its own ArrayBuffer (ws sends the whole buffer otherwise). */
export const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
