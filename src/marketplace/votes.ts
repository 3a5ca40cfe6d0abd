/**
 * Join with approval: a node signs a join request, participants sign votes kept
 * under votes[voter], and `decideJoin` computes the outcome as a pure function of
 * those signed records, so every replica computes the same result whatever order
 * or number of copies it holds.
 *
 * - One counted vote per voter: the latest by signed time (ties: the greater envelope id).
 * - Refused, each with its reason: votes that do not verify, for another request or
 *   marketplace, by non-participants, signed after the deadline, or (when votes
 *   weigh by stake) by a participant below minimumStake; under centralized, any
 *   vote but the creator's.
 * - The deadline is the request's signed time + voteDeadlineHours.
 * - With no eligible voter (nobody holds minimumStake yet) the request waits until the
 *   deadline, then is refused.
 * - Thresholds over all eligible voters (not only those who voted): distributed
 *   and proof_of_stake need more than half (a tie refuses), consortium two thirds
 *   or more. The outcome is final as soon as it can no longer change; when the
 *   deadline passes undecided, the request is refused.
 * - A stake is the participant's credit balance in this marketplace's ledger
 *   (`ledgerOf(...).balances`); the caller passes it in.
 */
import { envelopeId, type Identity, type NodeId, signEnvelope, type SignedEnvelope } from "../identity/index.ts"
import type { JoinRequest, JoinVote, MarketplaceConfig } from "../schema/index.ts"
import { byCodeUnit, MARKET_PURPOSE, openEach, openSigned } from "./signed.ts"

/** Id of a join request: its envelope id. */
export type JoinRequestId = string & { __joinRequestId: true }
/** Where a join request stands. */
export type JoinStatus = "approved" | "refused" | "pending"

/** A vote that counts. */
export interface CountedVote {
  voter: NodeId
  approve: boolean
  time: number
  weight: number
  id: string
}
/** A vote that does not count, and why. */
export interface RefusedVote {
  id: string
  voter?: string
  reason: string
}
/** The seed's JoinResult, plus where the vote stands. */
export interface JoinResult {
  success: boolean
  status: JoinStatus
  reason: string
  requirements: string[]
  requestId: JoinRequestId | null
  requester: NodeId | null
  deadline: number | null
  tally: { yes: number; no: number; eligible: number; voters: number }
  counted: CountedVote[]
  refusedVotes: RefusedVote[]
}

const HOUR = 3_600_000

/** Signs a request by `identity` to join `marketplaceId`. */
export function signJoinRequest(identity: Identity, marketplaceId: string, message?: string, time?: number): SignedEnvelope<JoinRequest> {
  const payload: JoinRequest = { marketplaceId, nodeId: identity.nodeId, ...(message === undefined ? {} : { message }) }
  return signEnvelope(identity, MARKET_PURPOSE.joinRequest, payload, time)
}

/** The id votes name a request by. */
export const joinRequestIdOf = (request: SignedEnvelope<JoinRequest>): JoinRequestId => envelopeId(request) as JoinRequestId

/** Signs `voter`'s vote on `request`. */
export function signVote(
  voter: Identity,
  request: SignedEnvelope<JoinRequest>,
  approve: boolean,
  options: { reason?: string; time?: number } = {},
): SignedEnvelope<JoinVote> {
  const payload: JoinVote = {
    marketplaceId: request.payload.marketplaceId,
    requestId: joinRequestIdOf(request),
    approve,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
  }
  return signEnvelope(voter, MARKET_PURPOSE.vote, payload, options.time)
}

const empty = (reason: string, extra: Partial<JoinResult> = {}): JoinResult => ({
  success: false,
  status: "refused",
  reason,
  requirements: [],
  requestId: null,
  requester: null,
  deadline: null,
  tally: { yes: 0, no: 0, eligible: 0, voters: 0 },
  counted: [],
  refusedVotes: [],
  ...extra,
})

/**
 * Decides a join request from the signed votes (untrusted, any order, repeats
 * allowed) under `config`'s consensus mechanism at time `now`.
 */
