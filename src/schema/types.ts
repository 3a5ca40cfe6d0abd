/**
 * GENERATED from schemas/*.schema.json by scripts/gen-types.ts. DO NOT EDIT.
 * Change the schemas, then run `npm run gen:types`.
 */
/* eslint-disable */

// actor-binding
/**
 * The payload of an actor binding (envelope purpose fedhub/actor-binding/v1, signed by `nodeId`): the Automerge actor `actorId` writes on behalf of `nodeId` in `documentId`. `actorId` must equal the first 32 hex digits of SHA-256 of canonical {purpose: "fedhub/actor-id/v1", nodeId, documentId, epoch}, so no other node can claim it.
 */
export interface ActorBinding {
  /**
   * The Automerge document the actor writes in.
   */
  documentId: string
  /**
   * The node the actor belongs to; equal to the envelope's signer.
   */
  nodeId: NodeId
  /**
   * Which of the node's actors in this document (0 first; a hub takes the next one when it cannot prove its stored history of the last is complete).
   */
  epoch: number
  /**
   * The Automerge actor id, 16 bytes as 32 lowercase hex digits.
   */
  actorId: string
}

// api-discover
/**
 * POST /api/discover: run every discovery method now.
 */
export interface DiscoverBody {
  /**
   * Time budget of each method.
   */
  timeoutMs?: number
  /**
   * Dial the verified nodes (default true).
   */
  connect?: boolean
}

// api-doc-create
/**
 * POST /api/docs: creates a document.
 */
export interface DocCreateBody {
  /**
   * Initial content of the document (a JSON object).
   */
  content?: {
    [k: string]: unknown
  }
  /**
   * Store string values as collaborative Automerge text instead of atomic strings.
   */
  text?: boolean
  /**
   * Who may read it: node ids, or "public" for every hub. Absent: private to this hub (its owner). The document is created under an owner-signed policy (docs/ACCESS.md).
   *
   * @maxItems 1000
   */
  share?: (NodeId | "public")[]
  /**
   * Nodes that may also write it.
   *
   * @maxItems 1000
   */
  writers?: NodeId[]
  /**
   * Nodes that may hold and forward it without reading it.
   *
   * @maxItems 1000
   */
  relays?: NodeId[]
}

// api-doc-delete
/**
 * DELETE /api/docs/:id (with a body): deletes the value at a path.
 */
export interface DocDeleteBody {
  /**
   * What to delete.
   */
  path: DocPath
  /**
   * Change message.
   */
  message?: CommitMessage
}

// api-doc-put
/**
 * PUT /api/docs/:id: sets the value at a path.
 */
export interface DocPutBody {
  /**
   * Where to write.
   */
  path: DocPath
  /**
   * The value to write: any JSON.
   */
  value: unknown
  /**
   * Store string values as collaborative Automerge text instead of atomic strings.
   */
  text?: boolean
  /**
   * Change message.
   */
  message?: CommitMessage
}

// api-doc-share
/**
 * POST /api/docs/:ref/share and /unshare: changes who may read, write or relay a document (a new policy version signed by this hub, which must be its owner or an admin).
 */
export interface DocShareBody {
  /**
   * Node ids (or "public") to add as readers (share) or remove (unshare).
   *
   * @maxItems 1000
   */
  readers?: (NodeId | "public")[]
  /**
   * Node ids to add as writers (share) or remove (unshare).
   *
   * @maxItems 1000
   */
  writers?: NodeId[]
  /**
   * Node ids to add as relays (share) or remove (unshare).
   *
   * @maxItems 1000
   */
  relays?: NodeId[]
}

// api-endorse
/**
 * POST /api/endorse: sign an endorsement of a node and publish it in this hub's directory.
 */
export interface EndorseBody {
  /**
   * The node endorsed.
   */
  nodeId: NodeId
  /**
   * Validity in days (default: the hub's endorsementTtlDays).
   */
  ttlDays?: number
}

// api-market-approve
/**
 * POST /api/markets/:ref/items/:globalId/approval: a curator (or the creator) approves an item, or holds it back again.
 */
export interface MarketApproveBody {
  /**
   * true shows the item, false holds it back.
   */
  approved: boolean
}

// api-market-buy
/**
 * POST /api/markets/:ref/purchases: this hub buys an item. Credits move ledger balances; stripe, paypal and crypto are recorded with their external reference only. Buying an item again returns the first purchase.
 */
export interface MarketBuyBody {
  /**
   * The item's global id, originNodeId:itemId.
   */
  item: string
  paymentMethod?: PaymentMethod
  /**
   * The payment's reference outside fedhub (stripe, paypal, crypto).
   */
  externalReference?: string
}

// api-market-create
/**
 * POST /api/markets: creates a marketplace owned by this hub (its creator). Every field is optional: the seed's defaults fill the rest (the name defaults to this hub's name + " marketplace"), then the whole config is checked and a bad one is answered with one error listing every problem.
 */
export interface MarketCreateBody {
  /**
   * The marketplace's name.
   */
  name?: string
  /**
   * What it is for.
   */
  description?: string
  /**
   * public: readable by every federated hub; private (default): participants only.
   */
  visibility?: "public" | "private"
  /**
   * Nodes admitted from the start, beside this hub (the creator). Participants read and write the marketplace document and vote on join requests.
   *
   * @maxItems 1000
   */
  participants?: NodeId[]
  /**
   * Any part of the marketplace config (schemas/marketplace.schema.json) laid over the defaults: federation (governance, consensus, disputes), catalog, economics, quality, synchronization. name, creator and visibility above take precedence.
   */
  config?: {
    [k: string]: unknown
  }
}

// api-market-dispute-vote
/**
 * POST /api/markets/:ref/disputes/:disputeId/votes: an arbitrator (or under community, a participant that is neither buyer nor seller) votes.
 */
export interface MarketDisputeVoteBody {
  outcome: DisputeOutcome
  /**
   * Why.
   */
  reason?: string
}

// api-market-dispute
/**
 * POST /api/markets/:ref/disputes: the buyer opens a dispute on one of its credit purchases.
 */
export interface MarketDisputeBody {
  /**
   * The purchase's id (hex SHA-256 of its payload).
   */
  purchaseId: string
  /**
   * What went wrong.
   */
  reason: string
}

// api-market-grant
/**
 * POST /api/markets/:ref/grants: the marketplace's owner grants credits to a node (the only way credits, and so proof_of_stake stakes, come into being).
 */
export interface MarketGrantBody {
  /**
   * The node credited.
   */
  to: NodeId
  /**
   * Credits (minor units).
   */
  amount: number
  /**
   * Why (signed with the grant).
   */
  reason?: string
}

// api-market-join
/**
 * POST /api/markets/:ref/join: this hub signs a join request for the marketplace and puts it in a small document of its own, readable (and writable, for the outcome) by the marketplace's owner only; the owner's hub records it in the marketplace for its participants to vote on.
 */
export interface MarketJoinBody {
  /**
   * The marketplace's owner (its creator's hub, shown by `market show` there): the only hub the request is sent to.
   */
  owner: NodeId
  /**
   * Why this hub wants to join (signed with the request).
   */
  message?: string
}

// api-market-meta
/**
 * PUT /api/markets/:ref/meta/:field: an owner or admin sets a metadata field; with resolve, the value must be one of the field's conflicting values and supersedes them all.
 */
export interface MarketMetaBody {
  /**
   * A string (at most 5,000 characters), a safe integer or a boolean.
   */
  value: string | number | boolean
  /**
   * Resolve the field's conflict to this value.
   */
  resolve?: boolean
}

// api-market-publish
/**
 * POST /api/markets/:ref/items: publish items (or new versions) of this hub. Each item is a MarketItem without marketplaceId and originNodeId (filled in) and with version optional (the next one); every item is checked against the item schema and the marketplace's quality rules, every failure listed, and nothing is written if one fails.
 */
export interface MarketPublishBody {
  /**
   * The items; one change and one re-signed manifest per shard touched.
   *
   * @minItems 1
   * @maxItems 100000
   *
   * Items: A MarketItem without marketplaceId and originNodeId.
   */
  items: {
    [k: string]: unknown
  }[]
}

// api-market-rate
/**
 * POST /api/markets/:ref/ratings: this hub rates an item (one rating per node per item; a new one replaces its earlier one).
 */
export interface MarketRateBody {
  /**
   * The item's global id, originNodeId:itemId.
   */
  item: string
  /**
   * 1 to 5 in steps of 0.5.
   */
  stars: number
  /**
   * Review text.
   */
  comment?: string
}

// api-market-search
/**
 * GET /api/markets/:ref/search (query string; numbers arrive as strings and are coerced first): a search of the marketplace's accepted, not withdrawn items. Every filter is optional and they combine with AND; the answer is { total, offset, limit, items }. A problem in any field answers INVALID_INPUT listing every problem.
 */
export interface MarketSearchQuery {
  /**
   * Words matched in title (boosted), tags and description: all words must match, each by prefix (3+ letters) and with light fuzziness (5+ letters). At most 256 characters and 16 words.
   */
  text?: string
  /**
   * A category id of the marketplace: only items in it.
   */
  category?: string
  /**
   * Only items of this kind.
   */
  type?: "persona" | "plugin" | "service" | "content" | "dataset"
  /**
   * Only items published by this node.
   */
  origin?: NodeId
  /**
   * Only items whose derived overallRating (mean stars of the visible ratings, 0 when unrated) is at least this.
   */
  minRating?: number
  /**
   * Only items whose derived overallRating is at most this.
   */
  maxRating?: number
  /**
   * Only items priced at least this, in integer minor units (compared across currencies unless currency is given).
   */
  minPrice?: number
  /**
   * Only items priced at most this, in integer minor units.
   */
  maxPrice?: number
  /**
   * Only items priced in this currency.
   */
  currency?: MarketCurrency
  /**
   * Only items carrying every one of these tags (case-insensitive).
   *
   * @maxItems 10
   */
  tags?: string[]
  /**
   * relevance (default: text score, then global id; without text, global id), price / -price (ascending / descending), rating / -rating, title (case-insensitive), newest (latest signed version first). Ties are broken by global id, so pages are stable.
   */
  sort?: "relevance" | "price" | "-price" | "rating" | "-rating" | "title" | "newest"
  /**
   * How many results to skip (default 0).
   */
  offset?: number
  /**
   * How many results to return (default 20); more than 100 is capped to 100, 0 answers the total only.
   */
  limit?: number
}

