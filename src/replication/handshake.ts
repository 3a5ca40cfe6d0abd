/**
 * The hub-to-hub handshake (docs/PROTOCOL.md): both sides contribute a nonce and
 * each signs both node ids, both nonces and the endpoint, so a proof can be used
 * once, on one connection, between these two nodes only.
 *
 * Negotiation rides on it: the client's challenge may carry an Offer; a server
 * given a `negotiate` callback answers with an Agreement inside its signed proof
 * (or refuses the challenge), and the client checks it with `checkAgreement` and
 * signs it back. The policy itself lives in federation/negotiation.ts (layer 3),
 * injected by the hub; this layer only carries and binds it.
 */
import {
  canonicalJson,
  isNodeId,
  randomNonce,
  signEnvelope,
  verifyEnvelope,
  type Identity,
  type NodeId,
  type SignedEnvelope,
} from "../identity/index.ts"
import { ERRORS, FedhubError, type ErrorCode } from "../errors.ts"
import { nodeTls } from "../identity/index.ts"
import { boundedFetch, type PeerFetchOptions } from "./boundedFetch.ts"
import { pinnedTlsConnect, type CreateConnection, type ServerCertificate, type ServerTlsView, type TlsChannel } from "./tlsLink.ts"
import {
  validate,
  type Agreement,
  type ChallengeRequest,
  type ChallengeResponse,
  type HandshakeProof,
  type Offer,
} from "../schema/index.ts"

export const HANDSHAKE_PROTOCOL = "fedhub/1"
export const SERVER_PROOF_PURPOSE = "fedhub/handshake/server/v1"
export const CLIENT_PROOF_PURPOSE = "fedhub/handshake/client/v1"
/** The HTTP header that carries the client's proof on the WebSocket upgrade. */
export const PROOF_HEADER = "x-fedhub-proof"
/** Where a client asks for the server's nonce, relative to the sync endpoint. */
export const CHALLENGE_SUFFIX = "/challenge"
/** Most bytes of a server's challenge answer read when the caller sets no `maxBytes` (an answer is ~1 KB). */
export const DEFAULT_CHALLENGE_ANSWER_BYTES = 64 * 1024

/** What both sides sign, each under its own purpose (schemas/handshake.schema.json). */
export type HandshakeTranscript = HandshakeProof
export type { Agreement, ChallengeRequest, ChallengeResponse, Offer }

/** The link being negotiated, as both callbacks see it. */
export interface NegotiatedLink {
  /** The normalized sync endpoint the client dialed (and both sides sign). */
  endpoint: string
  /** True for wss:// (TLS); plain ws:// is not encrypted. */
  encrypted: boolean
}

/**
 * The server's negotiation: returns the Agreement for this client's offer (undefined
 * when the client sent none) or throws (NEGOTIATION_FAILED) to refuse the challenge.
 */
export type NegotiateFn = (clientId: NodeId, offer: Offer | undefined, link: NegotiatedLink) => Agreement

/**
 * The client's check of the agreement the server signed (undefined when the server
 * does not negotiate); throw (NEGOTIATION_FAILED) to refuse the connection.
 */
export type CheckAgreementFn = (agreement: Agreement | undefined, serverId: NodeId, link: NegotiatedLink) => void

const linkOf = (endpoint: string): NegotiatedLink => ({ endpoint, encrypted: endpoint.startsWith("wss:") })

export interface HandshakeLimits {
  /** How far a proof's time may be from ours, either way (ms). */
  skewMs: number
  /** How long an issued server nonce stays usable (ms). */
  challengeTtlMs: number
  /** Most challenges pending at once; beyond it the oldest are forgotten. */
  maxPending: number
  /**
   * Most nonces remembered at once (client nonces seen, server nonces used, plus
   * pending challenges, whose server nonce will be remembered once answered). A nonce
   * is remembered until its replay window (`challengeTtlMs + skewMs`) has passed and
   * never forgotten earlier: when the cache is full, new challenges are refused
   * (HANDSHAKE_BUSY, 503) until old nonces expire.
   */
  maxUsedNonces: number
}

export const DEFAULT_LIMITS: HandshakeLimits = { skewMs: 30_000, challengeTtlMs: 30_000, maxPending: 10_000, maxUsedNonces: 100_000 }

