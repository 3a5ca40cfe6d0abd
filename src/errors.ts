/**
 * One table of stable error codes for every layer. The API maps `status` to a
 * problem+json response; the CLI maps `exit` to its exit code.
 */
export const ERRORS = {
  INVALID_INPUT: { status: 400, exit: 2, title: "Invalid input" },
  SCHEMA_INVALID: { status: 400, exit: 2, title: "Does not match its JSON Schema" },
  BAD_DOC_URL: { status: 400, exit: 2, title: "Not an Automerge document URL or id" },
  BAD_HEADS: { status: 400, exit: 2, title: "Unparseable or unknown heads" },
  BAD_PATH: { status: 400, exit: 2, title: "Invalid document path" },
  FLOAT_IN_PAYLOAD: { status: 400, exit: 2, title: "Signed payloads hold integers only" },
  NOT_CANONICAL: { status: 400, exit: 2, title: "Value cannot be canonicalized" },
  SIGNATURE_INVALID: { status: 401, exit: 3, title: "Signature does not verify" },
  SIGNATURE_MALLEABLE: { status: 401, exit: 3, title: "Non-canonical (malleable) signature" },
  WRONG_PURPOSE: { status: 401, exit: 3, title: "Signature made for another purpose" },
  WRONG_SIGNER: { status: 401, exit: 3, title: "Signed by another node" },
  BAD_NODE_ID: { status: 400, exit: 2, title: "Not a fedhub node id" },
  UNAUTHORIZED: { status: 401, exit: 3, title: "Authentication required or failed" },
  CERT_MISMATCH: { status: 401, exit: 3, title: "The peer's TLS certificate is not the node it must be" },
  PLAINTEXT_REFUSED: { status: 403, exit: 3, title: "This link must be encrypted (TLS)" },
  STALE_TIMESTAMP: { status: 401, exit: 3, title: "Timestamp outside the accepted window" },
  NONCE_REPLAYED: { status: 401, exit: 3, title: "Nonce already used" },
  PEER_ID_MISMATCH: { status: 403, exit: 3, title: "Announced peerId differs from the authenticated id" },
  FORBIDDEN: { status: 403, exit: 3, title: "Not allowed" },
  ADDRESS_NOT_ALLOWED: { status: 403, exit: 3, title: "The address is outside the scopes this hub may dial" },
  HANDSHAKE_BUSY: { status: 503, exit: 6, title: "Too many handshakes in progress; try again later" },
  FRAME_TOO_LARGE: { status: 413, exit: 2, title: "Frame larger than the limit" },
  MALFORMED_FRAME: { status: 400, exit: 2, title: "Frame could not be decoded" },
  TOO_DEEP: { status: 422, exit: 2, title: "Nested deeper than this hub accepts" },
  TOO_MANY_OPS: { status: 413, exit: 2, title: "More operations than this hub accepts in one change or message" },
  RATE_LIMITED: { status: 429, exit: 6, title: "Over this hub's rate or total limit for a peer" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, exit: 2, title: "The request body must be application/json" },
  BODY_TOO_LARGE: { status: 413, exit: 2, title: "Body larger than the limit" },
  MALFORMED_JSON: { status: 400, exit: 2, title: "The request body is not valid JSON" },
  DOC_NOT_FOUND: { status: 404, exit: 4, title: "Document not found" },
  NOT_FOUND: { status: 404, exit: 4, title: "Not found" },
  KEY_MISSING: { status: 500, exit: 5, title: "No identity in this home (run fedhub init)" },
  KEY_EXISTS: { status: 409, exit: 5, title: "An identity already exists in this home" },
  CONFIG_INVALID: { status: 500, exit: 2, title: "Invalid configuration" },
  HOME_LOCKED: { status: 409, exit: 5, title: "The hub for this home is running" },
  HUB_UNREACHABLE: { status: 503, exit: 6, title: "No running hub answered" },
  TIMEOUT: { status: 504, exit: 6, title: "Timed out" },
  INTERNAL: { status: 500, exit: 1, title: "Internal error" },
  ROTATION_UNAVAILABLE: { status: 409, exit: 5, title: "This hub cannot rotate its key now" },
  ENDORSEMENT_EXPIRED: { status: 401, exit: 3, title: "Endorsement expired" },
  ENDORSEMENT_KEY_MISMATCH: { status: 401, exit: 3, title: "Endorsed key is not the one the subject's id commits to" },
  SELF_ENDORSEMENT: { status: 401, exit: 3, title: "A node cannot endorse itself" },
  WRONG_SUBJECT: { status: 401, exit: 3, title: "Endorsement names another subject" },
  UNTRUSTED_ENDORSER: { status: 403, exit: 3, title: "Endorser is not trusted" },
  ENDORSEMENT_CHAIN_TOO_LONG: { status: 403, exit: 3, title: "Endorsement chain longer than allowed" },
  DESCRIPTOR_REPLAYED: { status: 409, exit: 3, title: "An older descriptor than one already seen" },
  BLOCKED: { status: 403, exit: 3, title: "This node is blocked by the hub's administrator" },
  DISCONNECTED: { status: 403, exit: 3, title: "This hub's administrator cut the link with this node (peers connect restores it)" },
  NOT_ALLOWED: { status: 403, exit: 3, title: "This hub federates only with nodes on its allowlist" },
  KEY_MISMATCH: { status: 401, exit: 3, title: "The node that answered is not the one announced" },
  NEGOTIATION_FAILED: { status: 403, exit: 3, title: "The two hubs could not agree on a protocol version, capabilities or policies" },
  POLICY_INVALID: { status: 400, exit: 2, title: "Not a valid access policy record for this document" },
  NOT_AN_ADMIN: { status: 403, exit: 3, title: "Only the document's owner or an admin may change its policy" },
  NOT_A_WRITER: { status: 403, exit: 3, title: "The author of this change is not a writer of the document" },
  NOT_A_READER: { status: 403, exit: 3, title: "This node may not read the document" },
  ACTOR_BINDING_INVALID: { status: 400, exit: 2, title: "Not a valid actor binding" },
  CHANGE_UNATTRIBUTED: { status: 403, exit: 3, title: "The change carries no valid signature of its author" },
  MARKETPLACE_CONFIG_INVALID: { status: 400, exit: 2, title: "Not a valid marketplace configuration" },
  JOIN_REQUEST_INVALID: { status: 400, exit: 2, title: "Not a valid signed join request" },
  VOTE_INVALID: { status: 400, exit: 2, title: "Not a valid signed vote, or not one that counts" },
  ITEM_INVALID: { status: 400, exit: 2, title: "The item fails the marketplace's schema or quality rules" },
  NOT_ORIGIN: { status: 403, exit: 3, title: "Only the item's origin node may publish or withdraw it" },
  VERSION_REPLAYED: { status: 409, exit: 3, title: "An older or equal version than one already held" },
  SHARD_INVALID: { status: 400, exit: 2, title: "Not a valid signed shard manifest" },
  PURCHASE_INVALID: { status: 400, exit: 2, title: "Not a valid signed purchase" },
  INSUFFICIENT_FUNDS: { status: 402, exit: 2, title: "The buyer's balance does not cover the price" },
  EQUIVOCATION: { status: 409, exit: 3, title: "Two different records signed with one sequence number" },
  RATING_INVALID: { status: 400, exit: 2, title: "Not a valid signed rating, or not one that counts" },
  NOT_A_PARTICIPANT: { status: 403, exit: 3, title: "This node is not a participant of the marketplace" },
  NOT_A_MARKETPLACE: { status: 404, exit: 4, title: "The document is not a marketplace" },
  GRANT_INVALID: { status: 400, exit: 2, title: "Not a valid credit grant by the marketplace's owner" },
  DISPUTE_INVALID: { status: 400, exit: 2, title: "Not a valid dispute by the buyer of a purchase the ledger applied" },
  DISPUTE_VOTE_INVALID: { status: 400, exit: 2, title: "Not a valid signed dispute vote, or not one that counts" },
  METADATA_EDIT_INVALID: { status: 400, exit: 2, title: "Not a valid metadata edit by the marketplace's owner or an admin" },
  SESSION_INVALID: { status: 400, exit: 2, title: "Not a valid session (every problem is listed)" },
  NOT_INVITED: { status: 403, exit: 3, title: "Node not invited to this session" },
  NOT_A_SESSION: { status: 404, exit: 4, title: "The document is not a session" },
  SESSION_STATE: { status: 409, exit: 2, title: "The session's state does not allow this" },
  SESSION_CLOSED: { status: 409, exit: 2, title: "The session is completed or failed" },
} as const satisfies Record<string, { status: number; exit: number; title: string }>

export type ErrorCode = keyof typeof ERRORS

/** A typed error with a stable code; `detail` says what exactly was wrong. */
export class FedhubError extends Error {
  readonly code: ErrorCode
  readonly detail: string
  readonly extra: Record<string, unknown> | undefined

  constructor(code: ErrorCode, detail?: string, extra?: Record<string, unknown>) {
    super(`${code}: ${detail ?? ERRORS[code].title}`)
    this.name = "FedhubError"
    this.code = code
    this.detail = detail ?? ERRORS[code].title
    this.extra = extra
  }

  get status(): number {
    return ERRORS[this.code].status
  }

  get exitCode(): number {
    return ERRORS[this.code].exit
  }
}

/** True when `e` is a FedhubError, optionally with the given code. */
export const isFedhubError = (e: unknown, code?: ErrorCode): e is FedhubError =>
  e instanceof FedhubError && (code === undefined || e.code === code)

/** Wraps any thrown value as a FedhubError so faces can report it uniformly. */
export const toFedhubError = (e: unknown): FedhubError =>
  e instanceof FedhubError ? e : new FedhubError("INTERNAL", e instanceof Error ? e.message : String(e))