// api-market-update
/**
 * PUT /api/markets/:ref/items/:itemId: a new version of this hub's item with these fields changed (null removes an optional field).
 */
export interface MarketUpdateBody {
  /**
   * Fields of MarketItem to set; itemId, marketplaceId, originNodeId and version are not changed this way.
   */
  changes: {
    [k: string]: unknown
  }
}

// api-market-vote
/**
 * POST /api/markets/:ref/votes: this hub, a participant, signs a vote on a pending join request, named by its requester or its id, and writes it under votes[requestId:voter]. One of requester and requestId is needed.
 */
export interface MarketVoteBody {
  /**
   * The node whose request is voted on.
   */
  requester?: NodeId
  /**
   * The request's id (its envelope id), instead of the requester.
   */
  requestId?: string
  /**
   * true approves, false refuses.
   */
  approve: boolean
  /**
   * Why (signed with the vote).
   */
  reason?: string
}

// api-peer-add
/**
 * POST /api/peers: verify the hub at a URL and keep a link to it (manual configuration).
 */
export interface PeerAddBody {
  /**
   * The hub's URL (http(s)://host:port or ws(s)://host:port/sync).
   */
  url: string
}

// api-session-agreement
/**
 * POST /api/sessions/{ref}/agreements: an agreement text, signed by this hub as its proposer (and its first signer).
 */
export interface SessionAgreementBody {
  /**
   * Its title.
   */
  title: string
  /**
   * The exact text.
   */
  text: string
}

// api-session-create
/**
 * POST /api/sessions: starts a session initiated by this hub. Every participant must be a known node at or above the hub's collaboration.minParticipantTrust; the seed's defaults fill what is not given, and a bad request is answered with one error listing every problem.
 */
export interface SessionCreateBody {
  /**
   * Its name.
   */
  name?: string
  /**
   * What it is about.
   */
  description?: string
  type?: SessionType
  /**
   * @maxItems 1000
   *
   * Items: A participant: a node id, or { nodeId, role, permissions } (role participant and its default permissions when only a node id).
   */
  participants?: (
    | NodeId
    | {
        nodeId: NodeId
        role?: "moderator" | "participant" | "observer"
        /**
         * @maxItems 6
         */
        permissions?: SessionPermission[]
      }
  )[]
  /**
   * Any part of the configuration laid over the defaults (private, content shared, no consensus, recording on, 30 days retention).
   */
  configuration?: {
    [k: string]: unknown
  }
  expectedDuration?: number
  /**
   * @maxItems 32
   */
  tags?: string[]
  /**
   * A category.
   */
  category?: string
}

// api-session-document
/**
 * POST /api/sessions/{ref}/documents: a shared document created and held by this hub, co-edited by the participants (kept on this hub when dataSharing.allowContent is false).
 */
export interface SessionDocumentBody {
  /**
   * Its title.
   */
  title: string
  /**
   * Its first text.
   */
  text?: string
}

// api-session-edit
/**
 * POST /api/sessions/{ref}/documents/{doc}/edit: an edit of a shared document's text, merged character by character: `text` replaces it by a diff, or `splice` inserts and deletes at a position; `set` writes a structured value.
 */
export interface SessionEditBody {
  /**
   * The new text (the change is the character diff).
   */
  text?: string
  splice?: {
    pos: number
    del?: number
    /**
     * Inserted text.
     */
    insert?: string
  }
  set?: {
    /**
     * A key of the document's data map.
     */
    key: string
    /**
     * Any JSON value.
     */
    value: unknown
  }
  /**
   * With `splice`: the heads of the version its position was computed on (a `GET` of the document gives them); the splice is moved over every edit made since, so a concurrent edit from another hub keeps its place.
   *
   * @minItems 1
   * @maxItems 64
   */
  heads?: string[]
}

// api-session-invite
/**
 * POST /api/sessions/{ref}/invites: the initiator invites one more participant (in a restricted session, naming an approved decision).
 */
export interface SessionInviteBody {
  /**
   * A participant: a node id, or { nodeId, role, permissions } (role participant and its default permissions when only a node id).
   */
  participant:
    | NodeId
    | {
        nodeId: NodeId
        role?: "moderator" | "participant" | "observer"
        /**
         * @maxItems 6
         */
        permissions?: SessionPermission[]
      }
  decisionId?: string
}

// api-session-propose
/**
 * POST /api/sessions/{ref}/proposals: a proposed decision, signed by this hub.
 */
export interface SessionProposeBody {
  /**
   * What is proposed.
   */
  title: string
  /**
   * Details.
   */
  description?: string
}

// api-session-rate
/**
 * POST /api/sessions/{ref}/ratings: this hub's signed rating of the session.
 */
export interface SessionRateBody {
  satisfaction: number
  outputQuality: number
  /**
   * A comment.
   */
  comment?: string
}

// api-session-respond
/**
 * POST /api/sessions/{ref}/join and /decline: this hub's signed answer to its invitation.
 */
export interface SessionRespondBody {
  /**
   * Why.
   */
  reason?: string
}

// api-session-send
/**
 * POST /api/sessions/{ref}/messages: a signed message on the session's channel.
 */
export interface SessionSendBody {
  /**
   * The message.
   */
  text: string
  /**
   * The channel (default main).
   */
  channel?: string
}

// api-session-transition
/**
 * POST /api/sessions/{ref}/pause, /resume, /close: a signed state change by the initiator or a moderator (close: complete, or fail with --fail).
 */
export interface SessionTransitionBody {
  /**
   * Why.
   */
  reason?: string
  /**
   * close only: the session failed rather than completed.
   */
  fail?: boolean
}

// api-session-verify
/**
 * POST /api/sessions/{ref}/agreements/{id}/verify: checks every signature of the agreement against a text (default: the text the session holds).
 */
export interface SessionVerifyBody {
  /**
   * The text to check the signatures against.
   */
  text?: string
}

// api-session-vote
/**
 * POST /api/sessions/{ref}/proposals/{id}/votes: this hub's signed vote.
 */
export interface SessionVoteBody {
  approve: boolean
  /**
   * Why.
   */
  reason?: string
}

// api-trust-set
/**
 * PUT /api/trust/:nodeId: the administrator's trust in a node.
 */
export interface TrustSetBody {
  /**
   * trusted or partner; none clears the administrator's level (computed levels follow).
   */
  level: "trusted" | "partner" | "none"
}

// common#NodeId
/**
 * A fedhub node id: "fh1" followed by the unpadded lowercase base32 (RFC 4648) of the node's 32-byte ed25519 public key.
 */
export type NodeId = string

// common#Base64
/**
 * Standard padded base64 (RFC 4648 section 4).
 */
export type Base64 = string

// common#PublicKey
/**
 * A 32-byte ed25519 public key as standard padded base64 (44 characters).
 */
export type PublicKey = string

// common#Signature
/**
 * A 64-byte ed25519 signature as standard padded base64 (88 characters).
 */
export type Signature = string

// common#Nonce
/**
 * 32 random bytes as unpadded base64url (43 characters).
 */
export type Nonce = string

// common#TimestampMs
/**
 * Milliseconds since the Unix epoch: a non-negative safe integer.
 */
export type TimestampMs = number

// common#TrustLevel
/**
 * How far a hub trusts a node, weakest first: unknown < basic < verified < trusted < partner.
 */
export type TrustLevel = "unknown" | "basic" | "verified" | "trusted" | "partner"

// common#Url
/**
 * An absolute ws, wss, http or https URL.
 */
export type Url = string

// common#DocPath
/**
 * A path into an Automerge document: a non-empty string ("/a/b/0", JSON Pointer style) or a non-empty array of keys (strings) and list indexes (non-negative integers).
 *
 * @minItems 1
 * @maxItems 64
 */
export type DocPath = string | (string | number)[]

// common#CommitMessage
/**
 * A short message stored with the change, shown in the document history.
 */
export type CommitMessage = string

// config
/**
 * config.json in a hub home. Every setting is optional; flags and FEDHUB_* variables override it. Unknown keys are errors, so a typo never goes unnoticed.
 */
