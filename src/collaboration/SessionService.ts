/**
 * Cross-instance sessions across real hubs (issue 14): the thin stateful shell over the
 * pure core (config.ts, state.ts, decisions.ts, channel.ts, quality.ts, retention.ts).
 *
 * Documents (every entry a signed envelope stored as one ImmutableString of its canonical
 * JSON, kept under a key its signer owns: rule 3):
 *
 * - **session** (owned by the initiator; policy writers: every invited participant;
 *   readers: the participants, or `public` for a public session): `definition` (signed by
 *   the initiator), `responses[nodeId]` (join/decline, signed by that node), `invites[nodeId]`
 *   (later invitations by the initiator), `transitions[id]` (pause/resume/complete/fail by
 *   the initiator or a moderator), `proposals[id]`, `votes[proposalId:voter]`,
 *   `agreements[id]`, `signatures[agreementId:signer]`, `ratings[nodeId]`,
 *   `documents[documentId]` (a shared document's metadata, signed by its holder).
 * - **transcript** (recordingEnabled; owned by the initiator, readers and writers the
 *   participants): `messages["sender:epoch:seq"]`, each written by its sender.
 * - **shared document** (owned by the participant that created it; readers and writers
 *   the participants, or nobody else when `dataSharing.allowContent` is false): `title`,
 *   `text` (Automerge text, merged character by character), `data` (structure).
 *
 * Invitations travel as the session document itself: its policy names the participants, so
 * every hub's ShareGate offers it to them as soon as they are linked (also later, to one
 * that was offline). Messages travel as automerge-repo ephemeral messages on the session
 * document, each a signed envelope (the transport's own signature only vouches for the hop
 * origin; this one is the sender's, checked by every receiver), and, when recorded, in the
 * transcript, so a hub that missed them live gets them by sync. Live ones are repaired too
 * (gaps.ts, repair.ts, window.ts): a receiver that misses a sender's seqs asks with a small
 * ephemeral request, and any participant hub holding the batches answers with the original
 * signed text; a quiet sender, and a hub whose peer (re)connects, announce the latest seqs.
 */
import { EventEmitter } from "node:events"
import * as A from "@automerge/automerge"
import { rebaseSplice } from "./rebaseSplice.ts"
import type { DocHandle, DocumentId, Repo } from "@automerge/automerge-repo"
import { FedhubError } from "../errors.ts"
import { isValid } from "../schema/index.ts"
import { atLeast } from "../federation/trust.ts"
import { canonicalJson, envelopeId, signEnvelope, type Identity, type NodeId, type SignedEnvelope } from "../identity/index.ts"
import { assertMayRead, assertMayWrite, mayAdminister, mayRead, mayWrite, newDocumentId, nextPolicy, PUBLIC, type PolicyLists } from "../replication/access/policy.ts"
import type { Authorship } from "../replication/Authorship.ts"
import { parseDocRef, type DocRef } from "../replication/docRef.ts"
import { fromPlain, toPlain } from "../replication/docValues.ts"
import { conflicts } from "../replication/history.ts"
import { forgetStored } from "../replication/createRepo.ts"
import { createOwnedDocument } from "../replication/ownedDocument.ts"
import type { PolicyStore } from "../replication/PolicyStore.ts"
import type {
  ChannelBatch,
  ChannelBatchItem,
  SessionCreateBody,
  SessionDefinition,
  SessionEditBody,
  SessionInvite,
  SessionRating,
  SessionResponse,
  SessionTransition,
  SharedDocumentEntry,
  TrustLevel,
} from "../schema/index.ts"
import { ChannelInbox, openBatch, type BatchSpan, type DeliveredMessage, type InboxCounts } from "./channel.ts"
import { RepairSchedule, type RepairTiming } from "./gaps.ts"
import { batchKey, rangesProblem, RepairAnswers, type AnswerLimits } from "./repair.ts"
import { BatchWindow, type WindowLimits } from "./window.ts"
import { createDefinition, definitionProblems, participantOf } from "./config.ts"
import { agreementsOf, decisionsOf, sha256Hex, signAgreement, signAgreementText, signDecisionVote, signProposal, verifyAgreementText, type AgreementView, type DecisionView } from "./decisions.ts"
import { qualityOf, type QualityView } from "./quality.ts"
import { contentExpired, contentExpiresAt } from "./retention.ts"
import { byCodeUnit, openSigned, parseJson, SESSION_PURPOSE, textOf } from "./signed.ts"
import { sessionState, type ParticipantState, type RefusedEntry, type SessionState, type SessionStatus } from "./state.ts"
import { holdsHeads } from "../replication/changeHashes.ts"

export const SESSION_KIND = "fedhub/session/v1"
export const TRANSCRIPT_KIND = "fedhub/session-transcript/v1"
export const SHARED_DOC_KIND = "fedhub/session-document/v1"

type IS = A.ImmutableString
type Entries = Record<string, IS>

export interface SessionDoc {
  kind: IS
  definition?: IS
  responses: Entries
  invites: Entries
  transitions: Entries
  proposals: Entries
  votes: Entries
  agreements: Entries
  signatures: Entries
  ratings: Entries
  documents: Entries
}

interface TranscriptDoc {
  kind: IS
  session: IS
  messages: Entries
}

interface SharedDoc {
  kind: IS
  session: IS
  title: IS
  text: string
  data: Record<string, unknown>
}

export interface SessionServiceOptions {
  repo: Repo
  identity: Identity
  policies: PolicyStore
  authorship: Authorship
  /** A node's trust level on this hub (undefined: not a known node). */
  trustOf: (nodeId: NodeId) => TrustLevel | undefined
  /** A node's reputation 0..1 (the federation layer's). */
  reputationOf?: (nodeId: NodeId) => number
  /** Participants must be at or above this trust level (default basic). */
  minTrust?: TrustLevel
  log?: { warn: (obj: object, msg: string) => void }
  findTimeoutMs?: number
  /**
   * Live channel repair (channel.ts, gaps.ts, repair.ts, window.ts): the window of signed
   * batches kept to answer repair requests, when a gap is asked for and given up on, how
   * requests are answered, and how long after its last batch a quiet sender announces its
   * latest seq (`announceMs`, default 100).
   */
  liveRepair?: { window?: Partial<WindowLimits>; timing?: Partial<RepairTiming>; answers?: Partial<AnswerLimits>; announceMs?: number; random?: () => number }
  /**
   * Batches of one session go out at most this often (ms; default 5): messages sent sooner
   * after a batch wait for the next one (a message after a quiet spell goes at the end of
   * its tick), so a fast sender signs, and every hub verifies, one batch per interval.
   */
  batchMs?: number
  /** How often expired content is purged (ms; default hourly, 0: never by itself). */
  purgeEveryMs?: number
  now?: () => number
}

/** A message as the API shows it. */
export type MessageView = DeliveredMessage

/** A shared document as listed in a session. */
export interface SharedDocSummary {
  documentId: string
  url: string
  title: string
  holder: string
  shared: boolean
  /** Whether this hub holds its content. */
  held: boolean
}

export interface SharedDocView extends SharedDocSummary {
  sessionId: string
  text: string
  data: unknown
  heads: string[]
  conflicts: number
}

export interface SessionSummary {
  url: string
  documentId: string
  name: string
  type: string
  initiator: string
  privacyLevel: string
  status: SessionStatus
  /** This hub's part: its role and status. */
  role: string
  myStatus: string
  participants: number
  joined: number
}

export interface SessionView extends SessionSummary {
  description: string
  reason: string
  configuration: SessionDefinition["configuration"]
  metadata: SessionDefinition["metadata"]
  participantList: ParticipantState[]
  startedAt: number | null
  endedAt: number | null
  transcript: string | null
  documents: SharedDocSummary[]
  decisions: DecisionView[]
  agreements: AgreementView[]
  metrics: { duration: number; messageCount: number; dataExchanged: number } & QualityView
  channel: InboxCounts
  contentExpiresAt: number | null
  contentPurged: boolean
  refused: RefusedEntry[]
  policy: { readers: string[]; writers: string[] }
}

const imm = (s: string): IS => new A.ImmutableString(s)
const envOf = (v: unknown): unknown => parseJson(textOf(v))
const entries = (m: Entries | undefined): Record<string, unknown> => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, envOf(v)]))
const kindOf = (doc: unknown): string | undefined => textOf((doc as { kind?: unknown } | undefined)?.kind)
const utf8 = (s: string): number => Buffer.byteLength(s, "utf8")
const RECENT = 10_000
/** A batch goes out when this many messages wait (else at the end of the tick). */
export const BATCH_MESSAGES = 256
/** … or when its texts reach this many UTF-8 bytes (one message alone always goes). */
export const BATCH_BYTES = 128 * 1024