export interface HandshakeServerOptions extends Partial<HandshakeLimits> {
  /** Negotiates each challenge; without it the server signs no agreement. */
  negotiate?: NegotiateFn
  /** Nonces and pending challenges shared with the other processes of this identity (`challengeShared`, `verifyProofShared`). */
  shared?: SharedHandshakeState
}

/**
 * Handshake state held where every process of one identity sees it (PostgreSQL): a nonce
 * used by one process is refused by all, and a challenge one issued may be answered on any.
 */
export interface SharedHandshakeState {
  /** Records `nonce` as used until `untilMs`; false when it was recorded already (by any process). */
  claim(nonce: string, untilMs: number): Promise<boolean>
  /** Keeps a challenge this process issued until `expiresAt`. */
  put(serverNonce: string, transcript: HandshakeTranscript, expiresAt: number): Promise<void>
  /** Takes a pending challenge out, whoever issued it; one taker gets it, the others undefined. */
  take(serverNonce: string): Promise<{ transcript: HandshakeTranscript; expiresAt: number } | undefined>
}

/** Normalizes a dialed URL to the sync endpoint both sides sign: ws(s)://host:port/sync. */
export function syncEndpoint(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new FedhubError("INVALID_INPUT", `not a URL: ${JSON.stringify(url)}`)
  }
  const scheme = { "http:": "ws:", "https:": "wss:", "ws:": "ws:", "wss:": "wss:" }[u.protocol]
  if (!scheme) throw new FedhubError("INVALID_INPUT", `unsupported scheme in ${url}`)
  const path = u.pathname.replace(/\/+$/, "")
  return `${scheme}//${u.host}${path.endsWith("/sync") ? path : `${path}/sync`}`
}

/** The http(s) URL of the challenge resource for a sync endpoint. */
export const challengeUrl = (endpoint: string): string =>
  endpoint.replace(/^ws/, "http") + CHALLENGE_SUFFIX

const sameAgreement = (a: Agreement | undefined, b: Agreement | undefined): boolean =>
  a === undefined || b === undefined ? a === b : canonicalJson(a) === canonicalJson(b)