export interface HubConfig {
  /**
   * Optional editor hint, e.g. the URL of this schema; ignored.
   */
  $schema?: string
  /**
   * Human-readable name of the hub.
   */
  name?: string
  /**
   * Interface to listen on, e.g. "127.0.0.1" or "0.0.0.0".
   */
  host?: string
  /**
   * TCP port to listen on; 0 picks a free port.
   */
  port?: number
  /**
   * Hubs to connect to at start (ws, wss, http or https URLs).
   *
   * @maxItems 1000
   */
  peers?: Url[]
  /**
   * Least severe log level written.
   */
  logLevel?: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent"
  /**
   * The URL other hubs reach this one at, when it differs from host:port (proxy, NAT).
   */
  publicUrl?: Url
  /**
   * Kind of node: hub or relay.
   */
  type?: "hub" | "relay"
  /**
   * Which nodes to federate with.
   */
  federationMode?: FederationMode
  /**
   * How long data from other nodes is kept (null: forever).
   */
  dataRetentionDays?: DataRetentionDays
  /**
   * How this hub finds other hubs (bootstrap nodes are `peers`; manual ones are added with `fedhub peers add`).
   */
  discovery?: {
    /**
     * Domains whose `_fedhub._tcp.<domain>` TXT records list hubs (`v=fedhub1 id=… url=…`).
     *
     * @maxItems 64
     */
    dnsDomains?: string[]
    /**
     * DNS servers to ask (`host:port`); default: the system resolver.
     *
     * @maxItems 16
     */
    dnsServers?: string[]
    /**
     * Announce this hub and look for others with mDNS (`_fedhub._tcp.local`).
     */
    mdns?: boolean
    /**
     * Accept peer exchange only from hubs at or above this trust level.
     */
    peerExchangeMinTrust?: TrustLevel
    /**
     * Run discovery every this many ms (0: only at start and on demand).
     */
    intervalMs?: number
    /**
     * The IPv4 address of the interface mDNS uses (e.g. 127.0.0.1 to stay on loopback); default: the system's.
     */
    mdnsInterface?: string
    /**
     * UDP port for mDNS (default 5353; another one isolates a test federation).
     */
    mdnsPort?: number
  }
  /**
   * How long endorsements made by `fedhub endorse` stay valid.
   */
  endorsementTtlDays?: number
  /**
   * Refuse peers that keep our data longer than this many days (null or absent: no limit).
   */
  maxPeerRetentionDays?: number | null
  /**
   * Refuse peers that do not offer all of these capabilities.
   *
   * @maxItems 32
   */
  requiredCapabilities?: string[]
  /**
   * Refuse every hub link that is not TLS, judged by the socket (plain /sync/challenge and plain hub upgrades are refused, PLAINTEXT_REFUSED).
   */
  requireEncryption?: boolean
  /**
   * TLS on the hub's port (README "Encryption"). On by default with the node certificate (its key is the node key); plain HTTP stays open on the same port for loopback clients.
   */
  tls?: {
    /**
     * Serve TLS and dial wss:// (default true). false: plain HTTP only (tests, a TLS terminator in front).
     */
    enabled?: boolean
    /**
     * A CA-issued certificate chain (PEM file) for a public name, presented instead of the node certificate.
     */
    cert?: string
    /**
     * The private key (PEM file) of `cert`.
     */
    key?: string
    /**
     * Who may talk plain HTTP/WebSocket on the port: loopback clients only (default), anyone, or no one.
     */
    plain?: "loopback" | "any" | "none"
    /**
     * Extra CA certificates (a PEM file) trusted, beside the system's, when this hub dials a hub that presents a CA-issued certificate.
     */
    ca?: string
  }
  /**
   * Ping each outgoing link this often; missed pongs mark it degraded (1) then offline (3).
   */
  heartbeatMs?: number
  /**
   * Where documents are stored: `nodefs` files in the home's data/ (the default), or a PostgreSQL database (`url`; FEDHUB_DATABASE_URL sets it too). README "Storage on PostgreSQL".
   */
  storage?: {
    kind: "nodefs" | "postgres"
    /**
     * libpq connection URL (required when kind is postgres), e.g. postgresql://fedhub:secret@db:5432/fedhub or postgresql://user@/db?host=/run/postgresql (Unix socket).
     */
    url?: string
    /**
     * PostgreSQL schema holding this hub's tables (default fedhub); one per hub identity when hubs share a database.
     */
    schema?: string
    /**
     * Connections each hub process keeps to PostgreSQL (default 10).
     */
    poolSize?: number
    /**
     * Unload a document from memory after this long without use (a peer's or client's request loads it again); 0 keeps every document loaded (the default). Set, the hub also loads none at start.
     */
    idleUnloadMs?: number
  }
  /**
   * What this hub accepts from peers, API clients and strangers. Input over a limit is refused with a typed error before it reaches Automerge, counted and logged once (README "Limits").
   */
  limits?: {
    /**
     * Largest WebSocket frame accepted on /sync, in bytes (default 16 MiB); a bigger one closes the socket (1009).
     */
    frameBytes?: number
    /**
     * Deepest nesting of maps, lists and text a document may reach through a change from a peer or a REST write (default 64).
     */
    changeDepth?: number
    /**
     * Most operations in one change from a peer (default 200,000).
     */
    changeOps?: number
    /**
     * Most operations in one sync message from a peer (default 1,000,000).
     */
    messageOps?: number
    /**
     * Largest REST request body, in bytes (default 1 MiB).
     */
    bodyBytes?: number
    /**
     * Deepest JSON nesting of a REST request body (default 72: a document of changeDepth plus its envelope).
     */
    bodyDepth?: number
    /**
     * Documents this hub does not hold that one peer may create or request here per minute (default 600).
     */
    newDocsPerMinute?: number
    /**
     * Documents this hub does not hold that one peer may create or request here while the hub runs (default 10,000).
     */
    newDocsTotal?: number
    /**
     * Peers kept in the registry that no administrator touched (not manual, trusted, partner or blocked); beyond it the oldest are forgotten (default 1,000).
     */
    untouchedPeers?: number
    /**
     * Handshake nonces remembered for replay protection; when full, new challenges are refused until old ones expire (default 100,000).
     */
    usedNonces?: number
    /**
     * Largest response body read from a peer (descriptors, challenge answers), in bytes (default 256 KiB).
     */
    peerResponseBytes?: number
    /**
     * Timeout of each request to a peer-supplied URL, in ms (default 5,000).
     */
    peerTimeoutMs?: number
    /**
     * Which addresses peer-supplied URLs (directories, peer exchange, discovery) may point to. Default: public, plus the scope of this hub's own listen host (a hub on loopback may dial loopback and private ones, a hub on a private address may dial private ones).
     *
     * @maxItems 3
     */
    dialScopes?: ("loopback" | "private" | "public")[]
  }
  /**
   * Cross-instance sessions (src/collaboration/).
   */
  collaboration?: {
    /**
     * A session's participants must be known nodes at or above this trust level (default basic: proved its key by connecting).
     */
    minParticipantTrust?: TrustLevel
    /**
     * The window of signed channel batches each hub keeps (sent and received) to answer a peer's repair request for a live session's lost messages; a hub away longer than this misses what is not recorded (recordingEnabled). Defaults: 20,000 batches, 33,554,432 characters, 60,000 ms.
     */
    liveWindow?: {
      batches?: number
      bytes?: number
      ms?: number
    }
  }
}

// endorsement-revocation
/**
 * The payload of an endorsement revocation envelope (purpose fedhub/endorsement-revocation/v1): the signer withdraws its endorsement `endorsementId` of `subject` at `revokedAt`. Only the endorsement's issuer (the envelope's signer) can revoke it; the record also covers every endorsement of the same subject by the same issuer issued before `revokedAt`.
 */
export interface EndorsementRevocation {
  /**
   * The node whose endorsement is withdrawn.
   */
  subject: NodeId
  /**
   * envelopeId of the revoked endorsement: hex SHA-256 of its canonical signed body.
   */
  endorsementId: string
  /**
   * When the issuer revoked it; endorsements of the pair issued earlier are revoked too.
   */
  revokedAt: TimestampMs
}

// endorsement
/**
 * The payload of an endorsement envelope: the signer vouches that `subject` holds `subjectPublicKey`, at `level`, between `issuedAt` and `expiresAt`. The issuer is the envelope's signer.
 */
export interface Endorsement {
  /**
   * The endorsed node.
   */
  subject: NodeId
  /**
   * The endorsed node's public key (base64); must be the one its id commits to.
   */
  subjectPublicKey: PublicKey
  /**
   * The trust the issuer grants (usually "verified").
   */
  level: TrustLevel
  /**
   * Start of validity.
   */
  issuedAt: TimestampMs
  /**
   * End of validity.
   */
  expiresAt: TimestampMs
}

// federation-node
/**
 * A hub's self-description: the payload of its signed node descriptor (purpose "fedhub/node-descriptor/v1", signed by `id`). Signed payloads hold integers only.
 */
export interface FederationNode {
  /**
   * The node this descriptor describes; it must also be the envelope's signer.
   */
  id: NodeId
  /**
   * Version of this descriptor: a newer descriptor of the same node has a higher sequence, and replaces older ones.
   */
  sequence: number
  /**
   * When this descriptor was issued.
   */
  issuedAt: TimestampMs
  /**
   * Human-readable name of the hub.
   */
  name: string
  /**
   * What kind of node this is.
   */
  type: NodeType
  /**
   * The software the node runs.
   */
  software: NodeSoftware
  /**
   * The node's key and endorsements.
   */
  identity: NodeIdentity
  /**
   * How to reach the node.
   */
  connectivity: NodeConnectivity
  /**
   * What the node accepts from peers.
   */
  policies: NodePolicies
  /**
   * What the node offers.
   */
  services: NodeServices
  /**
   * Self-reported health when the descriptor was issued.
   */
  health: NodeHealth
  /**
   * Free descriptive information.
   */
  metadata: NodeMetadata
}

// federation-node#NodeType
/**
 * hub: a full node; relay: forwards for nodes that cannot be reached directly; gateway: bridges to another network.
 */
export type NodeType = "hub" | "relay" | "gateway"

// federation-node#NodeSoftware
export interface NodeSoftware {
  /**
   * Software name, e.g. "fedhub".
   */
  name: string
  /**
   * Software version, e.g. "0.1.0".
   */
  version: string
}

// federation-node#NodeIdentity
export interface NodeIdentity {
  /**
   * Base64 of the node's 32-byte ed25519 public key; the node id commits to it.
   */
  publicKey: PublicKey
  /**
   * Signature algorithm of `publicKey`.
   */
  algorithm: "ed25519"
  /**
   * Endorsements of this node by other nodes: signed envelopes whose payloads are Endorsements.
   *
   * @maxItems 16
   */
  certificateChain?: SignedEnvelope[]
}

// federation-node#NodeEndpoint
export interface NodeEndpoint {
  /**
   * Where peers connect (the sync endpoint).
   */
  url: Url
  /**
   * ws (frames sealed between hubs) or wss (TLS).
   */
  transport: "ws" | "wss"
  /**
   * Lower is tried first.
   */
  priority: number
}

// federation-node#NodeConnectivity
export interface NodeConnectivity {
  /**
   * Endpoints peers may dial; empty when the node is only reachable through relays.
   *
   * @maxItems 32
   */
  endpoints: NodeEndpoint[]
  /**
   * Protocol versions spoken, e.g. "fedhub/1".
   *
   * @minItems 1
   * @maxItems 16
   */
  protocolVersions: string[]
  /**
   * Relays through which the node can be reached.
   *
   * @maxItems 16
   */
  relayVia?: NodeId[]
  /**
   * automerge: URL of this node's directory document (node id → signed descriptor); syncing it is peer exchange.
   */
  directory?: string
}

// federation-node#FederationMode
/**
 * open: federate with any node; allowlist: only listed nodes; blocklist: any node but listed ones.
 */
export type FederationMode = "open" | "allowlist" | "blocklist"

// federation-node#DataRetentionDays
/**
 * Days replicated data from other nodes is kept; null keeps it forever.
 */
export type DataRetentionDays = number | null

