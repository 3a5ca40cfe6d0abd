/**
 * Every HTTP route of a hub, as data: method, path, what it does, who may call it,
 * and the JSON Schemas (schemas/) of its body and answer. The OpenAPI document
 * (`GET /api/openapi.json`) is generated from this table, the HTTP metrics label
 * requests by its paths, and a test checks it against what express actually serves.
 */
import type { SchemaName } from "../schema/index.ts"

export type Method = "GET" | "POST" | "PUT" | "DELETE"

/** What a route answers on success: a schema's JSON, a free-form JSON object, or another media type. */
export type RouteBody =
  | { schema: SchemaName; list?: boolean }
  | { json: string }
  | { media: string; description: string }

export interface RouteParam {
  name: string
  in: "path" | "query"
  description: string
  required?: boolean
}

export interface Route {
  method: Method
  /** OpenAPI style: `/api/peers/{nodeId}`. */
  path: string
  summary: string
  /** `admin`: `Authorization: Bearer <admin token>` (src/api/auth.ts). */
  auth: "none" | "admin"
  tag: "node" | "documents" | "collaboration" | "federation" | "center"
  /** The body's schema; `optional` when the route accepts no body at all. */
  request?: { schema: SchemaName; optional?: boolean }
  status: number
  response?: RouteBody
  params?: RouteParam[]
}

const ref: RouteParam = { name: "ref", in: "path", description: "An automerge: URL (URL-encoded) or a bare document id." }
const nodeId: RouteParam = { name: "nodeId", in: "path", description: "A fedhub node id (fh1…)." }
const json = (description: string): RouteBody => ({ json: description })
const doc: RouteParam = { name: "doc", in: "path", description: "A shared document: an automerge: URL (URL-encoded) or a bare document id." }
const id = (description: string): RouteParam => ({ name: "id", in: "path", description })