/** A message waiting for its batch to be signed and sent. */
interface Outgoing {
  item: ChannelBatchItem
  bytes: number
  resolve: (m: MessageView) => void
  reject: (e: unknown) => void
}

/** Per session, what this hub keeps in memory: the channel's inbox, what it delivered, and what waits to go out. */
interface Live {
  inbox: ChannelInbox
  recent: MessageView[]
  seq: number
  transcriptSeen: Set<string>
  bytes: number
  outbox: Outgoing[]
  outboxBytes: number
  flushQueued: boolean
  /** When the last batch went out (performance.now()). */
  lastFlush: number
  /** When to ask for this session's gaps, and to give up on them. */
  schedule: RepairSchedule
  /** Which repair requests of peers this hub answers, and when. */
  answers: RepairAnswers
  /** The announcement of this hub's latest seq once it went quiet. */
  announceTimer?: NodeJS.Timeout
}

/** The monotonic clock of repair timing (independent of the `now` a test may control). */
const mono = (): number => performance.now()

/** Where an untrusted batch claims to sit (signer, epoch, seqs), without verifying it; undefined when it does not look like a batch. */
function peekSpan(value: unknown): BatchSpan | undefined {
  const v = value as { signer?: unknown; payload?: { epoch?: unknown; messages?: { seq?: unknown }[] } } | null
  const list = v?.payload?.messages
  if (typeof v?.signer !== "string" || typeof v.payload?.epoch !== "number" || !Array.isArray(list) || list.length === 0) return undefined
  const first = list[0]?.seq
  const last = list[list.length - 1]?.seq
  return typeof first === "number" && typeof last === "number" ? { sender: v.signer, epoch: v.payload.epoch, first, last } : undefined
}

export class SessionService {
  /** `updated`: a session changed here (locally or by sync); `message`: a channel message was delivered. */
  readonly events = new EventEmitter<{ updated: [sessionId: string]; message: [sessionId: string, message: MessageView]; dropped: [sessionId: string, counts: InboxCounts] }>()
  readonly #repo: Repo
  readonly #identity: Identity
  readonly #policies: PolicyStore
  readonly #authorship: Authorship
  readonly #trustOf: SessionServiceOptions["trustOf"]
  readonly #reputationOf: NonNullable<SessionServiceOptions["reputationOf"]>
  readonly #minTrust: TrustLevel
  readonly #log: NonNullable<SessionServiceOptions["log"]>
  readonly #findTimeoutMs: number
  readonly #window: BatchWindow
  readonly #repairOpts: NonNullable<SessionServiceOptions["liveRepair"]>
  readonly #announceMs: number
  /** Sessions with a gap being repaired or an answer pending. */
  readonly #repairing = new Set<string>()
  #repairTimer?: NodeJS.Timeout
  #repairAt = Infinity
  readonly #batchMs: number
  readonly #now: () => number
  /** This service's epoch: a sender's messages are ordered by (epoch, seq). */
  readonly #epoch: number
  readonly #kinds = new Map<string, string | null>()
  readonly #attached = new Set<string>()
  readonly #live = new Map<string, Live>()
  /** Per session, the state computed at `at` for the document at `heads` (only the active time grows after). */
  readonly #states = new Map<string, { heads: string; state: SessionState; def: SessionDefinition; at: number }>()
  /** Transcript and shared documents of sessions whose content expired and was purged here. */
  readonly #purged = new Set<string>()
  /** Per session, the run naming later participants in its content (one at a time). */
  readonly #widening = new Map<string, Promise<void>>()
  /** Refs already parsed (a send names its session each time; parsing checks a checksum). */
  readonly #refs = new Map<string, DocRef>()
  readonly #purgeTimer?: NodeJS.Timeout