// federation-node#NodePolicies
export interface NodePolicies {
  /**
   * Which nodes this node federates with.
   */
  federationMode: FederationMode
  /**
   * How long data from other nodes is kept (null: forever).
   */
  dataRetentionDays: DataRetentionDays
  /**
   * Whether the node relays traffic for others.
   */
  acceptsRelay: boolean
  /**
   * Whether the node refuses unencrypted connections.
   */
  requireEncryption: boolean
  /**
   * The lowest trust level a peer needs to connect.
   */
  minPeerTrust: TrustLevel
}

// federation-node#Capability
/**
 * A service a node offers.
 */
export type Capability = "sync" | "directory" | "relay" | "marketplace" | "collaboration" | "discovery"

// federation-node#NodeServices
export interface NodeServices {
  /**
   * Services offered; peers use the intersection of both sides'.
   */
  capabilities: Capability[]
  /**
   * Most peers the node holds at once.
   */
  maxPeers: number
}

// federation-node#NodeHealth
export interface NodeHealth {
  /**
   * Self-reported status.
   */
  status: "healthy" | "degraded" | "offline"
  /**
   * When the running process started.
   */
  startedAt: TimestampMs
}

// federation-node#NodeMetadata
export interface NodeMetadata {
  /**
   * What this hub is for.
   */
  description?: string
  /**
   * Where it runs, e.g. "eu-west".
   */
  region?: string
  /**
   * Who runs it.
   */
  operator?: string
  /**
   * Free tags for search.
   *
   * @maxItems 32
   */
  tags: string[]
  /**
   * The operator's web site.
   */
  website?: string
}

// handshake#ChallengeRequest
/**
 * Client to server: asks for a server nonce before the WebSocket upgrade.
 */
export interface ChallengeRequest {
  /**
   * Handshake protocol version.
   */
  protocol: "fedhub/1"
  /**
   * The connecting node.
   */
  clientId: NodeId
  /**
   * The client's fresh nonce.
   */
  clientNonce: Nonce
  /**
   * The sync endpoint the client dialed (normalized ws(s)://host:port/sync); both sides sign it.
   */
  endpoint: string
  /**
   * What the client speaks, offers, keeps and requires; the server negotiates an Agreement from it and its own offer. A client that sends none is treated as offering fedhub/1, the sync capability, no encryption and keeping data forever.
   */
  offer?: Offer
}

// handshake#ChallengeResponse
/**
 * Server to client: its nonce and its signed proof over the transcript.
 */
export interface ChallengeResponse {
  /**
   * Handshake protocol version.
   */
  protocol: "fedhub/1"
  /**
   * The server node.
   */
  serverId: NodeId
  /**
   * The server's fresh nonce.
   */
  serverNonce: Nonce
  /**
   * The client must present its proof before this time.
   */
  expiresAt: TimestampMs
  /**
   * The server's signed HandshakeProof.
   */
  proof: SignedEnvelope
  /**
   * A readable copy of the agreement the server signed inside `proof` (payload.agreement); a client must act on the signed one and refuse a response where the two differ.
   */
  agreement?: Agreement
}

// handshake#HandshakeProof
/**
 * What each side signs (under its own purpose): both node ids, both nonces and the endpoint, so a proof is good once, on one connection, between these two nodes.
 */
export interface HandshakeProof {
  /**
   * The connecting node.
   */
  clientId: NodeId
  /**
   * The accepting node.
   */
  serverId: NodeId
  /**
   * The client's nonce.
   */
  clientNonce: Nonce
  /**
   * The server's nonce.
   */
  serverNonce: Nonce
  /**
   * The normalized sync endpoint.
   */
  endpoint: string
  /**
   * The automerge peerId the client will announce; it must equal its authenticated id.
   */
  peerId?: string
  /**
   * What the server negotiated for this connection (when it negotiates); inside both signed proofs, so no one in the middle can alter it and the client's proof accepts it.
   */
  agreement?: Agreement
  /**
   * On a TLS link: the TLS channel both proofs are bound to, as the base64url SHA-256 of each end's certificate (DER). A proof made on one TLS connection is refused on a connection with other certificates, so it cannot be relayed.
   */
  channel?: {
    server: string
    client: string
  }
}

// handshake#ProtocolVersion
/**
 * A protocol name and major version, e.g. "fedhub/1"; of two versions of one name the higher number is newer.
 */
export type ProtocolVersion = string

// handshake#CapabilityName
/**
 * A service a node offers on a link ("sync", "directory", "relay", ...). Open-ended so that a newer peer's capabilities are simply left out of the intersection.
 */
export type CapabilityName = string

// handshake#LinkPolicies
/**
 * The policies one side of a link applies, as it declares them during negotiation.
 */
export interface LinkPolicies {
  /**
   * How long this side keeps data replicated from peers (null: forever).
   */
  dataRetentionDays: DataRetentionDays
  /**
   * This side refuses links that are not encrypted (wss://).
   */
  requireEncryption: boolean
  /**
   * This side relays traffic for others.
   */
  acceptsRelay: boolean
}

// handshake#OfferRequirements
/**
 * What one side demands of its peer; negotiation fails, naming the reason, when the peer does not meet it.
 */
export interface OfferRequirements {
  /**
   * The peer must not keep our data longer than this many days (a peer that keeps data forever fails any number); null or absent: no limit.
   */
  maxPeerRetentionDays?: DataRetentionDays
  /**
   * Capabilities both sides must offer, or there is no link.
   *
   * @maxItems 64
   */
  requiredCapabilities?: CapabilityName[]
}

// handshake#Offer
/**
 * One side's half of the negotiation: the protocol versions it speaks, the capabilities it offers, its policies and its requirements of the peer.
 */
export interface Offer {
  /**
   * Protocol versions spoken; the highest one both sides speak is used.
   *
   * @minItems 1
   * @maxItems 16
   */
  protocolVersions: ProtocolVersion[]
  /**
   * Capabilities offered; the link uses the intersection of both sides'.
   *
   * @maxItems 64
   */
  capabilities: CapabilityName[]
  /**
   * The policies this side applies.
   */
  policies: LinkPolicies
  /**
   * What this side demands of the peer.
   */
  requirements?: OfferRequirements
}

// handshake#Agreement
/**
 * The outcome of a successful negotiation, computed by the server and signed by both sides in the handshake transcript.
 */
export interface Agreement {
  /**
   * The highest protocol version both sides speak.
   */
  protocolVersion: ProtocolVersion
  /**
   * The capabilities both sides offer, sorted.
   *
   * @maxItems 64
   */
  capabilities: CapabilityName[]
  /**
   * Each side's policies, which both accepted.
   */
  policies: {
    /**
     * The dialing side's policies.
     */
    client: LinkPolicies
    /**
     * The accepting side's policies.
     */
    server: LinkPolicies
  }
}

// key-rotation
/**
 * The payload of a key rotation record (envelope purpose fedhub/key-rotation/v2, signed by the old key, envelope time = rotatedAt). `newKeySig` is the new key's counter-signature: the signature of the envelope { v: 1, purpose: "fedhub/key-rotation-consent/v1", signer: newId, time: rotatedAt, payload: { oldId, newId, newPublicKey, rotatedAt } }, so a rotation needs the consent of both keys.
 */
export interface KeyRotation {
  /**
   * The node id being retired; the record's signer and the directory key it is stored under.
   */
  oldId: NodeId
  /**
   * The node id taking over.
   */
  newId: NodeId
  /**
   * The new node's public key (base64); must be the one newId commits to.
   */
  newPublicKey: PublicKey
  /**
   * When the rotation was signed; equal to the envelope time of both signatures.
   */
  rotatedAt: TimestampMs
  /**
   * The new key's counter-signature over the consent envelope described above.
   */
  newKeySig: Signature
}

// market-trade#CreditGrant
/**
 * Payload of a credit grant (purpose fedhub/market-credit-grant/v1), signed by the marketplace's owner: mints `amount` credits to `to`. Its id is the hex SHA-256 of this payload, so a repeated grant counts once; two different grants with one grantId are an equivocation.
 */
export interface CreditGrant {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * The node credited.
   */
  to: NodeId
  /**
   * Credits granted, in minor units: a positive safe integer.
   */
  amount: number
  /**
   * The owner's name for this grant, unique per marketplace: letters, digits, '.', '_', ':' or '-'.
   */
  grantId: string
  /**
   * Why.
   */
  reason?: string
}

// market-trade#DisputeOutcome
/**
 * How a dispute ends: refund_buyer reverses the purchase's split, pay_seller leaves it standing.
 */
export type DisputeOutcome = "refund_buyer" | "pay_seller"

// market-trade#Dispute
/**
 * Payload of a dispute on a purchase (purpose fedhub/market-dispute/v1), signed by the purchase's buyer. Its id is the hex SHA-256 of this payload (a retried dispute re-signed later is the same dispute); `time` opens it, timeoutDays counts from it.
 */
export interface Dispute {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * The id of the disputed purchase (hex SHA-256 of its payload).
   */
  purchaseId: string
  /**
   * What went wrong.
   */
  reason: string
  /**
   * When the dispute was opened (ms since the epoch).
   */
  time: TimestampMs
}

// market-trade#DisputeVote
/**
 * Payload of a vote on a dispute (purpose fedhub/market-dispute-vote/v1), signed by an arbitrator (arbitration) or a participant (community); the latest by signed time of each voter counts.
 */
export interface DisputeVote {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * The id of the dispute voted on (hex SHA-256 of its payload).
   */
  disputeId: string
  outcome: DisputeOutcome
  /**
   * Why.
   */
  reason?: string
}

// market-trade#MetadataEdit
/**
 * Payload of an edit of one marketplace metadata field (purpose fedhub/market-metadata-edit/v1), signed by the marketplace's owner or an admin and stored under meta[field], so concurrent edits of one field by two admins are both kept as an Automerge conflict until one resolves it.
 */
export interface MetadataEdit {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * The metadata field: a lowercase letter, then letters, digits, '_', '.' or '-'.
   */
  field: string
  /**
   * The new value: a string, a safe integer or a boolean.
   */
  value: string | number | boolean
  /**
   * When the edit was made; the latest verified edit of a field is its effective value.
   */
  time: TimestampMs
}