/** The route table: one row per route express serves (src/api/routes/*.ts and server.ts). */
export const ROUTES: readonly Route[] = [
  // public
  { method: "GET", path: "/healthz", summary: "Health: status, node id, uptime, peers, links, memory, cpu", auth: "none", tag: "node", status: 200, response: json("{ status, nodeId, uptimeMs, peers, links, memory, cpu }") },
  { method: "GET", path: "/api/node", summary: "This hub's signed descriptor (payload: FederationNode)", auth: "none", tag: "node", status: 200, response: { schema: "signed-envelope" } },
  {
    method: "POST",
    path: "/sync/challenge",
    summary: "Handshake step 1 (docs/PROTOCOL.md): a server nonce and proof before the /sync WebSocket upgrade",
    auth: "none",
    tag: "node",
    request: { schema: "handshake#ChallengeRequest" },
    status: 200,
    response: { schema: "handshake#ChallengeResponse" },
  },
  { method: "GET", path: "/metrics", summary: "Prometheus metrics (text exposition format); no token, no node ids or URLs in labels", auth: "none", tag: "node", status: 200, response: { media: "text/plain; version=0.0.4", description: "Prometheus text format" } },
  { method: "GET", path: "/api/openapi.json", summary: "This document: OpenAPI 3.1, generated from the route table and schemas/", auth: "none", tag: "node", status: 200, response: json("OpenAPI 3.1 document") },
  { method: "GET", path: "/", summary: "The Federation Center dashboard (static HTML; signs in with the admin token)", auth: "none", tag: "center", status: 200, response: { media: "text/html", description: "the dashboard page" } },
  {
    method: "GET",
    path: "/center/{asset}",
    summary: "The dashboard's files (app.js, style.css, cytoscape.min.js from node_modules)",
    auth: "none",
    tag: "center",
    status: 200,
    response: { media: "text/javascript", description: "a script or a style sheet" },
    params: [{ name: "asset", in: "path", description: "A file name: app.js, style.css, cytoscape.min.js." }],
  },
  // documents
  { method: "POST", path: "/api/docs", summary: "Create a document under a policy signed by this hub", auth: "admin", tag: "documents", request: { schema: "api-doc-create", optional: true }, status: 201, response: json("{ url, documentId, heads, content }") },
  { method: "GET", path: "/api/docs/{ref}/policy", summary: "The document's policy: owner, admins, writers, readers, relays, conflict, refused records", auth: "admin", tag: "documents", status: 200, response: json("the effective policy"), params: [ref] },
  { method: "POST", path: "/api/docs/{ref}/share", summary: "A new policy version with more readers, writers or relays", auth: "admin", tag: "documents", request: { schema: "api-doc-share", optional: true }, status: 200, response: json("the new policy"), params: [ref] },
  { method: "POST", path: "/api/docs/{ref}/unshare", summary: "A new policy version without those nodes; running syncs with them stop", auth: "admin", tag: "documents", request: { schema: "api-doc-share", optional: true }, status: 200, response: json("the new policy"), params: [ref] },
  {
    method: "GET",
    path: "/api/docs/{ref}",
    summary: "The document now, or as it was at heads",
    auth: "admin",
    tag: "documents",
    status: 200,
    response: json("{ url, documentId, heads, content }"),
    params: [ref, { name: "at", in: "query", description: "Comma-separated change hashes (or a JSON array)." }],
  },
  { method: "PUT", path: "/api/docs/{ref}/value", summary: "Set a value at a path", auth: "admin", tag: "documents", request: { schema: "api-doc-put" }, status: 200, response: json("{ heads, content }"), params: [ref] },
  { method: "DELETE", path: "/api/docs/{ref}/value", summary: "Delete the value at a path", auth: "admin", tag: "documents", request: { schema: "api-doc-delete" }, status: 200, response: json("{ heads, content }"), params: [ref] },
  { method: "GET", path: "/api/docs/{ref}/log", summary: "Changes, newest first", auth: "admin", tag: "documents", status: 200, response: json("[{ hash, actor, time, ops, message }]"), params: [ref, { name: "limit", in: "query", description: "At most this many changes." }] },
  {
    method: "GET",
    path: "/api/docs/{ref}/written",
    summary: "Who wrote each value: path, value and the verified author node (or unattributed)",
    auth: "admin",
    tag: "documents",
    status: 200,
    response: json("[{ path, value, author }]"),
    params: [ref, { name: "by", in: "query", description: "Only the values written by this node id." }],
  },
  {
    method: "GET",
    path: "/api/docs/{ref}/diff",
    summary: "Readable patches from heads `from` to heads `to`",
    auth: "admin",
    tag: "documents",
    status: 200,
    response: json("[patch]"),
    params: [ref, { name: "from", in: "query", description: "Heads to start from.", required: true }, { name: "to", in: "query", description: "Heads to end at.", required: true }],
  },
  { method: "GET", path: "/api/docs/{ref}/conflicts", summary: "Every field holding concurrent values, with their actors", auth: "admin", tag: "documents", status: 200, response: json("[{ path, values }]"), params: [ref] },
  // marketplaces
  { method: "POST", path: "/api/markets", summary: "Create a marketplace owned by this hub (the seed's defaults under the body; a bad config lists every problem)", auth: "admin", tag: "documents", request: { schema: "api-market-create", optional: true }, status: 201, response: json("the marketplace: { url, documentId, name, owner, config, participantList, requests, policy, … }") },
  { method: "GET", path: "/api/markets", summary: "The marketplaces this hub holds, and the join requests it sent", auth: "admin", tag: "documents", status: 200, response: json("{ marketplaces: [summary], joining: [{ marketplace, owner, requestId, status, reason }] }") },
  { method: "GET", path: "/api/markets/{ref}", summary: "One marketplace: config, participants, policy, every join request with its decideJoin result", auth: "admin", tag: "documents", status: 200, response: json("the marketplace"), params: [ref] },
  { method: "POST", path: "/api/markets/{ref}/join", summary: "Sign a join request and send it to the marketplace's owner (in a document only the owner may read)", auth: "admin", tag: "documents", request: { schema: "api-market-join" }, status: 202, response: json("{ marketplace, owner, requestId, requestDoc, status, reason }"), params: [ref] },
  { method: "POST", path: "/api/markets/{ref}/votes", summary: "This hub, a participant, signs a vote on a join request (kept under votes[requestId:voter])", auth: "admin", tag: "documents", request: { schema: "api-market-vote" }, status: 201, response: json("{ requester, requestId, result: JoinResult }"), params: [ref] },
  { method: "POST", path: "/api/markets/{ref}/items", summary: "Publish items or new versions of this hub's items into its own catalog shards (one re-signed manifest per shard); every failure of every item listed, nothing written on failure", auth: "admin", tag: "documents", request: { schema: "api-market-publish" }, status: 201, response: json("{ items: [{ globalId, item, checksum, shard, manifestSequence, approved, ratings, sales }] }"), params: [ref] },
  { method: "GET", path: "/api/markets/{ref}/items", summary: "The verified catalog: search by text, category, type, origin, price and rating, paged; with the shards, the items pending curation and the rejected ones", auth: "admin", tag: "documents", status: 200, response: json("{ total, offset, limit, items: [summary], pending, shards, rejected }"), params: [ref, ...["text", "category", "type", "origin", "currency", "tags", "minPrice", "maxPrice", "minRating", "maxRating", "sort", "offset", "limit"].map(name => ({ name, in: "query" as const, description: `catalog search: ${name} (schemas/api-market-search.schema.json)` }))] },
  { method: "GET", path: "/api/markets/{ref}/items/{item}", summary: "One item (by global id): its verified version, derived ratings, sales, curation", auth: "admin", tag: "documents", status: 200, response: json("{ globalId, item, checksum, shard, approved, ratings, sales }"), params: [ref, { name: "item", in: "path", description: "originNodeId:itemId", required: true }] },
  { method: "PUT", path: "/api/markets/{ref}/items/{item}", summary: "A new version of this hub's item with fields changed (only the origin may)", auth: "admin", tag: "documents", request: { schema: "api-market-update" }, status: 200, response: json("the item"), params: [ref, { name: "item", in: "path", description: "this hub's itemId", required: true }] },
  { method: "DELETE", path: "/api/markets/{ref}/items/{item}", summary: "Withdraw this hub's item (a new version marked withdrawn)", auth: "admin", tag: "documents", status: 200, response: json("the item"), params: [ref, { name: "item", in: "path", description: "this hub's itemId", required: true }] },
  { method: "POST", path: "/api/markets/{ref}/items/{item}/approval", summary: "A curator approves an item, or holds it back", auth: "admin", tag: "documents", request: { schema: "api-market-approve" }, status: 200, response: json("the item"), params: [ref, { name: "item", in: "path", description: "originNodeId:itemId", required: true }] },
  { method: "POST", path: "/api/markets/{ref}/ratings", summary: "This hub rates an item, 1-5 stars in halves (signed, kept under its own key)", auth: "admin", tag: "documents", request: { schema: "api-market-rate" }, status: 201, response: json("the item with its derived ratings"), params: [ref] },
  { method: "POST", path: "/api/markets/{ref}/purchases", summary: "This hub buys an item (a signed, sequence-numbered purchase; buying again returns the first, 200)", auth: "admin", tag: "documents", request: { schema: "api-market-buy" }, status: 201, response: json("{ purchaseId, repeated, item, balance }"), params: [ref] },
  { method: "GET", path: "/api/markets/{ref}/ledger", summary: "The ledger every replica holding the same records computes: balances, applied, external and refused purchases, equivocations", auth: "admin", tag: "documents", status: 200, response: json("{ balances, applied, external, refused, equivocations }"), params: [ref] },
  { method: "POST", path: "/api/markets/{ref}/grants", summary: "The owner grants credits to a node (signed; where credits and stakes come from)", auth: "admin", tag: "documents", request: { schema: "api-market-grant" }, status: 201, response: json("{ grantId, to, amount, balance }"), params: [ref] },
  { method: "POST", path: "/api/markets/{ref}/disputes", summary: "The buyer opens a dispute on one of its credit purchases", auth: "admin", tag: "documents", request: { schema: "api-market-dispute" }, status: 201, response: json("the dispute's decision: { status, disputeId, eligible, tally, deadline, … }"), params: [ref] },
  { method: "POST", path: "/api/markets/{ref}/disputes/{dispute}/votes", summary: "An arbitrator votes on a dispute (signed); the outcome adjusts the ledger", auth: "admin", tag: "documents", request: { schema: "api-market-dispute-vote" }, status: 201, response: json("the dispute's decision"), params: [ref, { name: "dispute", in: "path", description: "the dispute id", required: true }] },
  { method: "GET", path: "/api/markets/{ref}/conflicts", summary: "The marketplace metadata: effective values, every same-field conflict with who wrote each value, refused edits", auth: "admin", tag: "documents", status: 200, response: json("{ values, setBy, conflicts: [{ field, values: [{ value, by, time, verified }] }], refused }"), params: [ref] },
  { method: "PUT", path: "/api/markets/{ref}/meta/{field}", summary: "An owner or admin sets a metadata field, or resolves its conflict by choosing one of its values", auth: "admin", tag: "documents", request: { schema: "api-market-meta" }, status: 200, response: json("the metadata view"), params: [ref, { name: "field", in: "path", description: "the metadata field", required: true }] },
  // sessions (issue 14)
  { method: "POST", path: "/api/sessions", summary: "Start a session initiated by this hub (participants must be known nodes at or above collaboration.minParticipantTrust; a bad request lists every problem)", auth: "admin", tag: "collaboration", request: { schema: "api-session-create", optional: true }, status: 201, response: json("the session: { url, documentId, status, participantList, configuration, metadata, decisions, agreements, metrics, … }") },
  { method: "GET", path: "/api/sessions", summary: "The sessions this hub holds and may read", auth: "admin", tag: "collaboration", status: 200, response: json("{ sessions: [summary] }") },
  { method: "GET", path: "/api/sessions/invites", summary: "Sessions this hub is invited to and has not answered", auth: "admin", tag: "collaboration", status: 200, response: json("{ invites: [summary] }") },
  { method: "GET", path: "/api/sessions/{ref}", summary: "One session: definition, participants and their status, state and duration, documents, decisions, agreements, metrics, refused records", auth: "admin", tag: "collaboration", status: 200, response: json("the session"), params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/join", summary: "Join a session this hub is invited to (a signed response under its own key)", auth: "admin", tag: "collaboration", request: { schema: "api-session-respond", optional: true }, status: 200, response: json("the session"), params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/decline", summary: "Decline an invitation (signed)", auth: "admin", tag: "collaboration", request: { schema: "api-session-respond", optional: true }, status: 200, response: json("the session"), params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/invites", summary: "Invite one more participant (the initiator only; a restricted session only with an approved decision, decisionId); it is named in the session's, the transcript's and the shared documents' policies", auth: "admin", tag: "collaboration", request: { schema: "api-session-invite" }, status: 201, response: json("the session"), params: [ref] },
  { method: "GET", path: "/api/sessions/{ref}/messages", summary: "The channel's messages this hub has (the transcript when recorded) and its inbox counts", auth: "admin", tag: "collaboration", status: 200, response: json("{ messages: [{ id, sender, epoch, seq, text, time }], counts }"), params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/messages", summary: "Send a signed message on the channel (live to linked participants; recorded when recordingEnabled)", auth: "admin", tag: "collaboration", request: { schema: "api-session-send" }, status: 201, response: json("the message"), params: [ref] },
  { method: "GET", path: "/api/sessions/{ref}/stream", summary: "Server-sent events of one session: `event: message` per channel message, `event: session` on every change", auth: "admin", tag: "collaboration", status: 200, response: { media: "text/event-stream", description: "`event: message` and `event: session` frames with a JSON `data` line" }, params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/documents", summary: "Create a shared document held by this hub (kept here when dataSharing.allowContent is false)", auth: "admin", tag: "collaboration", request: { schema: "api-session-document" }, status: 201, response: json("{ documentId, url, title, holder, shared, text, data, heads, conflicts }"), params: [ref] },
  { method: "GET", path: "/api/sessions/{ref}/documents/{doc}", summary: "A shared document as this hub holds it", auth: "admin", tag: "collaboration", status: 200, response: json("the shared document"), params: [ref, doc] },
  { method: "POST", path: "/api/sessions/{ref}/documents/{doc}/edit", summary: "Edit a shared document: text (a character diff), splice, or set a structured value", auth: "admin", tag: "collaboration", request: { schema: "api-session-edit" }, status: 200, response: json("the shared document"), params: [ref, doc] },
  { method: "POST", path: "/api/sessions/{ref}/proposals", summary: "Propose a decision (signed)", auth: "admin", tag: "collaboration", request: { schema: "api-session-propose" }, status: 201, response: json("{ proposalId, title, status, tally, votes, refusedVotes }"), params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/proposals/{id}/votes", summary: "Vote on a proposal (signed, kept under votes[proposalId:voter]); decided by the session's consensus rule", auth: "admin", tag: "collaboration", request: { schema: "api-session-vote" }, status: 201, response: json("the decision"), params: [ref, id("The proposal id (hex).")] },
  { method: "GET", path: "/api/sessions/{ref}/agreements", summary: "Every agreement with who signed its exact text and whether each signature verifies", auth: "admin", tag: "collaboration", status: 200, response: json("{ agreements: [{ agreementId, title, text, textHash, signatures, missing, complete }] }"), params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/agreements", summary: "Propose an agreement text; this hub signs it first", auth: "admin", tag: "collaboration", request: { schema: "api-session-agreement" }, status: 201, response: json("the agreement"), params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/agreements/{id}/sign", summary: "Sign the exact text of an agreement", auth: "admin", tag: "collaboration", status: 201, response: json("the agreement"), params: [ref, id("The agreement id (hex).")] },
  { method: "POST", path: "/api/sessions/{ref}/agreements/{id}/verify", summary: "Check every signature of an agreement against a text (default: the held one)", auth: "admin", tag: "collaboration", request: { schema: "api-session-verify", optional: true }, status: 200, response: json("{ agreementId, textHash, matchesSession, signatures: [{ signer, verified, reason }] }"), params: [ref, id("The agreement id (hex).")] },
  { method: "POST", path: "/api/sessions/{ref}/ratings", summary: "Rate the session (signed, one per participant)", auth: "admin", tag: "collaboration", request: { schema: "api-session-rate" }, status: 201, response: json("the session"), params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/pause", summary: "Pause an active session (initiator or moderator, signed)", auth: "admin", tag: "collaboration", request: { schema: "api-session-transition", optional: true }, status: 200, response: json("the session"), params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/resume", summary: "Resume a paused session", auth: "admin", tag: "collaboration", request: { schema: "api-session-transition", optional: true }, status: 200, response: json("the session"), params: [ref] },
  { method: "POST", path: "/api/sessions/{ref}/close", summary: "Complete the session (or fail it with fail: true)", auth: "admin", tag: "collaboration", request: { schema: "api-session-transition", optional: true }, status: 200, response: json("the session"), params: [ref] },
  // federation
  { method: "GET", path: "/api/peers", summary: "The peers view: trust, reputation, link state, latency, uptime, verified descriptor", auth: "admin", tag: "federation", status: 200, response: json("[PeerView]"), params: [{ name: "blocked", in: "query", description: "`true`: only blocked nodes." }] },
  { method: "POST", path: "/api/peers", summary: "Verify the hub at a URL (descriptor + proof of key), record it and keep a link", auth: "admin", tag: "federation", request: { schema: "api-peer-add" }, status: 201, response: json("{ nodeId, url, name, latencyMs }") },
  { method: "DELETE", path: "/api/peers/{nodeId}", summary: "Forget a hub and cut the link", auth: "admin", tag: "federation", status: 204, params: [nodeId] },
  { method: "POST", path: "/api/peers/{nodeId}/block", summary: "Refuse a node at the handshake and hide its entries", auth: "admin", tag: "federation", status: 200, response: json("{ nodeId, blocked: true }"), params: [nodeId] },
  { method: "POST", path: "/api/peers/{nodeId}/unblock", summary: "Restore a blocked node", auth: "admin", tag: "federation", status: 200, response: json("{ nodeId, blocked: false }"), params: [nodeId] },
  { method: "POST", path: "/api/peers/{nodeId}/disconnect", summary: "Cut the link and keep it cut (the node stays known)", auth: "admin", tag: "federation", status: 200, response: json("{ nodeId, link: 'closed' }"), params: [nodeId] },
  { method: "POST", path: "/api/peers/{nodeId}/connect", summary: "Restore a cut link and dial it", auth: "admin", tag: "federation", status: 202, response: json("{ nodeId, link: 'dialing' }"), params: [nodeId] },
  { method: "POST", path: "/api/discover", summary: "Run all five discovery methods now", auth: "admin", tag: "federation", request: { schema: "api-discover", optional: true }, status: 200, response: json("the discovery report") },
  { method: "GET", path: "/api/trust", summary: "Trust levels with reasons, refused and revoked endorsements, rotations", auth: "admin", tag: "federation", status: 200, response: json("{ levels, refused, revoked, rotations }") },
  { method: "GET", path: "/api/trust/{nodeId}", summary: "One node's trust level, reason and reputation", auth: "admin", tag: "federation", status: 200, response: json("{ nodeId, level, reason, reputation, refused, revoked }"), params: [nodeId] },
  { method: "PUT", path: "/api/trust/{nodeId}", summary: "The administrator's trust: trusted, partner or none", auth: "admin", tag: "federation", request: { schema: "api-trust-set" }, status: 200, response: json("{ nodeId, level, reason }"), params: [nodeId] },
  { method: "POST", path: "/api/endorse", summary: "Sign an endorsement and publish it in this hub's directory", auth: "admin", tag: "federation", request: { schema: "api-endorse" }, status: 201, response: { schema: "signed-envelope" } },
  { method: "DELETE", path: "/api/endorse/{nodeId}", summary: "Revoke this hub's endorsement(s) of a node", auth: "admin", tag: "federation", status: 200, response: json("{ nodeId, revocations }"), params: [nodeId] },
  { method: "GET", path: "/api/directory", summary: "This hub's directory view: nodes, rotations, endorsements, revocations, refused entries", auth: "admin", tag: "federation", status: 200, response: json("{ url, nodes, rotations, endorsements, revocations, refused }") },
  { method: "POST", path: "/api/rotate", summary: "Rotate this hub's key: a new key, the rotation record both keys sign, links redialed under the new id", auth: "admin", tag: "federation", status: 200, response: json("{ oldId, newId, record, policies, archived }") },
  { method: "GET", path: "/api/node/rotations", summary: "The key rotation records that lead to this hub's current id (each signed by both keys)", auth: "none", tag: "node", status: 200, response: json("{ nodeId, rotations }") },
  // center
  { method: "GET", path: "/api/settings", summary: "The hub's resolved settings (policies, federation mode, discovery, limits); read-only", auth: "admin", tag: "center", status: 200, response: { schema: "config" } },
  { method: "GET", path: "/api/events", summary: "Server-sent events: a `state` snapshot (node, peers, links, stats) on every change; `session`, `session-message` and `market` ({ documentIds }) as they happen", auth: "admin", tag: "center", status: 200, response: { media: "text/event-stream", description: "`event: state` frames with a JSON `data` line" } },
]

const matchers = ROUTES.map(r => ({
  route: r,
  re: new RegExp(`^${r.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{\w+\}/g, "[^/]+")}/?$`),
}))

/** The table's row for a request (for metric labels), or undefined when no route matches. */
export function matchRoute(method: string, path: string): Route | undefined {
  const m = method === "HEAD" ? "GET" : method
  return matchers.find(x => x.route.method === m && x.re.test(path))?.route
}