export function decideJoin(
  config: MarketplaceConfig,
  participants: readonly NodeId[],
  stakes: Readonly<Record<string, number>>,
  request: unknown,
  votes: readonly unknown[],
  now: number,
): JoinResult {
  const req = openSigned(request, MARKET_PURPOSE.joinRequest, "marketplace#JoinRequest", "nodeId")
  if (!req.ok) return empty(`the join request does not verify: ${req.reason}`)
  const requestId = req.id as JoinRequestId
  const requester = req.env.signer
  const { type, parameters } = config.federation.consensusMechanism
  const deadline = req.env.time + parameters.voteDeadlineHours * HOUR
  const base = { requestId, requester, deadline }
  const members = new Set<string>(participants)
  if (members.has(requester)) return { ...empty("already a participant", base), success: true, status: "approved" }

  const byStake = type === "proof_of_stake" || parameters.votingPower === "stake_weighted"
  const weightOf = (node: string): number => {
    if (type === "centralized") return node === config.creator ? 1 : 0
    if (!byStake) return 1
    const s = stakes[node] ?? 0
    return Number.isSafeInteger(s) && s >= parameters.minimumStake && s > 0 ? s : 0
  }
  const eligible = [...members].filter((n) => weightOf(n) > 0)
  const total = eligible.reduce((sum, n) => sum + BigInt(weightOf(n)), 0n)

  const refusedVotes: RefusedVote[] = []
  const latest = new Map<string, { env: SignedEnvelope<JoinVote>; id: string }>()
  for (const v of openEach(votes, MARKET_PURPOSE.vote, "marketplace#JoinVote", (id, reason) => refusedVotes.push({ id, reason: `does not verify: ${reason}` }))) {
    const key = v.id
    const voter = v.env.signer
    const refuse = (reason: string): void => void refusedVotes.push({ id: key, voter, reason })
    if (v.env.payload.requestId !== requestId) refuse("a vote on another request")
    else if (v.env.payload.marketplaceId !== req.env.payload.marketplaceId) refuse("a vote in another marketplace")
    else if (!members.has(voter)) refuse("the voter is not a participant")
    else if (v.env.time > deadline) refuse(`cast after the deadline (${new Date(deadline).toISOString()})`)
    else if (type === "centralized" && voter !== config.creator) refuse("under centralized consensus only the creator decides")
    else if (weightOf(voter) === 0)
      refuse(`the voter's stake (${stakes[voter] ?? 0}) is below minimumStake (${parameters.minimumStake})`)
    else {
      const held = latest.get(voter)
      if (!held || v.env.time > held.env.time || (v.env.time === held.env.time && v.id > held.id))
        latest.set(voter, { env: v.env, id: v.id })
    }
  }
  refusedVotes.sort((a, b) => byCodeUnit(a.id, b.id))
  const counted: CountedVote[] = [...latest.entries()]
    .map(([voter, { env, id }]) => ({ voter: voter as NodeId, approve: env.payload.approve, time: env.time, weight: weightOf(voter), id }))
    .sort((a, b) => byCodeUnit(a.voter, b.voter))
  let yes = 0n
  let no = 0n
  for (const c of counted) {
    if (c.approve) yes += BigInt(c.weight)
    else no += BigInt(c.weight)
  }
  const tally = { yes: Number(yes), no: Number(no), eligible: Number(total), voters: eligible.length }
  const unit = byStake && type !== "centralized" ? "stake" : "votes"
  const rule =
    type === "centralized"
      ? `approval by the creator ${config.creator}`
      : type === "consortium"
        ? `approval by at least two thirds of the eligible ${unit} (${total})`
        : `approval by more than half of the eligible ${unit} (${total})`
  const requirements = [rule, `before ${new Date(deadline).toISOString()}`]
  if (byStake && type !== "centralized") requirements.push(`voters hold at least ${parameters.minimumStake} credits of stake`)
  const result = { ...base, tally, counted, refusedVotes }
  // nobody holds the minimum stake yet: the owner may still grant some, so the vote stays open until its deadline
  if (total === 0n)
    return now > deadline
      ? { ...result, success: false, status: "refused", reason: "the vote closed: no participant was eligible to vote", requirements }
      : { ...result, success: false, status: "pending", reason: "no participant is eligible to vote yet (none holds the minimum stake)", requirements }
  const passes = (w: bigint): boolean => (type === "consortium" ? w * 3n >= total * 2n : w * 2n > total)
  if (passes(yes)) return { ...result, success: true, status: "approved", reason: `approved: ${rule}`, requirements: [] }
  if (!passes(total - no))
    return { ...result, success: false, status: "refused", reason: "refused: approval can no longer be reached", requirements }
  if (now > deadline)
    return { ...result, success: false, status: "refused", reason: "the vote closed without approval", requirements }
  return { ...result, success: false, status: "pending", reason: "waiting for votes", requirements }
}