// marketplace
/**
 * The configuration of a federated marketplace (every field of the seed's FederatedMarketplace, numbers as integers), held in the marketplace document; createMarketplaceConfig fills the seed's defaults. $defs hold the signed payloads of the marketplace: join requests, votes, items, shard manifests, purchases, ratings.
 */
export interface MarketplaceConfig {
  /**
   * Display name.
   */
  name: string
  /**
   * What the marketplace offers.
   */
  description: string
  /**
   * The node that created the marketplace; it decides joins under centralized consensus and holds no other privilege by itself.
   */
  creator: NodeId
  /**
   * public: readable by every federated hub; private: participants only.
   */
  visibility: "public" | "private"
  /**
   * Governance.
   */
  federation: {
    governanceModel: GovernanceModel
    consensusMechanism: ConsensusMechanism
    disputeResolution: DisputeResolution
  }
  /**
   * The shared catalog's rules.
   */
  catalog: {
    /**
     * Categories.
     *
     * @maxItems 1000
     */
    categories: MarketCategory[]
    /**
     * Search features offered.
     *
     * @maxItems 5
     */
    searchCapabilities: SearchCapability[]
    curationPolicy: CurationPolicy
  }
  /**
   * Money.
   */
  economics: {
    feeStructure: FeeStructure
    revenueSharing: RevenueSharing
    /**
     * Accepted currencies.
     *
     * @minItems 1
     * @maxItems 50
     */
    currencySupport: MarketCurrency[]
    /**
     * Accepted payment methods.
     *
     * @minItems 1
     * @maxItems 4
     */
    paymentMethods: PaymentMethod[]
    /**
     * Nodes may buy from items of other nodes.
     */
    crossNodePayments: boolean
  }
  /**
   * Quality and trust.
   */
  quality: {
    ratingSystem: RatingSystem
    verificationProcess: VerificationProcess
    qualityStandards: QualityStandards
    trustMetrics: TrustMetrics
  }
  synchronization: SyncSettings
  metadata: MarketMetadata
}

// marketplace#GovernanceModel
/**
 * Who governs the marketplace (the seed's governanceModel).
 */
export type GovernanceModel = "centralized" | "distributed" | "consortium"

// marketplace#ConsensusType
/**
 * How join requests are decided: centralized (the creator decides), distributed (a simple majority of participants), consortium (two thirds of participants), proof_of_stake (stake-weighted majority among participants holding minimumStake).
 */
export type ConsensusType = "centralized" | "distributed" | "consortium" | "proof_of_stake"

// marketplace#ConsensusMechanism
/**
 * The seed's consensusMechanism: its type and parameters.
 */
export interface ConsensusMechanism {
  type: ConsensusType
  /**
   * Parameters of the mechanism.
   */
  parameters: {
    /**
     * proof_of_stake: the least stake (credits, minor units) a participant holds to have voting power. A stake is the participant's credit balance in this marketplace's ledger.
     */
    minimumStake: number
    /**
     * How votes weigh: one per participant, or by stake (proof_of_stake).
     */
    votingPower: "one_node_one_vote" | "stake_weighted"
    /**
     * A join vote closes this many hours after the request's signed time.
     */
    voteDeadlineHours: number
  }
}

// marketplace#DisputeResolution
/**
 * The seed's disputeResolution.
 */
export interface DisputeResolution {
  /**
   * arbitration: the arbitrators vote; community: the participants vote.
   */
  mechanism: "arbitration" | "community"
  /**
   * Nodes that vote on disputes (arbitration).
   *
   * @maxItems 100
   */
  arbitrators: NodeId[]
  /**
   * A dispute without a decision after this many days resolves by defaultOutcome.
   */
  timeoutDays: number
  /**
   * What a timed-out dispute resolves to.
   */
  defaultOutcome: "refund_buyer" | "pay_seller"
}

// marketplace#MarketCategory
/**
 * A catalog category.
 */
export interface MarketCategory {
  /**
   * Stable category id.
   */
  id: string
  /**
   * Display name.
   */
  name: string
  /**
   * What belongs here.
   */
  description?: string
  /**
   * The parent category's id, if any.
   */
  parentId?: string
}

// marketplace#SearchCapability
/**
 * A search feature the marketplace offers.
 */
export type SearchCapability = "text_search" | "category_filter" | "rating_filter" | "price_filter" | "node_filter"

// marketplace#CurationPolicy
/**
 * The seed's curationPolicy.
 */
export interface CurationPolicy {
  /**
   * New items are held back until a curator approves them.
   */
  requiresApproval: boolean
  /**
   * Items rated below this are flagged; in half stars (6 = 3.0 stars, the seed's default).
   */
  qualityThresholdHalfStars: number
  /**
   * Who moderates: nobody, the community, curators only, or curators with strict checks.
   */
  moderationLevel: "none" | "community" | "curators" | "strict"
  /**
   * Nodes that approve items and moderate ratings (the creator always may).
   *
   * @maxItems 100
   */
  curators: NodeId[]
}

// marketplace#FeeStructure
/**
 * The seed's feeStructure. The transaction fee goes to the marketplace account, the cross-node fee (when buyer and seller are different nodes) to the network account; both are taken off the price before revenue sharing.
 */
export interface FeeStructure {
  /**
   * Charged once per published item, in minor units.
   */
  listingFee: number
  /**
   * Of the price, to the marketplace. Whole percent, 0-100.
   */
  transactionFeePercentage: number
  /**
   * Of the price, to the network, when buyer and seller differ. Whole percent, 0-100.
   */
  crossNodeFeePercentage: number
}

// marketplace#RevenueSharing
/**
 * The seed's revenueSharing of what remains after fees; the three shares sum to 100.
 */
export interface RevenueSharing {
  /**
   * To the item's origin node. Whole percent, 0-100.
   */
  creator: number
  /**
   * To the marketplace account. Whole percent, 0-100.
   */
  marketplace: number
  /**
   * To the network account. Whole percent, 0-100.
   */
  network: number
}

// marketplace#MarketCurrency
/**
 * "credits" (the federation's internal unit, counted by the ledger) or an ISO 4217 code (recorded, never converted).
 */
export type MarketCurrency = string

// marketplace#PaymentMethod
/**
 * credits move ledger balances; stripe, paypal and crypto are recorded as external payment references only.
 */
export type PaymentMethod = "credits" | "stripe" | "paypal" | "crypto"

// marketplace#RatingSystem
/**
 * The seed's ratingSystem.
 */
export interface RatingSystem {
  /**
   * Ratings go from 1 to 5 stars.
   */
  scale: "1-5"
  /**
   * Half stars (1.5, 2.5, ...) are accepted.
   */
  allowHalfRatings: boolean
  /**
   * Only a node that bought the item may rate it.
   */
  requirePurchase: boolean
  /**
   * Curators may hide ratings.
   */
  moderationEnabled: boolean
}

// marketplace#VerificationProcess
/**
 * The seed's verificationProcess.
 */
export interface VerificationProcess {
  /**
   * The quality rules run on every publish.
   */
  automated: boolean
  /**
   * A curator reviews items (see curationPolicy.requiresApproval).
   */
  humanReview: boolean
  /**
   * Checks an item passes.
   *
   * @maxItems 3
   *
   * Items: A check family.
   */
  requiredChecks: ("security" | "quality" | "compliance")[]
}

// marketplace#QualityStandards
/**
 * The marketplace's quality rules, checked on publish after the item schema.
 */
export interface QualityStandards {
  /**
   * Item fields that must be present and non-empty.
   *
   * @maxItems 5
   *
   * Items: An optional item field.
   */
  requiredFields: ("description" | "category" | "tags" | "license" | "artifact")[]
  /**
   * Accepted licenses; empty accepts any.
   *
   * @maxItems 200
   *
   * Items: A license id, e.g. MIT.
   */
  allowedLicenses: string[]
  /**
   * Largest accepted item: its canonical JSON, and its artifact when it has one.
   */
  maxSizeBytes: number
  /**
   * Regular expressions (case-insensitive) no string in an item may match.
   *
   * @maxItems 100
   *
   * Items: A regular expression source.
   */
  bannedPatterns: string[]
}

// marketplace#TrustMetrics
/**
 * The seed's trustMetrics.
 */
export interface TrustMetrics {
  /**
   * Derive a trust score per item and node.
   */
  calculateTrust: boolean
  /**
   * What the score counts.
   *
   * @maxItems 4
   *
   * Items: A trust factor.
   */
  trustFactors: ("ratings" | "sales" | "node_reputation" | "verification")[]
}

// marketplace#SyncSettings
/**
 * The seed's synchronization. conflictResolution is crdt_merge (DESIGN rule 4: no last-writer-wins; conflicts are shown).
 */
export interface SyncSettings {
  /**
   * Minutes between catalog index refreshes (sync itself is continuous).
   */
  syncFrequency: number
  /**
   * Always crdt_merge: concurrent edits are kept and conflicts shown.
   */
  conflictResolution: "crdt_merge"
  /**
   * Replicas converge eventually.
   */
  dataConsistency: "eventual"
}

// marketplace#MarketMetadata
/**
 * The seed's metadata.
 */
export interface MarketMetadata {
  createdAt: TimestampMs
  lastModified: TimestampMs
  /**
   * Semantic version of the configuration.
   */
  version: string
  /**
   * Lifecycle state.
   */
  status: "active" | "maintenance" | "deprecated"
  /**
   * Free tags.
   *
   * @maxItems 50
   *
   * Items: A tag.
   */
  tags?: string[]
}

// marketplace#JoinRequest
/**
 * Payload of a join request (purpose fedhub/market-join-request/v1), signed by the node asking to join. The vote deadline counts from the envelope time.
 */
export interface JoinRequest {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * The node asking to join; equal to the envelope signer.
   */
  nodeId: NodeId
  /**
   * Why it wants to join.
   */
  message?: string
}

// marketplace#JoinVote
/**
 * Payload of a vote on a join request (purpose fedhub/market-join-vote/v1), signed by the voter; a replica keeps it under votes[voter].
 */
export interface JoinVote {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * The id (envelopeId) of the join request voted on.
   */
  requestId: string
  /**
   * true approves, false refuses.
   */
  approve: boolean
  /**
   * Why.
   */
  reason?: string
}

// marketplace#ItemPricing
/**
 * What an item costs, in integer minor units of its currency.
 */