const sameChannel = (a: TlsChannel | undefined, b: TlsChannel | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.server === b.server && a.client === b.client

const sameTranscript = (a: HandshakeTranscript, b: HandshakeTranscript): boolean =>
  sameChannel(a.channel, b.channel) &&
  a.clientId === b.clientId &&
  a.serverId === b.serverId &&
  a.clientNonce === b.clientNonce &&
  a.serverNonce === b.serverNonce &&
  a.endpoint === b.endpoint &&
  sameAgreement(a.agreement, b.agreement)

/**
 * The server half: issues signed challenges and checks the proofs that come back.
 * Holds the pending server nonces and the client nonces already seen.
 */
export class HandshakeServer {
  readonly #identity: Identity
  readonly #limits: HandshakeLimits
  readonly #negotiate: NegotiateFn | undefined
  #pending = new Map<string, { transcript: HandshakeTranscript; expiresAt: number }>()
  // nonce → forget-after time; insertion order is expiry order (each entry expires a fixed time after it was added)
  #used = new Map<string, number>()
  #agreements = new Map<NodeId, Agreement>() // node → agreement of its latest proven handshake
  readonly #shared: SharedHandshakeState | undefined

  constructor(identity: Identity, opts: HandshakeServerOptions = {}) {
    const { negotiate, shared, ...limits } = opts
    this.#identity = identity
    this.#limits = { ...DEFAULT_LIMITS, ...limits }
    this.#negotiate = negotiate
    this.#shared = shared
  }

  /** `challenge`, with the client nonce claimed and the challenge kept in the shared state too (when there is one). */
  async challengeShared(body: unknown, host: string | undefined, now = Date.now(), tls?: ServerTlsView): Promise<ChallengeResponse> {
    const response = this.challenge(body, host, now, tls)
    const shared = this.#shared
    if (!shared) return response
    const transcript = response.proof.payload as HandshakeTranscript
    const window = now + this.#limits.challengeTtlMs + this.#limits.skewMs
    if (!(await shared.claim(transcript.clientNonce, window))) {
      this.#pending.delete(transcript.serverNonce)
      throw new FedhubError("NONCE_REPLAYED", "client nonce already used (on another process of this hub)")
    }
    await shared.put(transcript.serverNonce, transcript, response.expiresAt)
    return response
  }

  /**
   * `verifyProof`, the server nonce taken out of the shared state first: a challenge issued
   * by another process is answered here, and one consumed anywhere is NONCE_REPLAYED here.
   */
  async verifyProofShared(encoded: string | undefined, now = Date.now(), tls?: ServerTlsView): Promise<NodeId> {
    const shared = this.#shared
    const nonce = shared ? peekServerNonce(encoded) : undefined
    if (shared && nonce !== undefined) {
      const taken = await shared.take(nonce)
      if (taken) {
        if (!this.#pending.has(nonce)) this.#pending.set(nonce, taken)
      } else if (!(await shared.claim(nonce, now + this.#limits.challengeTtlMs + this.#limits.skewMs)) || this.#pending.has(nonce)) {
        // used already (here or on another process): refused as a replay below
        this.#pending.delete(nonce)
        this.#used.set(nonce, now + this.#limits.challengeTtlMs + this.#limits.skewMs)
      }
    }
    return this.verifyProof(encoded, now, tls)
  }

  /** The agreement of `nodeId`'s latest successful handshake, if this server negotiates. */
  agreementFor(nodeId: NodeId): Agreement | undefined {
    return this.#agreements.get(nodeId)
  }

  /**
   * Answers a client's challenge request with our nonce and our signed half. `tls` is
   * what the connection's socket says (serverTlsView): its encryption decides the
   * negotiation, its channel goes into the transcript, and a client certificate that is
   * a node key must be the client's. Without it (unit tests) the endpoint's scheme decides.
   */
  challenge(body: unknown, host: string | undefined, now = Date.now(), tls?: ServerTlsView): ChallengeResponse {
    this.#sweep(now)
    const req = parseChallengeRequest(body)
    const endpointHost = new URL(req.endpoint).host
    if (host !== undefined && endpointHost !== host)
      throw new FedhubError("UNAUTHORIZED", `endpoint ${req.endpoint} names another host than ${host}`)
    const link = tls ? { endpoint: req.endpoint, encrypted: tls.encrypted } : linkOf(req.endpoint)
    if (tls) checkChannel(req, tls)
    if (this.#used.has(req.clientNonce)) throw new FedhubError("NONCE_REPLAYED", "client nonce already used")
    if (this.#used.size + this.#pending.size >= this.#limits.maxUsedNonces)
      throw new FedhubError("HANDSHAKE_BUSY", `${this.#limits.maxUsedNonces} nonces are within their replay window; try again later`)
    this.#used.set(req.clientNonce, now + this.#limits.challengeTtlMs + this.#limits.skewMs)
    // throws (NEGOTIATION_FAILED) to refuse; the HTTP layer answers with its problem+json
    const agreement = this.#negotiate?.(req.clientId as NodeId, req.offer, link)
    const transcript: HandshakeTranscript = {
      clientId: req.clientId,
      serverId: this.#identity.nodeId,
      clientNonce: req.clientNonce,
      serverNonce: randomNonce(),
      endpoint: req.endpoint,
      ...(agreement ? { agreement } : {}),
      ...(tls?.channel ? { channel: tls.channel } : {}),
    }
    const expiresAt = now + this.#limits.challengeTtlMs
    this.#pending.set(transcript.serverNonce, { transcript, expiresAt })
    while (this.#pending.size > this.#limits.maxPending) {
      const oldest = this.#pending.keys().next().value as string
      this.#pending.delete(oldest)
    }
    return {
      protocol: HANDSHAKE_PROTOCOL,
      serverId: this.#identity.nodeId,
      serverNonce: transcript.serverNonce,
      expiresAt,
      proof: signEnvelope(this.#identity, SERVER_PROOF_PURPOSE, transcript, now),
      ...(agreement ? { agreement } : {}),
    }
  }

  /**
   * Checks the proof a client sent on its upgrade; returns the proven node id.
   * A nonce is consumed by its first use, good or bad. `tls` is the upgrade socket's
   * view: its channel must be the one the challenge was answered on (a proof relayed
   * through another TLS connection carries other certificates and is refused).
   */
  verifyProof(encoded: string | undefined, now = Date.now(), tls?: ServerTlsView): NodeId {
    if (!encoded) throw new FedhubError("UNAUTHORIZED", "no token and no handshake proof")
    let envelope: unknown
    try {
      envelope = JSON.parse(Buffer.from(encoded, "base64url").toString("utf8"))
    } catch {
      throw new FedhubError("UNAUTHORIZED", "handshake proof is not base64url JSON")
    }
    const payload = (envelope as { payload?: Partial<HandshakeTranscript> } | null)?.payload
    const signer = (envelope as { signer?: unknown } | null)?.signer
    const verified = verifyEnvelope<HandshakeTranscript>(envelope, {
      purpose: CLIENT_PROOF_PURPOSE,
      signer: typeof payload?.clientId === "string" ? payload.clientId : String(signer),
      now,
      maxAgeMs: this.#limits.skewMs,
      maxFutureMs: this.#limits.skewMs,
    })
    const nonce = verified.payload.serverNonce
    const pending = this.#pending.get(nonce)
    if (!pending) {
      if (this.#used.has(nonce)) throw new FedhubError("NONCE_REPLAYED", "server nonce already used")
      throw new FedhubError("UNAUTHORIZED", "unknown or expired server nonce")
    }
    this.#pending.delete(nonce)
    this.#used.set(nonce, now + this.#limits.challengeTtlMs + this.#limits.skewMs)
    if (pending.expiresAt < now) throw new FedhubError("STALE_TIMESTAMP", "challenge expired")
    if (tls && !sameChannel(pending.transcript.channel, tls.channel))
      throw new FedhubError("UNAUTHORIZED", "the proof was made on another TLS channel than this connection's (relayed?)")
    if (!sameTranscript(pending.transcript, verified.payload))
      throw new FedhubError("UNAUTHORIZED", "proof does not match the challenge it answers")
    const { agreement } = pending.transcript
    if (agreement) {
      this.#agreements.delete(verified.signer)
      this.#agreements.set(verified.signer, agreement)
      while (this.#agreements.size > this.#limits.maxPending) this.#agreements.delete(this.#agreements.keys().next().value!)
    }
    return verified.signer
  }

  /** Nonces remembered now (used ones plus pending challenges), for metrics and tests. */
  get nonceCount(): number {
    return this.#used.size + this.#pending.size
  }

  /**
   * Forgets what has expired, from the front of each insertion-ordered map only, and
   * stops at the first live entry: amortized O(1) per challenge. Expiry times grow with
   * insertion time, so nothing behind a live entry has expired (with a clock that steps
   * back, an entry is kept longer, never forgotten early).
   */
  #sweep(now: number): void {
    for (const [nonce, p] of this.#pending) {
      if (p.expiresAt + this.#limits.skewMs >= now) break
      this.#pending.delete(nonce)
    }
    for (const [nonce, until] of this.#used) {
      if (until >= now) break
      this.#used.delete(nonce)
    }
  }
}

/** The server nonce a proof names (before it is verified), when it has a nonce's shape. */
function peekServerNonce(encoded: string | undefined): string | undefined {
  if (!encoded || encoded.length > 65_536) return undefined
  try {
    const nonce = (JSON.parse(Buffer.from(encoded, "base64url").toString("utf8")) as { payload?: { serverNonce?: unknown } } | null)?.payload?.serverNonce
    return typeof nonce === "string" && /^[A-Za-z0-9_-]{16,64}$/.test(nonce) ? nonce : undefined
  } catch {
    return undefined
  }
}

/**
 * The socket must say what the endpoint says (wss:// only over TLS, ws:// only plain),
 * and on TLS the client presents its node certificate: its key is the client's own
 * (CERT_MISMATCH otherwise).
 */
function checkChannel(req: ChallengeRequest, tls: ServerTlsView): void {
  const wss = req.endpoint.startsWith("wss:")
  if (wss !== tls.encrypted)
    throw new FedhubError("UNAUTHORIZED", `the endpoint ${req.endpoint} is ${wss ? "wss://" : "ws://"} but this connection is ${tls.encrypted ? "TLS" : "plain"}`)
  if (!tls.encrypted) return
  if (!tls.channel?.client || tls.clientNodeId === undefined)
    throw new FedhubError("UNAUTHORIZED", "a hub presents its node certificate (its own ed25519 key) on a TLS link")
  if (tls.clientNodeId !== req.clientId)
    throw new FedhubError("CERT_MISMATCH", `the client certificate is the key of ${tls.clientNodeId}, not of ${req.clientId}`)
}

function parseChallengeRequest(body: unknown): ChallengeRequest {
  const b = body as Partial<ChallengeRequest> | null
  if (typeof b === "object" && b !== null && b.protocol !== undefined && b.protocol !== HANDSHAKE_PROTOCOL)
    throw new FedhubError("INVALID_INPUT", `unsupported handshake protocol ${JSON.stringify(b.protocol)}; this hub speaks ${HANDSHAKE_PROTOCOL}`)
  if (typeof b === "object" && b !== null && b.clientId !== undefined && !isNodeId(b.clientId))
    throw new FedhubError("BAD_NODE_ID", "clientId is not a node id")
  const req = validate<ChallengeRequest>("handshake#ChallengeRequest", body)
  return { ...req, endpoint: syncEndpoint(req.endpoint) }
}

/**
 * The client half: checks the server's signed challenge against what we sent and
 * whom we meant to reach, checks the agreement it signed (if any) with
 * `checkAgreement`, then signs our own half, agreement included. Returns the header value.
 */
export function answerChallenge(
  identity: Identity,
  sent: { clientNonce: string; endpoint: string; expectServerId?: NodeId; checkAgreement?: CheckAgreementFn; channel?: TlsChannel },
  response: unknown,
  now = Date.now(),
  skewMs = DEFAULT_LIMITS.skewMs,
): { proof: string; serverId: NodeId; agreement?: Agreement } {
  const r = response as Partial<ChallengeResponse> | null
  if (typeof r !== "object" || r === null || r.protocol !== HANDSHAKE_PROTOCOL || !isNodeId(r.serverId))
    throw new FedhubError("UNAUTHORIZED", "the server's challenge is malformed")
  if (sent.expectServerId && r.serverId !== sent.expectServerId)
    throw new FedhubError("WRONG_SIGNER", `expected node ${sent.expectServerId}, the server is ${r.serverId}`)
  const verified = verifyEnvelope<HandshakeTranscript>(r.proof, {
    purpose: SERVER_PROOF_PURPOSE,
    signer: r.serverId,
    now,
    maxAgeMs: skewMs,
    maxFutureMs: skewMs,
  })
  const signed = verified.payload.agreement
  const agreement =
    signed === undefined
      ? undefined
      : validate<Agreement>("handshake#Agreement", signed, { code: "NEGOTIATION_FAILED", label: "the server's agreement" })
  if (r.agreement !== undefined && !sameAgreement(r.agreement, agreement))
    throw new FedhubError("UNAUTHORIZED", "the agreement beside the server's proof differs from the one it signed")
  const expected: HandshakeTranscript = {
    clientId: identity.nodeId,
    serverId: r.serverId,
    clientNonce: sent.clientNonce,
    serverNonce: String(r.serverNonce),
    endpoint: sent.endpoint,
    ...(agreement ? { agreement } : {}),
    ...(sent.channel ? { channel: sent.channel } : {}),
  }
  if (!sameChannel(expected.channel, verified.payload.channel))
    throw new FedhubError("UNAUTHORIZED", "the server signed another TLS channel than ours: someone in the middle terminates TLS")
  if (!sameTranscript(expected, verified.payload))
    throw new FedhubError("UNAUTHORIZED", "the server's proof does not answer our challenge")
  sent.checkAgreement?.(agreement, r.serverId, linkOf(sent.endpoint))
  const envelope = signEnvelope(identity, CLIENT_PROOF_PURPOSE, expected, now)
  return {
    proof: Buffer.from(JSON.stringify(envelope)).toString("base64url"),
    serverId: r.serverId,
    ...(agreement ? { agreement } : {}),
  }
}

/**
 * The FedhubError for a refusal answered as problem+json: the problem's `code` when
 * it is one of ours (so NEGOTIATION_FAILED, NONCE_REPLAYED, ... reach the caller
 * as such), else FORBIDDEN for 403 and UNAUTHORIZED for anything else.
 */
export function refusalError(status: number, problem: unknown, what = "refused"): FedhubError {
  const p = (typeof problem === "object" && problem !== null ? problem : {}) as { code?: unknown; detail?: unknown }
  const code: ErrorCode =
    typeof p.code === "string" && Object.hasOwn(ERRORS, p.code) ? (p.code as ErrorCode) : status === 403 ? "FORBIDDEN" : "UNAUTHORIZED"
  const detail = typeof p.detail === "string" ? p.detail : `HTTP ${status}`
  return new FedhubError(code, `${what} (${status}): ${detail}`, { status })
}

/**
 * Runs the client side of the handshake over HTTP; returns the upgrade header value.
 * The challenge request is bounded by `peerFetch` (address rule, time, answer size);
 * `timeoutMs`, when given, overrides its time limit.
 */
export async function performHandshake(
  identity: Identity,
  url: string,
  opts: {
    expectServerId?: NodeId
    timeoutMs?: number
    offer?: Offer
    checkAgreement?: CheckAgreementFn
    peerFetch?: PeerFetchOptions
    /** CAs trusted for a server's CA-issued certificate (default: the system's). */
    ca?: string[]
  } = {},
): Promise<HandshakeResult> {
  const endpoint = syncEndpoint(url)
  // over wss:// the challenge goes over TLS with our node certificate, the server's checked first
  const secure = endpoint.startsWith("wss:")
  const ours = secure ? nodeTls(identity) : undefined
  let server: ServerCertificate | undefined
  // (no TLS session resumption for the upgrade: a resumed session does not show the peer's certificate)
  const createConnection = ours ? pinnedTlsConnect(ours, { expectNodeId: opts.expectServerId, ca: opts.ca }, c => (server = c)) : undefined
  const clientNonce = randomNonce()
  const body: ChallengeRequest = {
    protocol: HANDSHAKE_PROTOCOL,
    clientId: identity.nodeId,
    clientNonce,
    endpoint,
    ...(opts.offer ? { offer: opts.offer } : {}),
  }
  const res = await boundedFetch(
    challengeUrl(endpoint),
    { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), createConnection },
    { maxBytes: DEFAULT_CHALLENGE_ANSWER_BYTES, ...opts.peerFetch, timeoutMs: opts.timeoutMs ?? opts.peerFetch?.timeoutMs ?? 10_000 },
  )
  let json: unknown = null
  try {
    json = res.json()
  } catch {
    // not JSON: a refusal reports the status alone, an answer is refused by answerChallenge
  }
  if (!res.ok) throw refusalError(res.status, json ?? { detail: `HTTP ${res.status}` }, "challenge refused")
  if (secure && !server) throw new FedhubError("CERT_MISMATCH", "the challenge was answered without a checked TLS certificate")
  const channel = server && ours ? { server: server.fingerprint, client: ours.fingerprint } : undefined
  const answer = answerChallenge(
    identity,
    { clientNonce, endpoint, expectServerId: opts.expectServerId, checkAgreement: opts.checkAgreement, channel },
    json,
  )
  // a node certificate (not CA-verified) is the server's key: the node proven must be it
  if (server && !server.caVerified && server.nodeId !== answer.serverId)
    throw new FedhubError("CERT_MISMATCH", `the server proved ${answer.serverId} over a certificate that is the key of ${server.nodeId ?? "no node"}`)
  return {
    endpoint,
    ...answer,
    // the upgrade goes over TLS to the very certificate the challenge was answered on
    ...(ours && server ? { createConnection: pinnedTlsConnect(ours, { fingerprint: server.fingerprint, ca: opts.ca }), channel } : {}),
  }
}

/** What the client half of the handshake gives the upgrade. */
export interface HandshakeResult {
  endpoint: string
  /** The X-Fedhub-Proof header value. */
  proof: string
  serverId: NodeId
  agreement?: Agreement
  /** Over wss://: the connector for the WebSocket (our certificate, the server's pinned). */
  createConnection?: CreateConnection
  /** Over wss://: the channel the proofs are bound to. */
  channel?: TlsChannel
}