  constructor(opts: SessionServiceOptions) {
    this.#repo = opts.repo
    this.#identity = opts.identity
    this.#policies = opts.policies
    this.#authorship = opts.authorship
    this.#trustOf = opts.trustOf
    this.#reputationOf = opts.reputationOf ?? (() => 0)
    this.#minTrust = opts.minTrust ?? "basic"
    this.#log = opts.log ?? { warn: () => {} }
    this.#findTimeoutMs = opts.findTimeoutMs ?? 5_000
    this.#repairOpts = opts.liveRepair ?? {}
    this.#window = new BatchWindow(this.#repairOpts.window)
    this.#announceMs = this.#repairOpts.announceMs ?? 100
    this.#batchMs = opts.batchMs ?? 5
    this.#now = opts.now ?? Date.now
    this.#epoch = this.#now()
    this.events.setMaxListeners(1_000)
    this.#repo.on("doc-metrics", m => {
      if (m.type === "receive-sync-message") setImmediate(() => this.#noticed(m.documentId))
    })
    // a peer that (re)connects to a session hears the latest seqs held here, so it asks for what it missed
    this.#repo.synchronizer.on("open-doc", ({ documentId }) => {
      const live = this.#live.get(documentId)
      const handle = this.#repo.handles[documentId as DocumentId] as DocHandle<SessionDoc> | undefined
      if (live && handle?.isReady()) this.#announce(handle, live, false)
    })
    const every = opts.purgeEveryMs ?? 3_600_000
    if (every > 0) {
      this.#purgeTimer = setInterval(() => void this.purgeExpired().catch(e => this.#log.warn({ err: (e as Error).message }, "purging expired session content failed")), every)
      this.#purgeTimer.unref()
    }
  }

  get #self(): NodeId {
    return this.#identity.nodeId
  }

  /** Follows every session document this hub holds (call once the hub reloaded its documents). */
  start(): void {
    for (const handle of Object.values(this.#repo.handles)) if (handle.isReady()) this.#noticed(handle.documentId)
  }

  /** Stops the timers. */
  close(): void {
    clearInterval(this.#purgeTimer)
    clearTimeout(this.#repairTimer)
    for (const l of this.#live.values()) clearTimeout(l.announceTimer)
  }

  // ---- create, list, show

  /**
   * Starts a session initiated by this hub; SESSION_INVALID lists every problem. The
   * document ids are drawn first, so the definition is checked once, before any document
   * exists, and each document is created with its whole content in one signed change.
   */
  async create(body: SessionCreateBody): Promise<SessionView> {
    const now = this.#now()
    const sessionIds = newDocumentId(this.#self)
    const transcriptIds = newDocumentId(this.#self)
    const drafted = createDefinition(body, { initiator: this.#self, sessionId: sessionIds.documentId, now, trustOf: this.#trustOf, minTrust: this.#minTrust, transcript: transcriptIds.documentId })
    const { transcript: _none, ...unrecorded } = drafted
    const def: SessionDefinition = drafted.configuration.recordingEnabled ? drafted : unrecorded
    const signed = signEnvelope(this.#identity, SESSION_PURPOSE.definition, def, now)
    const others = def.participants.slice(1).map(p => p.nodeId as NodeId)
    const readers = def.configuration.privacyLevel === "public" ? [PUBLIC] : others
    const transcript = def.transcript
    if (transcript) {
      // the transcript is content: readable by the participants only, also of a public session
      await createOwnedDocument<TranscriptDoc>(this.#ctx(), { kind: imm(TRANSCRIPT_KIND), session: imm(def.sessionId), messages: {} }, { writers: others, readers: others }, `transcript of ${def.sessionId}`, transcriptIds)
      this.#kinds.set(transcript, TRANSCRIPT_KIND)
    }
    const session = await createOwnedDocument<SessionDoc>(
      this.#ctx(),
      { kind: imm(SESSION_KIND), definition: imm(canonicalJson(signed)), responses: {}, invites: {}, transitions: {}, proposals: {}, votes: {}, agreements: {}, signatures: {}, ratings: {}, documents: {} },
      { writers: others, readers } as Partial<PolicyLists>,
      `create session (by ${this.#self})`,
      sessionIds,
    )
    this.#kinds.set(session.documentId, SESSION_KIND)
    // the state of what this hub just signed: no need to verify it again
    this.#states.set(session.documentId, { heads: A.getHeads(session.doc() as A.Doc<unknown>).join(","), def, state: sessionState(def, { responses: {}, transitions: {}, invites: {} }, now), at: now })
    await this.#repo.flush([session.documentId, ...(transcript ? [transcript as DocumentId] : [])])
    this.#attach(session)
    if (transcript) this.#followTranscript(session.documentId, transcript)
    this.events.emit("updated", session.documentId)
    return this.#view(session)
  }

  /** The sessions this hub holds and may read. */
  list(): { sessions: SessionSummary[] } {
    const sessions: SessionSummary[] = []
    for (const handle of this.#sessionHandles()) {
      const s = this.#summary(handle)
      if (s) sessions.push(s)
    }
    return { sessions: sessions.sort((a, b) => byCodeUnit(a.documentId, b.documentId)) }
  }

  /** Sessions this hub is invited to and has not answered (and that are still open). */
  invites(): { invites: SessionSummary[] } {
    return { invites: this.list().sessions.filter(s => s.myStatus === "invited" && s.role !== "initiator" && s.status !== "completed" && s.status !== "failed") }
  }

  /** One session: definition, participants and their status, state, decisions, agreements, metrics. */
  async show(ref: string): Promise<SessionView> {
    return this.#view(await this.#findSession(ref))
  }

  // ---- invitations

  /** This hub joins a session it was invited to (a signed response under its own key). */
  join(ref: string, opts: { reason?: string } = {}): Promise<SessionView> {
    return this.#respond(ref, "join", opts.reason)
  }

  /** This hub declines an invitation. */
  decline(ref: string, opts: { reason?: string } = {}): Promise<SessionView> {
    return this.#respond(ref, "decline", opts.reason)
  }

  async #respond(ref: string, response: "join" | "decline", reason?: string): Promise<SessionView> {
    const handle = await this.#findSession(ref)
    const { def, state } = this.#stateOf(handle)
    const me = state.participants.find(p => p.nodeId === this.#self)
    if (!me) throw new FedhubError("NOT_INVITED", "Node not invited to this session")
    if (me.role === "initiator") throw new FedhubError("INVALID_INPUT", "the initiator takes part by starting the session")
    if (state.status === "completed" || state.status === "failed") throw new FedhubError("SESSION_CLOSED", `the session is ${state.status}`)
    assertMayWrite(this.#policies.effective(handle.documentId), this.#self)
    const payload: SessionResponse = { sessionId: def.sessionId, nodeId: this.#self, response, ...(reason ? { reason } : {}) }
    const env = signEnvelope(this.#identity, SESSION_PURPOSE.response, payload, this.#now())
    this.#write(handle, d => void (d.responses[this.#self] = imm(canonicalJson(env))), `${response}`)
    await this.#repo.flush([handle.documentId])
    this.events.emit("updated", handle.documentId)
    return this.#view(handle)
  }

  /**
   * The initiator invites one more participant: an invitation it signs, and a new policy
   * version naming it. Only the initiator (the document's owner) can widen the list; in a
   * restricted session only with an approved decision.
   */
  async invite(ref: string, opts: { participant: unknown; decisionId?: string }): Promise<SessionView> {
    const handle = await this.#findSession(ref)
    const { def, state } = this.#stateOf(handle)
    if (def.initiator !== this.#self) throw new FedhubError("NOT_AN_ADMIN", "only the session's initiator widens its participant list")
    const p = participantOf(opts.participant)
    if (typeof p === "string") throw new FedhubError("SESSION_INVALID", p, { problems: [p] })
    const problems: string[] = []
    if (state.participants.some(x => x.nodeId === p.nodeId)) problems.push(`${p.nodeId} takes part already`)
    const level = this.#trustOf(p.nodeId as NodeId)
    if (level === undefined) problems.push(`${p.nodeId} is not a known node`)
    else if (!atLeast(level, this.#minTrust)) problems.push(`${p.nodeId} is ${level}, below the required trust level ${this.#minTrust}`)
    if (state.participants.length >= def.configuration.maxParticipants) problems.push(`the session has its maximum of ${def.configuration.maxParticipants} participants`)
    if (def.configuration.privacyLevel === "restricted") {
      const decision = this.#decisions(handle).find(x => x.proposalId === opts.decisionId)
      if (!decision || decision.status !== "approved") problems.push("a restricted session takes a new participant only with an approved decision (decisionId)")
    }
    if (problems.length > 0) throw new FedhubError("SESSION_INVALID", `${problems.length} problem(s): ${problems.join("; ")}`, { problems })
    const payload: SessionInvite = { sessionId: def.sessionId, participant: p, ...(opts.decisionId ? { decisionId: opts.decisionId } : {}) }
    const env = signEnvelope(this.#identity, SESSION_PURPOSE.invite, payload, this.#now())
    this.#write(handle, d => void (d.invites[p.nodeId] = imm(canonicalJson(env))), `invite ${p.nodeId}`)
    await this.#repo.flush([handle.documentId])
    const add: Partial<PolicyLists> = { writers: [p.nodeId as NodeId], ...(def.configuration.privacyLevel === "public" ? {} : { readers: [p.nodeId as NodeId] }) }
    const st = this.#policies.state(handle.documentId)
    if (st) await this.#policies.add(handle.documentId, [nextPolicy(this.#identity, st, { add, documentHeads: A.getHeads(handle.doc() as A.Doc<unknown>) })])
    this.#states.delete(handle.documentId)
    // the transcript and the shared documents this hub holds name it too (their other holders do the same on seeing the invitation)
    await this.#widenContent(handle)
    this.events.emit("updated", handle.documentId)
    return this.#view(handle)
  }

  /** Pause, resume, complete or fail: signed by the initiator or a moderator. */
  async transition(ref: string, action: SessionTransition["action"], opts: { reason?: string } = {}): Promise<SessionView> {
    const handle = await this.#findSession(ref)
    const { def, state } = this.#stateOf(handle)
    const me = state.participants.find(p => p.nodeId === this.#self)
    if (!me || !(me.role === "initiator" || me.permissions.includes("moderate"))) throw new FedhubError("FORBIDDEN", "only the initiator or a moderator changes a session's state")
    const allowed: Record<SessionTransition["action"], SessionStatus[]> = { pause: ["active"], resume: ["paused"], complete: ["active", "paused"], fail: ["pending", "active", "paused"] }
    if (!allowed[action].includes(state.status)) throw new FedhubError("SESSION_STATE", `cannot ${action} a ${state.status} session`)
    const env = signEnvelope(this.#identity, SESSION_PURPOSE.transition, { sessionId: def.sessionId, action, ...(opts.reason ? { reason: opts.reason } : {}) } satisfies SessionTransition, this.#now())
    this.#write(handle, d => void (d.transitions[`${env.time}:${this.#self}`] = imm(canonicalJson(env))), action)
    await this.#repo.flush([handle.documentId])
    this.events.emit("updated", handle.documentId)
    return this.#view(handle)
  }

  // ---- channel

  /**
   * Sends a message on the session's channel (live to every linked participant; in the
   * transcript when recorded). Messages sent within one tick go out as one batch signed
   * once (at most BATCH_MESSAGES or BATCH_BYTES), each keeping its own seq; the promise
   * resolves once its batch is signed, sent and, when recorded, stored.
   */
  async send(ref: string, opts: { text: string; channel?: string }): Promise<MessageView> {
    const handle = await this.#findSession(ref)
    const { state } = this.#stateOf(handle)
    this.#mustBe(state, "send")
    if (state.status !== "active") throw new FedhubError("SESSION_STATE", `the session is ${state.status}: messages go to active sessions`)
    const live = this.#liveOf(handle)
    const item: ChannelBatchItem = { channel: opts.channel ?? "main", seq: ++live.seq, text: opts.text }
    const bytes = utf8(opts.text)
    // a batch that this one would overflow goes first
    if (live.outbox.length > 0 && (live.outbox.length >= BATCH_MESSAGES || live.outboxBytes + bytes > BATCH_BYTES)) void this.#flushOutbox(handle)
    return new Promise<MessageView>((resolve, reject) => {
      live.outbox.push({ item, bytes, resolve, reject })
      live.outboxBytes += bytes
      if (!live.flushQueued) {
        live.flushQueued = true
        const wait = live.lastFlush + this.#batchMs - performance.now()
        if (wait <= 0) setImmediate(() => void this.#flushOutbox(handle))
        else setTimeout(() => void this.#flushOutbox(handle), wait)
      }
    })
  }

  /** Signs what waits in a session's outbox as one batch, broadcasts it, delivers it here and records it. */
  async #flushOutbox(handle: DocHandle<SessionDoc>): Promise<void> {
    const live = this.#liveOf(handle)
    const out = live.outbox.splice(0, live.outbox.length)
    live.outboxBytes = 0
    live.flushQueued = false
    if (out.length === 0) return
    live.lastFlush = performance.now()
    try {
      const { def } = this.#stateOf(handle)
      const payload: ChannelBatch = { sessionId: def.sessionId, epoch: this.#epoch, messages: out.map(o => o.item) }
      const env = signEnvelope(this.#identity, SESSION_PURPOSE.messages, payload, this.#now())
      // every receiver verifies it against its canonical form: the wire needs no canonical text
      const text = JSON.stringify(env)
      handle.broadcast({ fedhubSession: text })
      // kept to answer repair requests with exactly what was signed
      this.#window.add({ session: handle.documentId, sender: this.#self, epoch: payload.epoch, first: out[0]!.item.seq, last: out[out.length - 1]!.item.seq, text }, mono())
      this.#quietAnnounce(handle, live)
      // our own messages: delivered here as signed, without verifying what we just signed
      this.#deliver(handle.documentId, live.inbox.acceptOwn(env, this.#now()))
      if (def.configuration.recordingEnabled && def.transcript) {
        const t = this.#repo.handles[def.transcript as DocumentId] as DocHandle<TranscriptDoc> | undefined
        if (t?.isReady() && mayWrite(this.#policies.effective(t.documentId), this.#self)) {
          // one entry (and one signed change) per batch, keyed by its first message
          const key = `${this.#self}:${payload.epoch}:${out[0]!.item.seq}`
          live.transcriptSeen.add(key)
          this.#write(t, d => void (d.messages[key] = imm(canonicalJson(env))), `${out.length} message(s)`)
          await this.#repo.flush([t.documentId])
        }
      }
      for (const o of out) o.resolve({ id: `${this.#self}:${payload.epoch}:${o.item.seq}`, sessionId: def.sessionId, channel: o.item.channel, sender: this.#self, epoch: payload.epoch, seq: o.item.seq, text: o.item.text, time: env.time })
    } catch (e) {
      for (const o of out) o.reject(e)
    }
  }

  /** The messages this hub has of a session: the transcript when recorded, else those it saw live. */
  async messages(ref: string): Promise<{ messages: MessageView[]; counts: InboxCounts }> {
    const handle = await this.#findSession(ref)
    const live = this.#liveOf(handle)
    const recorded = this.#transcriptMessages(handle)
    const messages = recorded ?? live.recent
    return { messages: [...messages].sort((a, b) => a.time - b.time || byCodeUnit(a.sender, b.sender) || a.seq - b.seq), counts: { ...live.inbox.counts } }
  }

  // ---- shared documents

  /** A shared document created and held by this hub (shared with the participants unless allowContent is false). */
  async createDocument(ref: string, opts: { title: string; text?: string }): Promise<SharedDocView> {
    const handle = await this.#findSession(ref)
    const { def, state } = this.#stateOf(handle)
    this.#mustBe(state, "edit")
    if (state.status === "completed" || state.status === "failed") throw new FedhubError("SESSION_CLOSED", `the session is ${state.status}`)
    const shared = def.configuration.dataSharing.allowContent
    const others = state.participants.filter(p => p.nodeId !== this.#self && p.status !== "declined").map(p => p.nodeId as NodeId)
    const lists: Partial<PolicyLists> = shared ? { writers: others, readers: others } : {}
    const doc = await createOwnedDocument<SharedDoc>(this.#ctx(), { kind: imm(SHARED_DOC_KIND), session: imm(def.sessionId), title: imm(opts.title), text: opts.text ?? "", data: {} }, lists, `shared document of ${def.sessionId}`)
    this.#kinds.set(doc.documentId, SHARED_DOC_KIND)
    const entry: SharedDocumentEntry = { sessionId: def.sessionId, documentId: doc.documentId, title: opts.title, holder: this.#self, shared }
    const env = signEnvelope(this.#identity, SESSION_PURPOSE.document, entry, this.#now())
    this.#write(handle, d => void (d.documents[doc.documentId] = imm(canonicalJson(env))), "document")
    await this.#repo.flush([doc.documentId, handle.documentId])
    this.events.emit("updated", handle.documentId)
    return this.#docView(handle, doc)
  }

  /** A shared document of the session, as this hub holds it. */
  async document(ref: string, docRef: string): Promise<SharedDocView> {
    const handle = await this.#findSession(ref)
    return this.#docView(handle, await this.#findShared(handle, docRef))
  }

  /** Edits a shared document: `text` (a character diff), `splice`, or `set` a structured value. */
  async edit(ref: string, docRef: string, body: SessionEditBody): Promise<SharedDocView> {
    const handle = await this.#findSession(ref)
    const { state } = this.#stateOf(handle)
    this.#mustBe(state, "edit")
    if (state.status === "completed" || state.status === "failed") throw new FedhubError("SESSION_CLOSED", `the session is ${state.status}`)
    const doc = await this.#findShared(handle, docRef)
    assertMayWrite(this.#policies.effective(doc.documentId), this.#self)
    const given = [body.text, body.splice, body.set].filter(x => x !== undefined).length
    if (given !== 1) throw new FedhubError("INVALID_INPUT", "give exactly one of text, splice and set")
    const value = body.set ? fromPlain(body.set.value, { maxDepth: 32, atDepth: 2 }) : undefined
    if (body.heads && !body.splice) throw new FedhubError("INVALID_INPUT", "heads go with a splice")
    const current = doc.doc() as A.Doc<SharedDoc>
    if (body.heads && !holdsHeads(current, body.heads)) throw new FedhubError("INVALID_INPUT", "this hub does not hold the version those heads name (yet)")
    const base = body.heads ? A.view(current, body.heads) : current
    const len = base.text?.length ?? 0
    if (body.splice && body.splice.pos + (body.splice.del ?? 0) > len) throw new FedhubError("INVALID_INPUT", `splice ${body.splice.pos}+${body.splice.del ?? 0} is past the text's end (${len})`)
    // a splice computed on an older version moves over what was edited since
    const at = body.splice && body.heads ? rebaseSplice({ pos: body.splice.pos, del: body.splice.del ?? 0 }, A.diff(current, body.heads, A.getHeads(current))) : undefined
    this.#write(
      doc,
      d => {
        if (body.text !== undefined) A.updateText(d, ["text"], body.text)
        else if (body.splice) A.splice(d, ["text"], at?.pos ?? body.splice.pos, at?.del ?? body.splice.del ?? 0, body.splice.insert ?? "")
        else if (body.set) {
          d.data ??= {}
          d.data[body.set.key] = value
        }
      },
      "edit",
    )
    await this.#repo.flush([doc.documentId])
    this.events.emit("updated", handle.documentId)
    return this.#docView(handle, doc)
  }

  // ---- decisions, agreements, ratings

  /** A proposed decision, signed by this hub. */
  async propose(ref: string, opts: { title: string; description?: string }): Promise<DecisionView> {
    const handle = await this.#findSession(ref)
    const { def, state } = this.#stateOf(handle)
    this.#mustBe(state, "vote")
    const env = signProposal(this.#identity, { sessionId: def.sessionId, title: opts.title, ...(opts.description ? { description: opts.description } : {}) }, this.#now())
    const id = envelopeIdOf(env)
    this.#write(handle, d => void (d.proposals[id] = imm(canonicalJson(env))), "propose")
    await this.#repo.flush([handle.documentId])
    this.events.emit("updated", handle.documentId)
    return this.#decisions(handle).find(x => x.proposalId === id)!
  }

  /** This hub's signed vote on a proposal. */
  async vote(ref: string, proposalId: string, opts: { approve: boolean; reason?: string }): Promise<DecisionView> {
    const handle = await this.#findSession(ref)
    const { def, state } = this.#stateOf(handle)
    this.#mustBe(state, "vote")
    if (!this.#decisions(handle).some(x => x.proposalId === proposalId)) throw new FedhubError("NOT_FOUND", `no valid proposal ${proposalId} in ${handle.url}`)
    const env = signDecisionVote(this.#identity, { sessionId: def.sessionId, proposalId, approve: opts.approve, ...(opts.reason ? { reason: opts.reason } : {}) }, this.#now())
    this.#write(handle, d => void (d.votes[`${proposalId}:${this.#self}`] = imm(canonicalJson(env))), "vote")
    await this.#repo.flush([handle.documentId])
    this.events.emit("updated", handle.documentId)
    return this.#decisions(handle).find(x => x.proposalId === proposalId)!
  }

  /** Proposes an agreement text; this hub signs it as its proposer and as its first signer. */
  async agree(ref: string, opts: { title: string; text: string }): Promise<AgreementView> {
    const handle = await this.#findSession(ref)
    const { def, state } = this.#stateOf(handle)
    this.#mustBe(state, "sign")
    const env = signAgreement(this.#identity, { sessionId: def.sessionId, title: opts.title, text: opts.text }, this.#now())
    const id = envelopeIdOf(env)
    const sig = signAgreementText(this.#identity, def.sessionId, id, opts.text, this.#now())
    this.#write(
      handle,
      d => {
        d.agreements[id] = imm(canonicalJson(env))
        d.signatures[`${id}:${this.#self}`] = imm(canonicalJson(sig))
      },
      "agreement",
    )
    await this.#repo.flush([handle.documentId])
    this.events.emit("updated", handle.documentId)
    return this.#agreements(handle).find(a => a.agreementId === id)!
  }

  /** This hub signs the exact text of an agreement. */
  async sign(ref: string, agreementId: string): Promise<AgreementView> {
    const handle = await this.#findSession(ref)
    const { def, state } = this.#stateOf(handle)
    this.#mustBe(state, "sign")
    const a = this.#agreements(handle).find(x => x.agreementId === agreementId)
    if (!a) throw new FedhubError("NOT_FOUND", `no valid agreement ${agreementId} in ${handle.url}`)
    const sig = signAgreementText(this.#identity, def.sessionId, agreementId, a.text, this.#now())
    this.#write(handle, d => void (d.signatures[`${agreementId}:${this.#self}`] = imm(canonicalJson(sig))), "sign")
    await this.#repo.flush([handle.documentId])
    this.events.emit("updated", handle.documentId)
    return this.#agreements(handle).find(x => x.agreementId === agreementId)!
  }

  /** Every agreement of a session with who signed what and whether it verifies. */
  async agreements(ref: string): Promise<{ agreements: AgreementView[] }> {
    return { agreements: this.#agreements(await this.#findSession(ref)) }
  }

  /**
   * Checks every signature of an agreement against `text` (default: the text the session
   * holds): who signed exactly this text. One changed character and none verifies.
   */
  async verify(ref: string, agreementId: string, opts: { text?: string } = {}): Promise<{ agreementId: string; textHash: string; matchesSession: boolean; signatures: { signer: string; verified: boolean; reason?: string }[] }> {
    const handle = await this.#findSession(ref)
    const held = this.#agreements(handle).find(a => a.agreementId === agreementId)
    if (!held && opts.text === undefined) throw new FedhubError("NOT_FOUND", `no valid agreement ${agreementId} in ${handle.url}`)
    const text = opts.text ?? held!.text
    const sigs = Object.entries(entries(handle.doc().signatures)).filter(([k]) => k.startsWith(`${agreementId}:`)).map(([, v]) => v)
    return { agreementId, textHash: sha256Hex(text), matchesSession: held?.text === text, signatures: verifyAgreementText(handle.documentId, agreementId, text, sigs).sort((a, b) => byCodeUnit(a.signer, b.signer)) }
  }

  /** This hub's signed rating of the session. */
  async rate(ref: string, opts: { satisfaction: number; outputQuality: number; comment?: string }): Promise<SessionView> {
    const handle = await this.#findSession(ref)
    const { def, state } = this.#stateOf(handle)
    if (!state.participants.some(p => p.nodeId === this.#self && p.status === "joined")) throw new FedhubError("NOT_A_PARTICIPANT", "only a joined participant rates a session")
    const payload: SessionRating = { sessionId: def.sessionId, satisfaction: opts.satisfaction, outputQuality: opts.outputQuality, ...(opts.comment ? { comment: opts.comment } : {}) }
    const env = signEnvelope(this.#identity, SESSION_PURPOSE.rating, payload, this.#now())
    this.#write(handle, d => void (d.ratings[this.#self] = imm(canonicalJson(env))), "rate")
    await this.#repo.flush([handle.documentId])
    this.events.emit("updated", handle.documentId)
    return this.#view(handle)
  }

  // ---- retention

  /**
   * Purges, from this hub's storage, the content (transcript, shared documents) of every
   * session whose retention expired at `now`; the session document keeps the metadata.
   */
  async purgeExpired(now = this.#now()): Promise<{ purged: string[] }> {
    const purged: string[] = []
    for (const handle of this.#sessionHandles()) {
      const got = this.#tryState(handle, now)
      if (!got || !contentExpired(got.def, got.state, now)) continue
      for (const id of this.#contentIds(handle, got.def)) {
        this.#purged.add(id)
        if (await this.#drop(id)) purged.push(id)
      }
      // what this hub kept in memory of the channel goes too; the counts stay
      const live = this.#live.get(handle.documentId)
      if (live) live.recent.length = 0
    }
    return { purged }
  }

  async #drop(id: string): Promise<boolean> {
    const held = this.#repo.handles[id as DocumentId]
    if (!held) return false
    forgetStored(this.#repo, id)
    try {
      this.#repo.delete(id as DocumentId)
    } catch (e) {
      this.#log.warn({ documentId: id, err: (e as Error).message }, "could not drop a purged document")
    }
    // the Repo removes the stored chunks too, without waiting; this waits for their removal
    // (two removals of one folder may race: the later one retries once the earlier is done)
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#repo.storageSubsystem?.removeDoc(id as DocumentId)
        return true
      } catch (e) {
        if (attempt >= 20) throw e
        await new Promise(resolve => setImmediate(resolve))
      }
    }
  }

  /**
   * Later invitations reach the content: every participant that has not declined becomes a
   * reader and writer of the transcript and of the shared documents whose policy this hub
   * administers (the initiator for the transcript, each holder for its documents), unless
   * `allowContent` is false. Runs after each change of a session, one run at a time per session.
   */
  #widenContent(handle: DocHandle<SessionDoc>): Promise<void> {
    const id = handle.documentId
    const run = (this.#widening.get(id) ?? Promise.resolve()).then(() => this.#widenNow(handle)).catch((e: unknown) => this.#log.warn({ documentId: id, err: (e as Error).message }, "naming later participants in the session's content failed"))
    this.#widening.set(id, run)
    void run.then(() => {
      if (this.#widening.get(id) === run) this.#widening.delete(id)
    })
    return run
  }

  async #widenNow(handle: DocHandle<SessionDoc>): Promise<void> {
    const got = this.#tryState(handle)
    if (!got) return
    const { def, state } = got
    const want = state.participants.filter(p => p.status !== "declined").map(p => p.nodeId as NodeId)
    const ids = [...(def.transcript ? [def.transcript] : []), ...this.#documents(handle).filter(d => d.shared && d.holder === this.#self).map(d => d.documentId)]
    for (const id of ids) {
      if (this.#purged.has(id)) continue
      const st = this.#policies.state(id)
      const eff = st?.effective
      if (!st || !eff || !mayAdminister(eff, this.#self)) continue
      const others = want.filter(n => n !== eff.owner)
      const add: Partial<PolicyLists> = { readers: others.filter(n => !eff.readers.includes(n)), writers: others.filter(n => !eff.writers.includes(n)) }
      if (add.readers!.length === 0 && add.writers!.length === 0) continue
      const h = this.#repo.handles[id as DocumentId]
      const documentHeads = h?.isReady() ? A.getHeads(h.doc() as A.Doc<unknown>) : undefined
      await this.#policies.add(id, [nextPolicy(this.#identity, st, { add, ...(documentHeads ? { documentHeads } : {}) })])
    }
  }

  #contentIds(handle: DocHandle<SessionDoc>, def: SessionDefinition): string[] {
    return [...(def.transcript ? [def.transcript] : []), ...Object.keys(handle.doc().documents ?? {})]
  }

  // ---- noticing synced documents

  #noticed(documentId: string): void {
    const known = this.#kinds.get(documentId)
    if (known === null) return
    const handle = this.#repo.handles[documentId as DocumentId]
    if (!handle) return
    if (!handle.isReady()) {
      void handle.whenReady().then(() => this.#noticed(documentId), () => {})
      return
    }
    const kind = known ?? kindOf(handle.doc()) ?? null
    const ours = kind === SESSION_KIND || kind === TRANSCRIPT_KIND || kind === SHARED_DOC_KIND
    this.#kinds.set(documentId, ours ? kind : null)
    if (!ours) return
    if (this.#purged.has(documentId)) return void this.#drop(documentId)
    if (kind === SESSION_KIND) {
      this.#attach(handle as DocHandle<SessionDoc>)
      this.events.emit("updated", documentId)
      const got = this.#tryState(handle as DocHandle<SessionDoc>)
      if (got?.def.transcript) this.#followTranscript(documentId, got.def.transcript)
      if (Object.keys((handle.doc() as SessionDoc).invites ?? {}).length > 0) void this.#widenContent(handle as DocHandle<SessionDoc>)
      // content of an expired session that arrives again is dropped again
      if (got && contentExpired(got.def, got.state, this.#now())) void this.purgeExpired()
    } else if (kind === TRANSCRIPT_KIND) {
      const session = textOf((handle.doc() as TranscriptDoc).session)
      if (session) this.#followTranscript(session, documentId)
    } else {
      const session = textOf((handle.doc() as SharedDoc).session)
      if (session) this.events.emit("updated", session)
    }
  }

  /** Listens to a session document's ephemeral messages and changes (once per handle). */
  #attach(handle: DocHandle<SessionDoc>): void {
    if (this.#attached.has(handle.documentId)) return
    this.#attached.add(handle.documentId)
    handle.on("ephemeral-message", e => {
      try {
        const m = e.message as { fedhubSession?: unknown; fedhubSessionNack?: unknown; fedhubSessionLatest?: unknown; fedhubSessionRepair?: unknown } | undefined
        if (!m || typeof m !== "object") return
        const live = this.#liveOf(handle)
        const { dropped, repairRefused } = live.inbox.counts
        const from = String(e.senderId)
        if (typeof m.fedhubSession === "string") this.#takeBatch(handle, live, m.fedhubSession, false)
        else if (m.fedhubSessionNack !== undefined) this.#onRequest(handle, live, from, m.fedhubSessionNack)
        else if (m.fedhubSessionRepair !== undefined) this.#onAnswer(handle, live, from, m.fedhubSessionRepair)
        else if (m.fedhubSessionLatest !== undefined) this.#onLatest(handle, live, from, m.fedhubSessionLatest)
        if (live.inbox.counts.dropped !== dropped || live.inbox.counts.repairRefused !== repairRefused) this.events.emit("dropped", handle.documentId, { ...live.inbox.counts })
      } catch (err) {
        this.#log.warn({ documentId: handle.documentId, err: (err as Error).message }, "a channel message could not be read")
      }
    })
    handle.on("change", () => {
      this.#states.delete(handle.documentId)
      this.events.emit("updated", handle.documentId)
      if (handle.doc()?.invites && Object.keys(handle.doc().invites).length > 0) void this.#widenContent(handle)
    })
  }

  #followTranscript(sessionId: string, transcriptId: string): void {
    const key = `t:${transcriptId}`
    if (this.#attached.has(key) || this.#purged.has(transcriptId)) return
    const t = this.#repo.handles[transcriptId as DocumentId] as DocHandle<TranscriptDoc> | undefined
    const session = this.#repo.handles[sessionId as DocumentId] as DocHandle<SessionDoc> | undefined
    if (!t?.isReady() || !session?.isReady()) return
    this.#attached.add(key)
    const read = () => {
      const live = this.#liveOf(session)
      const out: DeliveredMessage[] = []
      const senders = new Set<string>()
      for (const [k, v] of Object.entries(t.doc()?.messages ?? {})) {
        if (live.transcriptSeen.has(k)) continue
        live.transcriptSeen.add(k)
        const got = live.inbox.acceptBatch(envOf(v), this.#now(), { recorded: true })
        out.push(...got.messages)
        if (got.batch) senders.add(got.batch.sender)
      }
      this.#deliver(sessionId, out)
      for (const sender of senders) this.#watch(sessionId, live, sender)
    }
    t.on("change", read)
    read()
  }

  #deliver(sessionId: string, list: DeliveredMessage[]): DeliveredMessage[] {
    if (list.length === 0) return list
    const live = this.#live.get(sessionId)
    for (const m of list) {
      if (live) {
        live.recent.push(m)
        live.bytes += utf8(m.text)
      }
      this.events.emit("message", sessionId, m)
    }
    if (live && live.recent.length > RECENT) live.recent.splice(0, live.recent.length - RECENT)
    return list
  }

  #liveOf(handle: DocHandle<SessionDoc>): Live {
    let live = this.#live.get(handle.documentId)
    if (!live) {
      live = {
        inbox: new ChannelInbox(handle.documentId, node => this.#maySend(handle, node)),
        recent: [],
        seq: 0,
        transcriptSeen: new Set(),
        bytes: 0,
        outbox: [],
        outboxBytes: 0,
        flushQueued: false,
        lastFlush: -Infinity,
        schedule: new RepairSchedule(this.#repairOpts.timing, this.#repairOpts.random),
        answers: new RepairAnswers(this.#repairOpts.answers, this.#repairOpts.random),
      }
      this.#live.set(handle.documentId, live)
    }
    return live
  }

  // ---- live repair (gap repair of the ephemeral channel: a receiver asks, any holder answers)

  /** A batch from the wire: delivered in order, kept in the window (it verified), its sender's gaps watched. */
  #takeBatch(handle: DocHandle<SessionDoc>, live: Live, text: string, repair: boolean): void {
    const id = handle.documentId
    const got = live.inbox.acceptBatch(parseJson(text), this.#now(), { repair })
    if (!got.batch) return
    this.#window.add({ session: id, ...got.batch, text }, mono())
    if (repair) live.answers.heard(batchKey(id, got.batch.sender, got.batch.epoch, got.batch.first), mono())
    this.#deliver(id, got.messages)
    this.#watch(id, live, got.batch.sender, repair)
  }

  /** Tells the repair schedule where `sender`'s first gap is now (nothing to do in the common case: no gap, none repaired). */
  #watch(sessionId: string, live: Live, sender: string, repaired = false): void {
    const miss = live.inbox.firstMissing(sender)
    if (miss === undefined && !live.schedule.active) return
    live.schedule.observe(sender, miss?.epoch ?? 0, miss?.next, mono(), repaired)
    if (live.schedule.active) this.#repairing.add(sessionId)
    this.#armRepair()
  }

  /** A participant hub misses seqs of a sender: the batches held here are answered (bounded, rate-limited, suppressed when another hub answers first). */
  #onRequest(handle: DocHandle<SessionDoc>, live: Live, from: string, raw: unknown): void {
    const id = handle.documentId
    if (from === this.#self) return
    const now = mono()
    const max = live.answers.limits.maxRange
    if (!isValid("session#ChannelRepairRequest", raw) || raw.sessionId !== id || !this.#takesPart(handle, from) || rangesProblem(raw.ranges, max) !== undefined || !live.answers.admit(from, now)) {
      live.inbox.counts.repairRefused++
      return
    }
    const ranges = raw.ranges as [number, number][]
    live.inbox.counts.repairServed++
    // another hub asks for what this one misses too: its answer serves both
    if (raw.sender !== this.#self) live.schedule.heard(raw.sender, raw.epoch, ranges[0]![0], ranges[ranges.length - 1]![1], now)
    const held = this.#window.find(id, raw.sender, raw.epoch, ranges, now)
    if (held.length > 0 && live.answers.plan(held.map(b => ({ key: batchKey(id, b.sender, b.epoch, b.first), text: b.text })), raw.sender === this.#self, now) > 0) this.#repairing.add(id)
    this.#armRepair()
  }

  /**
   * Batches sent again by a participant hub: each is taken like any batch (verified, FIFO,
   * once); a copy of what is here already is not verified again, and it suppresses this
   * hub's own answer when it is the very text held.
   */
  #onAnswer(handle: DocHandle<SessionDoc>, live: Live, from: string, list: unknown): void {
    if (!Array.isArray(list) || list.length === 0 || list.length > 2_000 || !this.#takesPart(handle, from)) {
      live.inbox.counts.repairRefused++
      return
    }
    const id = handle.documentId
    for (const text of list) {
      if (typeof text !== "string") {
        live.inbox.counts.dropped++
        continue
      }
      const span = peekSpan(parseJson(text))
      if (span && live.inbox.holds(span)) {
        if (this.#window.text(id, span.sender, span.epoch, span.first) === text) live.answers.heard(batchKey(id, span.sender, span.epoch, span.first), mono())
        continue
      }
      this.#takeBatch(handle, live, text, true)
    }
  }

  /** A participant hub announces the latest seqs it holds: what is missing here up to them is asked for. */
  #onLatest(handle: DocHandle<SessionDoc>, live: Live, from: string, raw: unknown): void {
    if (from === this.#self) return
    if (!isValid("session#ChannelLatest", raw) || raw.sessionId !== handle.documentId || !this.#takesPart(handle, from)) {
      live.inbox.counts.repairRefused++
      return
    }
    for (const e of raw.senders) {
      if (e.sender === this.#self || !this.#maySend(handle, e.sender)) continue
      this.#deliver(handle.documentId, live.inbox.announce(e.sender, e.epoch, e.seq))
      this.#watch(handle.documentId, live, e.sender)
    }
  }

  /** Once this hub's sender is quiet for announceMs after a batch, it announces its latest seq (a lost last batch is then asked for). */
  #quietAnnounce(handle: DocHandle<SessionDoc>, live: Live): void {
    if (live.announceTimer || this.#announceMs <= 0) return
    const arm = (ms: number): void => {
      live.announceTimer = setTimeout(() => {
        live.announceTimer = undefined
        const idle = performance.now() - live.lastFlush
        if (idle < this.#announceMs) return arm(this.#announceMs - idle)
        this.#announce(handle, live, true)
      }, ms)
      live.announceTimer.unref()
    }
    arm(this.#announceMs)
  }

  /** Broadcasts the latest seq of each sender held here (`own`: this hub's only). */
  #announce(handle: DocHandle<SessionDoc>, live: Live, own: boolean): void {
    const senders = live.inbox.latest().filter(x => !own || x.sender === this.#self).slice(0, 64)
    if (senders.length > 0) handle.broadcast({ fedhubSessionLatest: { sessionId: handle.documentId, senders } })
  }

  /** The one timer of every session's repair: set for the earliest request, give-up or answer due. */
  #armRepair(): void {
    let at = Infinity
    for (const id of this.#repairing) {
      const l = this.#live.get(id)
      const t = Math.min(l?.schedule.nextAt() ?? Infinity, l?.answers.nextAt() ?? Infinity)
      if (t === Infinity) this.#repairing.delete(id)
      else at = Math.min(at, t)
    }
    if (at === Infinity) return
    if (this.#repairTimer && this.#repairAt <= at) return
    clearTimeout(this.#repairTimer)
    this.#repairAt = at
    this.#repairTimer = setTimeout(() => {
      this.#repairTimer = undefined
      this.#repairAt = Infinity
      try {
        this.#runRepair()
      } catch (e) {
        this.#log.warn({ err: (e as Error).message }, "channel repair failed")
      }
      this.#armRepair()
    }, Math.max(0, at - mono()))
    this.#repairTimer.unref()
  }

  /** Sends the requests and answers due, and gives up on gaps whose requests all timed out. */
  #runRepair(): void {
    const now = mono()
    for (const id of [...this.#repairing]) {
      const live = this.#live.get(id)
      const handle = this.#repo.handles[id as DocumentId] as DocHandle<SessionDoc> | undefined
      if (!live || !handle?.isReady()) {
        this.#repairing.delete(id)
        continue
      }
      for (const a of live.schedule.due(now)) {
        if (a.kind === "give-up") this.#deliver(id, live.inbox.giveUp(a.sender))
        else {
          const miss = live.inbox.missing(a.sender, live.answers.limits.maxRange)
          if (miss) {
            handle.broadcast({ fedhubSessionNack: { sessionId: id, sender: a.sender, epoch: miss.epoch, ranges: miss.ranges } })
            live.inbox.counts.repairRequests++
          }
        }
        this.#watch(id, live, a.sender)
      }
      for (const frame of live.answers.due(now)) {
        handle.broadcast({ fedhubSessionRepair: frame })
        live.inbox.counts.repairAnswers += frame.length
      }
    }
  }

  /** Whether `node` is a joined participant allowed to send (its batches count). */
  #maySend(handle: DocHandle<SessionDoc>, node: string): boolean {
    const got = this.#tryState(handle)
    return got !== undefined && got.state.participants.some(p => p.nodeId === node && p.status === "joined" && p.permissions.includes("send"))
  }

  /** Whether `node` takes part in the session (invited or joined, not declined): it may ask for and answer repairs. */
  #takesPart(handle: DocHandle<SessionDoc>, node: string): boolean {
    const got = this.#tryState(handle)
    return got !== undefined && got.state.participants.some(p => p.nodeId === node && p.status !== "declined")
  }

  // ---- views

  #sessionHandles(): DocHandle<SessionDoc>[] {
    const out: DocHandle<SessionDoc>[] = []
    for (const handle of Object.values(this.#repo.handles)) {
      if (!handle.isReady()) continue
      const id = handle.documentId
      if (this.#policies.has(id) && !mayRead(this.#policies.effective(id), this.#self)) continue
      if (kindOf(handle.doc()) === SESSION_KIND) out.push(handle as DocHandle<SessionDoc>)
    }
    return out
  }

  /** The definition (checked: signed by the document's owner, for this document) and the state. */
  #tryState(handle: DocHandle<SessionDoc>, now = this.#now()): { def: SessionDefinition; state: SessionState } | undefined {
    try {
      return this.#stateOf(handle, now)
    } catch {
      return undefined
    }
  }

  #stateOf(handle: DocHandle<SessionDoc>, now = this.#now()): { def: SessionDefinition; state: SessionState } {
    const doc = handle.doc()
    const cached = this.#states.get(handle.documentId)
    // a followed session's cache is dropped on each of its changes: no heads to compare (a send's hot path)
    const fresh = cached !== undefined && now >= cached.at && this.#attached.has(handle.documentId)
    const heads = fresh ? cached.heads : A.getHeads(doc as A.Doc<unknown>).join(",")
    if (cached && cached.heads === heads && now >= cached.at) {
      const { def, state, at } = cached
      return { def, state: state.status === "active" ? { ...state, durationMs: state.durationMs + (now - at) } : state }
    }
    const def = this.#definitionOf(handle)
    const state = sessionState(def, { responses: entries(doc.responses), transitions: entries(doc.transitions), invites: entries(doc.invites) }, now)
    this.#states.set(handle.documentId, { heads, state, def, at: now })
    return { def, state }
  }

  #definitionOf(handle: DocHandle<SessionDoc>): SessionDefinition {
    const o = openSigned(envOf(handle.doc().definition), SESSION_PURPOSE.definition, "session")
    if (!o.ok) throw new FedhubError("SESSION_INVALID", `the session's definition does not verify: ${o.reason}`)
    const owner = this.#policies.effective(handle.documentId)?.owner
    if (o.env.signer !== owner || o.env.payload.initiator !== owner) throw new FedhubError("SESSION_INVALID", `the definition is signed by ${o.env.signer}, the document is owned by ${owner ?? "nobody"}`)
    if (o.env.payload.sessionId !== handle.documentId) throw new FedhubError("SESSION_INVALID", `the definition is for ${o.env.payload.sessionId}`)
    const problems = definitionProblems(o.env.payload)
    if (problems.length > 0) throw new FedhubError("SESSION_INVALID", problems.join("; "), { problems })
    return o.env.payload
  }

  #decisions(handle: DocHandle<SessionDoc>, refused: RefusedEntry[] = []): DecisionView[] {
    const { def, state } = this.#stateOf(handle)
    const doc = handle.doc()
    return decisionsOf(def.sessionId, state.participants, def.configuration.consensusRequired, entries(doc.proposals), entries(doc.votes), refused)
  }

  #agreements(handle: DocHandle<SessionDoc>, refused: RefusedEntry[] = []): AgreementView[] {
    const { def, state } = this.#stateOf(handle)
    const doc = handle.doc()
    return agreementsOf(def.sessionId, state.participants, entries(doc.agreements), entries(doc.signatures), refused)
  }

  #documents(handle: DocHandle<SessionDoc>, refused: RefusedEntry[] = []): SharedDocSummary[] {
    const { state } = this.#stateOf(handle)
    const out: SharedDocSummary[] = []
    for (const [key, value] of Object.entries(entries(handle.doc().documents))) {
      const o = openSigned(value, SESSION_PURPOSE.document, "session#SharedDocumentEntry", "holder")
      if (!o.ok) refused.push({ key: `documents/${key}`, reason: o.reason })
      else if (o.env.payload.documentId !== key || o.env.payload.sessionId !== handle.documentId) refused.push({ key: `documents/${key}`, reason: "an entry of another document or session" })
      else if (!state.participants.some(p => p.nodeId === o.env.signer)) refused.push({ key: `documents/${key}`, reason: `${o.env.signer} is not a participant` })
      else {
        const h = this.#repo.handles[key as DocumentId]
        out.push({ documentId: key, url: `automerge:${key}`, title: o.env.payload.title, holder: o.env.payload.holder, shared: o.env.payload.shared, held: h?.isReady() === true && !this.#purged.has(key) })
      }
    }
    return out.sort((a, b) => byCodeUnit(a.title, b.title) || byCodeUnit(a.documentId, b.documentId))
  }

  #summary(handle: DocHandle<SessionDoc>): SessionSummary | undefined {
    const got = this.#tryState(handle)
    if (!got) return undefined
    const { def, state } = got
    const me = state.participants.find(p => p.nodeId === this.#self)
    return {
      url: handle.url,
      documentId: handle.documentId,
      name: def.name,
      type: def.type,
      initiator: def.initiator,
      privacyLevel: def.configuration.privacyLevel,
      status: state.status,
      role: me?.role ?? "outsider",
      myStatus: me?.status ?? "not invited",
      participants: state.participants.length,
      joined: state.participants.filter(p => p.status === "joined").length,
    }
  }

  #transcriptMessages(handle: DocHandle<SessionDoc>): MessageView[] | undefined {
    const got = this.#tryState(handle)
    const id = got?.def.configuration.recordingEnabled ? got.def.transcript : undefined
    if (!id || this.#purged.has(id)) return undefined
    const t = this.#repo.handles[id as DocumentId] as DocHandle<TranscriptDoc> | undefined
    if (!t?.isReady()) return undefined
    const participants = got!.state.participants
    const out: MessageView[] = []
    // each entry a batch (keyed sender:epoch:first seq); a message two entries hold counts once
    const seen = new Set<string>()
    for (const [key, value] of Object.entries(t.doc()?.messages ?? {})) {
      const o = openBatch(envOf(value))
      if (!o.ok || o.env.payload.sessionId !== handle.documentId) continue
      if (key !== `${o.env.signer}:${o.env.payload.epoch}:${o.env.payload.messages[0]!.seq}`) continue
      if (!participants.some(p => p.nodeId === o.env.signer && p.permissions.includes("send"))) continue
      for (const m of o.messages) {
        const k = `${m.sender}:${m.epoch}:${m.seq}`
        if (seen.has(k)) continue
        seen.add(k)
        out.push(m)
      }
    }
    return out
  }

  #view(handle: DocHandle<SessionDoc>): SessionView {
    const summary = this.#summary(handle)
    if (!summary) this.#definitionOf(handle) // throws with the reason
    const { def, state } = this.#stateOf(handle)
    const refused: RefusedEntry[] = [...state.refused]
    const decisions = this.#decisions(handle, refused)
    const agreements = this.#agreements(handle, refused)
    const documents = this.#documents(handle, refused)
    const live = this.#liveOf(handle)
    const recorded = this.#transcriptMessages(handle)
    const messages = recorded ?? live.recent
    let docConflicts = conflicts(handle.doc() as A.Doc<unknown>).length
    for (const d of documents) {
      const h = this.#repo.handles[d.documentId as DocumentId]
      if (h?.isReady() && d.held) docConflicts += conflicts(h.doc() as A.Doc<unknown>).length
    }
    const quality = qualityOf(def.sessionId, state.participants, entries(handle.doc().ratings), this.#reputationOf, docConflicts + decisions.filter(d => d.status === "rejected").length, refused)
    const policy = this.#policies.effective(handle.documentId)
    const expires = contentExpiresAt(def, state)
    return {
      ...summary!,
      description: def.description,
      reason: state.reason,
      configuration: def.configuration,
      metadata: def.metadata,
      participantList: state.participants,
      startedAt: state.startedAt,
      endedAt: state.endedAt,
      transcript: def.transcript ?? null,
      documents,
      decisions,
      agreements,
      metrics: { duration: state.durationMs, messageCount: messages.length, dataExchanged: messages.reduce((n, m) => n + utf8(m.text), 0), ...quality },
      channel: { ...live.inbox.counts },
      contentExpiresAt: expires,
      contentPurged: this.#contentIds(handle, def).some(id => this.#purged.has(id)),
      refused,
      policy: { readers: [...(policy?.readers ?? [])], writers: [...(policy?.writers ?? [])] },
    }
  }

  #docView(session: DocHandle<SessionDoc>, doc: DocHandle<SharedDoc>): SharedDocView {
    const d = doc.doc()
    const summary = this.#documents(session).find(x => x.documentId === doc.documentId)
    return {
      documentId: doc.documentId,
      url: doc.url,
      title: textOf(d.title) ?? "",
      holder: summary?.holder ?? this.#policies.effective(doc.documentId)?.owner ?? "?",
      shared: summary?.shared ?? false,
      held: true,
      sessionId: session.documentId,
      text: typeof d.text === "string" ? d.text : "",
      data: toPlain(d.data ?? {}),
      heads: A.getHeads(d as A.Doc<unknown>),
      conflicts: conflicts(d as A.Doc<unknown>).length,
    }
  }

  // ---- helpers

  #ctx() {
    return { repo: this.#repo, identity: this.#identity, policies: this.#policies, authorship: this.#authorship }
  }

  /** A change under this hub's bound actor, signed (rule 2). */
  #write<T>(handle: DocHandle<T>, fn: (d: T) => void, what: string): void {
    this.#authorship.adopt(handle)
    handle.change(fn as A.ChangeFn<T>, { message: `${what} (by ${this.#self})` })
    this.#authorship.signLatest(handle)
    this.#states.delete(handle.documentId)
  }

  #mustBe(state: SessionState, permission: "send" | "edit" | "vote" | "sign"): void {
    const me = state.participants.find(p => p.nodeId === this.#self)
    if (!me) throw new FedhubError("NOT_INVITED", "Node not invited to this session")
    if (me.status !== "joined") throw new FedhubError("NOT_A_PARTICIPANT", `this hub has ${me.status === "invited" ? "not joined" : "declined"} the session`)
    if (!me.permissions.includes(permission)) throw new FedhubError("FORBIDDEN", `this hub's role ${me.role} has no ${permission} permission`)
  }

  #parseRef(ref: string): DocRef {
    let got = this.#refs.get(ref)
    if (!got) {
      got = parseDocRef(ref)
      if (this.#refs.size >= 10_000) this.#refs.clear()
      this.#refs.set(ref, got)
    }
    return got
  }

  async #findSession(ref: string): Promise<DocHandle<SessionDoc>> {
    const { documentId, url } = this.#parseRef(ref)
    if (this.#policies.has(documentId)) assertMayRead(this.#policies.effective(documentId), this.#self)
    // a session this hub already follows: no lookup
    const held = this.#repo.handles[documentId as DocumentId] as DocHandle<SessionDoc> | undefined
    if (held?.isReady() && this.#attached.has(documentId) && this.#kinds.get(documentId) === SESSION_KIND) return held
    let handle: DocHandle<SessionDoc>
    try {
      handle = await this.#repo.find<SessionDoc>(documentId as DocumentId, { signal: AbortSignal.timeout(this.#findTimeoutMs) })
    } catch (e) {
      throw new FedhubError("DOC_NOT_FOUND", `session ${documentId} is not here and no peer has it (${(e as Error).message})`)
    }
    if (kindOf(handle.doc()) !== SESSION_KIND) throw new FedhubError("NOT_A_SESSION", `${url} is not a session document`)
    this.#kinds.set(documentId, SESSION_KIND)
    this.#attach(handle)
    return handle
  }

  async #findShared(session: DocHandle<SessionDoc>, docRef: string): Promise<DocHandle<SharedDoc>> {
    const { documentId } = parseDocRef(docRef)
    if (!Object.hasOwn(session.doc().documents ?? {}, documentId)) throw new FedhubError("NOT_FOUND", `${documentId} is not a document of session ${session.documentId}`)
    if (this.#purged.has(documentId)) throw new FedhubError("DOC_NOT_FOUND", `${documentId} was purged: the session's retention expired`)
    if (this.#policies.has(documentId)) assertMayRead(this.#policies.effective(documentId), this.#self)
    let handle: DocHandle<SharedDoc>
    try {
      handle = await this.#repo.find<SharedDoc>(documentId as DocumentId, { signal: AbortSignal.timeout(this.#findTimeoutMs) })
    } catch (e) {
      throw new FedhubError("DOC_NOT_FOUND", `shared document ${documentId} is not here and no peer shares it (${(e as Error).message})`)
    }
    if (kindOf(handle.doc()) !== SHARED_DOC_KIND) throw new FedhubError("NOT_FOUND", `${documentId} is not a shared document`)
    return handle
  }
}

const envelopeIdOf = (env: SignedEnvelope): string => envelopeId(env)