export interface ItemPricing {
  /**
   * free or a one-time purchase.
   */
  model: "free" | "one_time"
  /**
   * Minor units (cents, or credits).
   */
  price: number
  currency: MarketCurrency
}

// marketplace#ItemArtifact
/**
 * The package an item delivers, addressed by its hash.
 */
export interface ItemArtifact {
  /**
   * Hex SHA-256 of the artifact bytes.
   */
  sha256: string
  /**
   * Its size in bytes.
   */
  sizeBytes: number
  /**
   * Where to fetch it.
   */
  url?: Url
}

// marketplace#MarketItem
/**
 * Payload of one version of a published item (purpose fedhub/market-item/v1), signed by its origin node. Its checksum is the hex SHA-256 of its canonical JSON; globalId is originNodeId:itemId.
 */
export interface MarketItem {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * The origin's id of the item: letters, digits, '.', '_' or '-'.
   */
  itemId: string
  /**
   * The publishing node; equal to the envelope signer.
   */
  originNodeId: NodeId
  /**
   * 1 for the first version; each new version is greater.
   */
  version: number
  /**
   * true withdraws the item (a version like any other).
   */
  withdrawn?: boolean
  /**
   * Kind of item.
   */
  type: "persona" | "plugin" | "service" | "content" | "dataset"
  /**
   * Title.
   */
  title: string
  /**
   * Description.
   */
  description?: string
  /**
   * A category id of the marketplace.
   */
  category?: string
  /**
   * Tags.
   *
   * @maxItems 50
   *
   * Items: A tag.
   */
  tags?: string[]
  /**
   * License id, e.g. MIT.
   */
  license?: string
  /**
   * Usage restrictions.
   *
   * @maxItems 50
   *
   * Items: A restriction.
   */
  restrictions?: string[]
  /**
   * Nodes licensed to receive the item; empty means every participant.
   *
   * @maxItems 4096
   */
  allowedNodes?: NodeId[]
  /**
   * Territories (ISO 3166 codes) where it may not be used.
   *
   * @maxItems 250
   */
  territorialLimits?: string[]
  pricing: ItemPricing
  artifact?: ItemArtifact
}

// marketplace#ShardManifest
/**
 * Payload of a shard manifest (purpose fedhub/market-shard-manifest/v3), signed by the shard's origin: a digest over every item version the shard holds, so a replica verifies one signature per shard and only hashes the items (one ed25519 verification is 60-120 µs; hashing an item about 2 µs).
 */
export interface ShardManifest {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * The shard.
   */
  shardId: string
  /**
   * The origin; equal to the envelope signer.
   */
  originNodeId: NodeId
  /**
   * Increases with each manifest the origin signs for this shard.
   */
  sequence: number
  /**
   * How many item versions (withdrawals included) the shard holds.
   */
  count: number
  /**
   * Hex SHA-256 over the shard's item lines sorted by itemId, each 'itemId<TAB>version<TAB>checksum<LF>'.
   */
  digest: string
  /**
   * Hex SHA-256 over the shard's stored chunks sorted by chunk id, each 'chunkId<TAB>hex SHA-256 of the chunk's UTF-8 text<LF>': binds the exact bytes a replica holds, so it checks a shard by hashing its chunks (about 1 µs per item) instead of re-serializing and hashing every item (about 20 µs).
   */
  chunkDigest: string
}

// marketplace#PurchaseTerms
/**
 * The fee schedule a purchase was made under (copied from the marketplace config when buying), so every replica computes the same split.
 */
export interface PurchaseTerms {
  /**
   * As in FeeStructure. Whole percent, 0-100.
   */
  transactionFeePercentage: number
  /**
   * As in FeeStructure. Whole percent, 0-100.
   */
  crossNodeFeePercentage: number
  revenueSharing: RevenueSharing
}

// marketplace#Purchase
/**
 * Payload of a purchase (purpose fedhub/market-purchase/v1), signed by the buyer node. Its id is the hex SHA-256 of this payload; two purchases by one buyer with one sequence number are an equivocation.
 */
export interface Purchase {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * The buying node; equal to the envelope signer.
   */
  buyer: NodeId
  /**
   * The buyer's purchase counter in this marketplace: 1, 2, 3, ...
   */
  sequence: number
  /**
   * originNodeId:itemId, unique across the federation.
   */
  itemGlobalId: string
  /**
   * The version bought.
   */
  itemVersion: number
  /**
   * The checksum of that version.
   */
  itemChecksum: string
  /**
   * The item's origin node.
   */
  seller: NodeId
  /**
   * Minor units of currency.
   */
  price: number
  currency: MarketCurrency
  paymentMethod: PaymentMethod
  /**
   * For stripe, paypal or crypto: the external payment reference (recorded only).
   */
  externalReference?: string
  terms: PurchaseTerms
}

// marketplace#Rating
/**
 * Payload of a rating (purpose fedhub/market-rating/v1), signed by the rating node; a replica keeps the latest under ratings[item][rater].
 */
export interface Rating {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * originNodeId:itemId, unique across the federation.
   */
  itemGlobalId: string
  /**
   * The rating in half stars: 2 = 1.0 … 10 = 5.0 (integers only in signed payloads).
   */
  halfStars: number
  /**
   * Review text.
   */
  comment?: string
}

// marketplace#RatingModeration
/**
 * Payload of a moderation decision on one rating (purpose fedhub/market-rating-moderation/v1), signed by a curator or the creator.
 */
export interface RatingModeration {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * The envelopeId of the rating.
   */
  ratingId: string
  /**
   * true hides the rating, false shows it again.
   */
  hidden: boolean
  /**
   * Why.
   */
  reason?: string
}

// marketplace#ItemApproval
/**
 * Payload of a curator's decision on an item (purpose fedhub/market-item-approval/v1), signed by the creator or a curator; with curationPolicy.requiresApproval an item is shown only once approved.
 */
export interface ItemApproval {
  /**
   * The marketplace (its Automerge document id) this record belongs to; binds the signature to one marketplace.
   */
  marketplaceId: string
  /**
   * originNodeId:itemId, unique across the federation.
   */
  itemGlobalId: string
  /**
   * true approves the item (every version of it); false holds it back again.
   */
  approved: boolean
}

// policy
/**
 * The payload of one version of a document's access policy (envelope purpose fedhub/policy/v1, envelope time = issuedAt). The record's id is the hex SHA-256 of the canonical JSON of its envelope without `sig`. Versions form a DAG through `parents`; see docs/ACCESS.md for validity and the effective policy.
 */
export interface Policy {
  /**
   * The Automerge document (automerge-repo base58check document id) this policy governs.
   */
  documentId: string
  /**
   * 1 for a genesis; greater than the version of every parent otherwise.
   */
  version: number
  /**
   * The document's owner, fixed by the genesis (the document id commits to it); the same in every version.
   */
  owner: NodeId
  /**
   * Nodes that may sign new versions (besides the owner).
   *
   * @maxItems 4096
   */
  admins: NodeId[]
  /**
   * Nodes whose changes are applied (admins and the owner write too).
   *
   * @maxItems 4096
   */
  writers: NodeId[]
  /**
   * Nodes the document is shared with, or "public" for every hub (writers, admins and the owner read too).
   *
   * @maxItems 4096
   */
  readers: (NodeId | "public")[]
  /**
   * Nodes that may hold and forward the document's changes without reading rights through their own views.
   *
   * @maxItems 4096
   */
  relays: NodeId[]
  /**
   * Ids (hex SHA-256) of the policy versions this one supersedes; [] only for a genesis.
   *
   * @maxItems 64
   */
  parents: string[]
  /**
   * Genesis only: the random salt the document id is derived from (documentId = base58check of the first 16 bytes of SHA-256 of canonical {purpose: "fedhub/document-id/v1", owner, nonce}).
   */
  nonce?: Nonce
  /**
   * Heads of the document as the signer held it: the signer, an admin, vouches for every change up to them (so history written by a since-removed writer stays valid on hubs that fetch it later). Counted only while the signer is an admin of the effective policy.
   *
   * @maxItems 64
   */
  documentHeads?: string[]
  /**
   * When this version was signed; equal to the envelope time.
   */
  issuedAt: TimestampMs
}

// problem
/**
 * An RFC 9457 problem+json error response. Extension members are allowed.
 */
export interface Problem {
  /**
   * URI identifying the problem type, e.g. https://fedhub.dev/errors/SCHEMA_INVALID.
   */
  type: string
  /**
   * Short summary of the problem type.
   */
  title: string
  /**
   * The HTTP status code.
   */
  status: number
  /**
   * What exactly went wrong in this occurrence.
   */
  detail: string
  /**
   * The stable fedhub error code (see src/errors.ts).
   */
  code: string
  /**
   * URI reference of this occurrence (usually the request path).
   */
  instance?: string
  [k: string]: unknown
}

// registry-node
/**
 * One node of a hub's local registry as a row of the `registry` table (several processes of one identity on PostgreSQL; README "Several processes of one identity"). Administrator decisions (url, name, adminLevel, blocked, manual, disconnected) are taken from the latest write that set them; observations merge: firstSeen is the earliest, lastSeen, provenAt and lastSequence the latest, discoveredBy the union, observed the union of the period ranges. `upSince` is never stored here (a link belongs to one process).
 */
export interface RegistryNodeRow {
  nodeId: NodeId
  url?: string
  name?: string
  adminLevel?: "trusted" | "partner"
  blocked?: boolean
  manual?: boolean
  disconnected?: boolean
  lastSequence?: number
  provenAt?: number
  /**
   * @maxItems 5
   */
  discoveredBy: (
    "bootstrap_nodes" | "peer_exchange" | "dns_discovery" | "multicast_discovery" | "manual_configuration"
  )[]
  firstSeen: number
  lastSeen: number
  /**
   * Hourly periods in which the node was seen up, and in which a link with it failed: ascending, disjoint [first, last] ranges of hour numbers.
   */
  observed: {
    up: PeriodRanges
    down: PeriodRanges
  }
}

// registry-node#PeriodRanges
/**
 * At most 256 [first, last] ranges of hour numbers (ms since the epoch / 3,600,000).
 *
 * @maxItems 256
 */
export type PeriodRanges = unknown[][]

// session
/**
 * A cross-instance collaboration session as its initiator signed it (purpose fedhub/session/v1), held in the session document (every field of the seed's CrossInstanceSession that is not derived: status, participants' statuses, times, metrics and state are computed from the signed records). $defs hold the session's other signed payloads.
 */
export interface SessionDefinition {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  /**
   * Its name.
   */
  name: string
  /**
   * What it is about.
   */
  description: string
  type: SessionType
  initiator: NodeId
  /**
   * Every participant, the initiator first.
   *
   * @minItems 1
   * @maxItems 1000
   */
  participants: SessionParticipant[]
  configuration: SessionConfiguration
  metadata: SessionMetadata
  /**
   * The transcript document, when recordingEnabled.
   */
  transcript?: string
}

// session#SessionType
/**
 * What the session is for.
 */
export type SessionType =
  "persona_collaboration" | "knowledge_sharing" | "joint_research" | "model_training" | "consultation" | "brainstorming"

// session#SessionRole
/**
 * initiator: started the session and owns its document; moderator: may pause, resume and close it; participant: takes part; observer: reads and follows, never sends, votes or signs.
 */
export type SessionRole = "initiator" | "moderator" | "participant" | "observer"

// session#SessionPermission
/**
 * What a participant may do: read, send (messages), edit (shared documents), vote, sign (agreements), moderate (pause, resume, close).
 */
export type SessionPermission = "read" | "send" | "edit" | "vote" | "sign" | "moderate"

// session#SessionParticipant
/**
 * A participant as the initiator named it: node, role and permissions (the seed's SessionParticipant; status and joinedAt are derived from the signed responses).
 */
export interface SessionParticipant {
  nodeId: NodeId
  role: SessionRole
  /**
   * @maxItems 6
   */
  permissions: SessionPermission[]
}

// session#SessionDataSharing
/**
 * What the session may share between hubs.
 */
export interface SessionDataSharing {
  /**
   * false: shared documents never leave the hub that holds them; only their metadata is in the session document.
   */
  allowContent: boolean
  /**
   * Whether personal data may be exchanged (declared; fedhub does not inspect content).
   */
  allowPersonalData: boolean
  /**
   * Whether models may be shared (declared).
   */
  allowModelSharing: boolean
  /**
   * Days the content (transcript, shared documents) is kept after the session ends; then every participant hub purges it from storage. 0: kept.
   */
  retentionPeriod: number
}

// session#SessionConfiguration
/**
 * How the session runs (the seed's configuration).
 */
export interface SessionConfiguration {
  /**
   * public: every hub may read the session document; private: participants only, the initiator may invite more; restricted: participants only, and a new participant needs an approved decision too.
   */
  privacyLevel: "public" | "private" | "restricted"
  dataSharing: SessionDataSharing
  /**
   * true: a decision needs every joined voter's yes; false: more than half of the joined voters.
   */
  consensusRequired: boolean
  /**
   * true: messages are also kept in a transcript document, so a participant that was offline catches up.
   */
  recordingEnabled: boolean
  /**
   * Most participants, initiator included.
   */
  maxParticipants: number
}

// session#SessionMetadata
/**
 * Descriptive metadata.
 */
export interface SessionMetadata {
  createdAt: TimestampMs
  /**
   * Expected duration in minutes.
   */
  expectedDuration: number
  /**
   * @maxItems 32
   */
  tags: string[]
  /**
   * A category.
   */
  category: string
}

// session#SessionResponse
/**
 * Payload of a participant's answer to its invitation (purpose fedhub/session-response/v1), signed by it and kept under responses[nodeId] (rule 3).
 */
export interface SessionResponse {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  nodeId: NodeId
  response: "join" | "decline"
  /**
   * Why.
   */
  reason?: string
}

// session#SessionTransition
/**
 * Payload of a state change (purpose fedhub/session-transition/v1), signed by the initiator or a moderator: pause, resume, complete, fail.
 */
export interface SessionTransition {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  action: "pause" | "resume" | "complete" | "fail"
  /**
   * Why.
   */
  reason?: string
}

// session#SessionInvite
/**
 * Payload of a later invitation (purpose fedhub/session-invite/v1), signed by the initiator; in a restricted session it names the approved decision that allows it.
 */
export interface SessionInvite {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  participant: SessionParticipant
  decisionId?: string
}

// session#ChannelBatch
/**
 * Payload of a batch of channel messages (purpose fedhub/session-messages/v1), signed once by their sender: the messages it sent within one tick, each with its own seq (consecutive, ascending) so that per sender, epoch (its service's start) and seq (1, 2, …) order every message and make duplicates visible.
 */
export interface ChannelBatch {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  epoch: number
  /**
   * The messages, in the order sent; seqs consecutive.
   *
   * @minItems 1
   * @maxItems 1000
   */
  messages: ChannelBatchItem[]
}

// session#ChannelBatchItem
/**
 * One message of a channel batch.
 */
export interface ChannelBatchItem {
  /**
   * The channel.
   */
  channel: string
  seq: number
  /**
   * The message.
   */
  text: string
}

// session#ChannelRepairRequest
/**
 * An ephemeral request on a live session channel (frame fedhubSessionNack, not signed at this layer: its origin is the ephemeral message's transport-signed senderId, docs/ACCESS.md §5): the requesting hub misses these seqs of one sender's epoch; any participant hub holding the batches answers with the original signed batches. At most 32 ranges; the hub's maxRange bounds their total span.
 */
export interface ChannelRepairRequest {
  /**
   * The session (its Automerge document id) the frame is about.
   */
  sessionId: string
  /**
   * A node id (the sender whose seqs are meant).
   */
  sender: string
  epoch: number
  /**
   * Missing seqs as [first, last] pairs, ascending.
   *
   * @minItems 1
   * @maxItems 32
   */
  ranges: number[][]
}

// session#ChannelLatest
/**
 * An ephemeral announcement on a live session channel (frame fedhubSessionLatest; origin: the transport-signed senderId): the highest seq of each sender's epoch the announcing hub holds, sent once when its own sender goes quiet and to a peer that (re)connects, so a receiver that lost a sender's last batches asks for them.
 */
export interface ChannelLatest {
  /**
   * The session (its Automerge document id) the frame is about.
   */
  sessionId: string
  /**
   * @minItems 1
   * @maxItems 64
   */
  senders: {
    /**
     * A node id (the sender whose seqs are meant).
     */
    sender: string
    epoch: number
    seq: number
  }[]
}

// session#Proposal
/**
 * Payload of a proposed decision (purpose fedhub/session-proposal/v1), signed by its proposer; its id is the envelope id.
 */
export interface Proposal {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  /**
   * What is proposed.
   */
  title: string
  /**
   * Details.
   */
  description?: string
}

// session#DecisionVote
/**
 * Payload of a vote (purpose fedhub/session-vote/v1), kept under votes[proposalId:voter].
 */
export interface DecisionVote {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  proposalId: string
  approve: boolean
  /**
   * Why.
   */
  reason?: string
}

// session#SessionAgreement
/**
 * Payload of an agreement (purpose fedhub/session-agreement/v1), signed by its proposer; its id is the envelope id, and every participant signs the SHA-256 of its exact text.
 */
export interface SessionAgreement {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  /**
   * Its title.
   */
  title: string
  /**
   * The exact text signed.
   */
  text: string
}

// session#AgreementSignature
/**
 * Payload of a participant's signature of an agreement (purpose fedhub/session-agreement-signature/v1), kept under signatures[agreementId:signer].
 */
export interface AgreementSignature {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  agreementId: string
  /**
   * Hex SHA-256 of the agreement's text (UTF-8).
   */
  textHash: string
}

// session#SessionRating
/**
 * Payload of a participant's rating of the session (purpose fedhub/session-rating/v1), kept under ratings[nodeId].
 */
export interface SessionRating {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  /**
   * 1 (poor) … 5 (excellent).
   */
  satisfaction: number
  /**
   * 1 … 5.
   */
  outputQuality: number
  /**
   * A comment.
   */
  comment?: string
}

// session#SharedDocumentEntry
/**
 * Payload of a shared document's entry in the session (purpose fedhub/session-document/v1), signed by the hub that created and holds it; metadata only.
 */
export interface SharedDocumentEntry {
  /**
   * The session (its Automerge document id) this record belongs to; binds the signature to one session.
   */
  sessionId: string
  documentId: string
  /**
   * Its title.
   */
  title: string
  holder: NodeId
  /**
   * false when the session's dataSharing.allowContent is false: the document stays on its holder.
   */
  shared: boolean
}

// signed-envelope
/**
 * A payload signed by one node for one purpose at one time. The ed25519 signature covers the canonical JSON (RFC 8785) of { v, purpose, signer, time, payload }.
 */
export interface SignedEnvelope {
  /**
   * Envelope format version.
   */
  v: 1
  /**
   * Domain separation: what the signature is for (e.g. "fedhub/node-descriptor/v1"). A signature made for one purpose never verifies for another.
   */
  purpose: string
  /**
   * Node id of the signer; the public key it encodes verifies `sig`.
   */
  signer: NodeId
  /**
   * When it was signed.
   */
  time: TimestampMs
  /**
   * The signed fact: any JSON value, integers only (no floats). Its own schema depends on `purpose` and is checked after the signature.
   */
  payload: unknown
  /**
   * The ed25519 signature over the canonical bytes of everything but `sig`.
   */
  sig: Signature
}

// signed-heads
/**
 * The payload of a signed-heads record (envelope purpose fedhub/heads/v1): the signer vouches for the Automerge changes `heads` of its actor `actor` in `documentId` and, since a change hash covers its ancestors, for every ancestor of them written by an actor bound to the signer.
 */
export interface SignedHeads {
  /**
   * The Automerge document the changes belong to.
   */
  documentId: string
  /**
   * The signer's actor (see actor-binding) that wrote every change in `heads`.
   */
  actor: string
  /**
   * Hex SHA-256 change hashes, each a change by `actor`.
   *
   * @minItems 1
   * @maxItems 64
   */
  heads: string[]
}

/** Every schema name `validate` takes: a file's short name, or "<file>#<$defs key>". */
export const SCHEMA_NAMES = [
  "actor-binding",
  "api-discover",
  "api-doc-create",
  "api-doc-delete",
  "api-doc-put",
  "api-doc-share",
  "api-endorse",
  "api-market-approve",
  "api-market-buy",
  "api-market-create",
  "api-market-dispute-vote",
  "api-market-dispute",
  "api-market-grant",
  "api-market-join",
  "api-market-meta",
  "api-market-publish",
  "api-market-rate",
  "api-market-search",
  "api-market-update",
  "api-market-vote",
  "api-peer-add",
  "api-session-agreement",
  "api-session-create",
  "api-session-document",
  "api-session-edit",
  "api-session-invite",
  "api-session-propose",
  "api-session-rate",
  "api-session-respond",
  "api-session-send",
  "api-session-transition",
  "api-session-verify",
  "api-session-vote",
  "api-trust-set",
  "common#NodeId",
  "common#Base64",
  "common#PublicKey",
  "common#Signature",
  "common#Nonce",
  "common#TimestampMs",
  "common#TrustLevel",
  "common#Url",
  "common#DocPath",
  "common#CommitMessage",
  "config",
  "endorsement-revocation",
  "endorsement",
  "federation-node",
  "federation-node#NodeType",
  "federation-node#NodeSoftware",
  "federation-node#NodeIdentity",
  "federation-node#NodeEndpoint",
  "federation-node#NodeConnectivity",
  "federation-node#FederationMode",
  "federation-node#DataRetentionDays",
  "federation-node#NodePolicies",
  "federation-node#Capability",
  "federation-node#NodeServices",
  "federation-node#NodeHealth",
  "federation-node#NodeMetadata",
  "handshake#ChallengeRequest",
  "handshake#ChallengeResponse",
  "handshake#HandshakeProof",
  "handshake#ProtocolVersion",
  "handshake#CapabilityName",
  "handshake#LinkPolicies",
  "handshake#OfferRequirements",
  "handshake#Offer",
  "handshake#Agreement",
  "key-rotation",
  "market-trade#CreditGrant",
  "market-trade#DisputeOutcome",
  "market-trade#Dispute",
  "market-trade#DisputeVote",
  "market-trade#MetadataEdit",
  "marketplace",
  "marketplace#GovernanceModel",
  "marketplace#ConsensusType",
  "marketplace#ConsensusMechanism",
  "marketplace#DisputeResolution",
  "marketplace#MarketCategory",
  "marketplace#SearchCapability",
  "marketplace#CurationPolicy",
  "marketplace#FeeStructure",
  "marketplace#RevenueSharing",
  "marketplace#MarketCurrency",
  "marketplace#PaymentMethod",
  "marketplace#RatingSystem",
  "marketplace#VerificationProcess",
  "marketplace#QualityStandards",
  "marketplace#TrustMetrics",
  "marketplace#SyncSettings",
  "marketplace#MarketMetadata",
  "marketplace#JoinRequest",
  "marketplace#JoinVote",
  "marketplace#ItemPricing",
  "marketplace#ItemArtifact",
  "marketplace#MarketItem",
  "marketplace#ShardManifest",
  "marketplace#PurchaseTerms",
  "marketplace#Purchase",
  "marketplace#Rating",
  "marketplace#RatingModeration",
  "marketplace#ItemApproval",
  "policy",
  "problem",
  "registry-node",
  "registry-node#PeriodRanges",
  "session",
  "session#SessionType",
  "session#SessionRole",
  "session#SessionPermission",
  "session#SessionParticipant",
  "session#SessionDataSharing",
  "session#SessionConfiguration",
  "session#SessionMetadata",
  "session#SessionResponse",
  "session#SessionTransition",
  "session#SessionInvite",
  "session#ChannelBatch",
  "session#ChannelBatchItem",
  "session#ChannelRepairRequest",
  "session#ChannelLatest",
  "session#Proposal",
  "session#DecisionVote",
  "session#SessionAgreement",
  "session#AgreementSignature",
  "session#SessionRating",
  "session#SharedDocumentEntry",
  "signed-envelope",
  "signed-heads",
] as const

/** A schema name, e.g. "federation-node" or "handshake#ChallengeRequest". */
export type SchemaName = (typeof SCHEMA_NAMES)[number]

/** The TypeScript type of the values each schema accepts. */
export interface SchemaTypes {
  "actor-binding": ActorBinding
  "api-discover": DiscoverBody
  "api-doc-create": DocCreateBody
  "api-doc-delete": DocDeleteBody
  "api-doc-put": DocPutBody
  "api-doc-share": DocShareBody
  "api-endorse": EndorseBody
  "api-market-approve": MarketApproveBody
  "api-market-buy": MarketBuyBody
  "api-market-create": MarketCreateBody
  "api-market-dispute-vote": MarketDisputeVoteBody
  "api-market-dispute": MarketDisputeBody
  "api-market-grant": MarketGrantBody
  "api-market-join": MarketJoinBody
  "api-market-meta": MarketMetaBody
  "api-market-publish": MarketPublishBody
  "api-market-rate": MarketRateBody
  "api-market-search": MarketSearchQuery
  "api-market-update": MarketUpdateBody
  "api-market-vote": MarketVoteBody
  "api-peer-add": PeerAddBody
  "api-session-agreement": SessionAgreementBody
  "api-session-create": SessionCreateBody
  "api-session-document": SessionDocumentBody
  "api-session-edit": SessionEditBody
  "api-session-invite": SessionInviteBody
  "api-session-propose": SessionProposeBody
  "api-session-rate": SessionRateBody
  "api-session-respond": SessionRespondBody
  "api-session-send": SessionSendBody
  "api-session-transition": SessionTransitionBody
  "api-session-verify": SessionVerifyBody
  "api-session-vote": SessionVoteBody
  "api-trust-set": TrustSetBody
  "common#NodeId": NodeId
  "common#Base64": Base64
  "common#PublicKey": PublicKey
  "common#Signature": Signature
  "common#Nonce": Nonce
  "common#TimestampMs": TimestampMs
  "common#TrustLevel": TrustLevel
  "common#Url": Url
  "common#DocPath": DocPath
  "common#CommitMessage": CommitMessage
  config: HubConfig
  "endorsement-revocation": EndorsementRevocation
  endorsement: Endorsement
  "federation-node": FederationNode
  "federation-node#NodeType": NodeType
  "federation-node#NodeSoftware": NodeSoftware
  "federation-node#NodeIdentity": NodeIdentity
  "federation-node#NodeEndpoint": NodeEndpoint
  "federation-node#NodeConnectivity": NodeConnectivity
  "federation-node#FederationMode": FederationMode
  "federation-node#DataRetentionDays": DataRetentionDays
  "federation-node#NodePolicies": NodePolicies
  "federation-node#Capability": Capability
  "federation-node#NodeServices": NodeServices
  "federation-node#NodeHealth": NodeHealth
  "federation-node#NodeMetadata": NodeMetadata
  "handshake#ChallengeRequest": ChallengeRequest
  "handshake#ChallengeResponse": ChallengeResponse
  "handshake#HandshakeProof": HandshakeProof
  "handshake#ProtocolVersion": ProtocolVersion
  "handshake#CapabilityName": CapabilityName
  "handshake#LinkPolicies": LinkPolicies
  "handshake#OfferRequirements": OfferRequirements
  "handshake#Offer": Offer
  "handshake#Agreement": Agreement
  "key-rotation": KeyRotation
  "market-trade#CreditGrant": CreditGrant
  "market-trade#DisputeOutcome": DisputeOutcome
  "market-trade#Dispute": Dispute
  "market-trade#DisputeVote": DisputeVote
  "market-trade#MetadataEdit": MetadataEdit
  marketplace: MarketplaceConfig
  "marketplace#GovernanceModel": GovernanceModel
  "marketplace#ConsensusType": ConsensusType
  "marketplace#ConsensusMechanism": ConsensusMechanism
  "marketplace#DisputeResolution": DisputeResolution
  "marketplace#MarketCategory": MarketCategory
  "marketplace#SearchCapability": SearchCapability
  "marketplace#CurationPolicy": CurationPolicy
  "marketplace#FeeStructure": FeeStructure
  "marketplace#RevenueSharing": RevenueSharing
  "marketplace#MarketCurrency": MarketCurrency
  "marketplace#PaymentMethod": PaymentMethod
  "marketplace#RatingSystem": RatingSystem
  "marketplace#VerificationProcess": VerificationProcess
  "marketplace#QualityStandards": QualityStandards
  "marketplace#TrustMetrics": TrustMetrics
  "marketplace#SyncSettings": SyncSettings
  "marketplace#MarketMetadata": MarketMetadata
  "marketplace#JoinRequest": JoinRequest
  "marketplace#JoinVote": JoinVote
  "marketplace#ItemPricing": ItemPricing
  "marketplace#ItemArtifact": ItemArtifact
  "marketplace#MarketItem": MarketItem
  "marketplace#ShardManifest": ShardManifest
  "marketplace#PurchaseTerms": PurchaseTerms
  "marketplace#Purchase": Purchase
  "marketplace#Rating": Rating
  "marketplace#RatingModeration": RatingModeration
  "marketplace#ItemApproval": ItemApproval
  policy: Policy
  problem: Problem
  "registry-node": RegistryNodeRow
  "registry-node#PeriodRanges": PeriodRanges
  session: SessionDefinition
  "session#SessionType": SessionType
  "session#SessionRole": SessionRole
  "session#SessionPermission": SessionPermission
  "session#SessionParticipant": SessionParticipant
  "session#SessionDataSharing": SessionDataSharing
  "session#SessionConfiguration": SessionConfiguration
  "session#SessionMetadata": SessionMetadata
  "session#SessionResponse": SessionResponse
  "session#SessionTransition": SessionTransition
  "session#SessionInvite": SessionInvite
  "session#ChannelBatch": ChannelBatch
  "session#ChannelBatchItem": ChannelBatchItem
  "session#ChannelRepairRequest": ChannelRepairRequest
  "session#ChannelLatest": ChannelLatest
  "session#Proposal": Proposal
  "session#DecisionVote": DecisionVote
  "session#SessionAgreement": SessionAgreement
  "session#AgreementSignature": AgreementSignature
  "session#SessionRating": SessionRating
  "session#SharedDocumentEntry": SharedDocumentEntry
  "signed-envelope": SignedEnvelope
  "signed-heads": SignedHeads
}
