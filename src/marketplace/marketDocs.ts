/**
 * The documents of a marketplace (their `kind`s and shapes) and the small codecs every
 * marketplace module uses to read them: each atomic value is an ImmutableString (rule 8)
 * and each signed record is stored as its canonical JSON.
 *
 * | document | owner | writers | readers |
 * |---|---|---|---|
 * | marketplace | its creator | the participants | everyone (public) or the participants |
 * | join request | the requester | the marketplace's owner | the marketplace's owner |
 * | catalog shard | one origin | that origin only | the marketplace's readers, or an item's `allowedNodes` |
 * | activity | one participant | that participant only | the marketplace's readers |
 */
import * as A from "@automerge/automerge"

/** The `kind` of a marketplace document. */
export const MARKETPLACE_KIND = "fedhub/marketplace/v1"
/** The `kind` of a join request document. */
export const JOIN_REQUEST_KIND = "fedhub/market-join-request/v1"
/** The `kind` of a catalog shard document. */
export const SHARD_KIND = "fedhub/market-shard/v1"
/** The `kind` of a participant's activity document (ratings, purchases, approvals, grants, disputes). */
export const ACTIVITY_KIND = "fedhub/market-activity/v1"

type IS = A.ImmutableString

interface ParticipantEntry {
  status: IS
  since: number
  /** "creator", "initial", or the id of the approved join request. */
  via: IS
}

/** The marketplace document. */
export interface MarketDoc {
  kind: IS
  config: IS
  participants: Record<string, ParticipantEntry>
  requests: Record<string, IS>
  requestDocs: Record<string, IS>
  votes: Record<string, IS>
  /** "<origin>/<shardId>" → shard document id, written by that origin. */
  catalog?: Record<string, IS>
  /** participant → its activity document id, written by that participant. */
  activity?: Record<string, IS>
  /** field → a signed metadata edit by an owner or admin (concurrent edits are conflicts to show). */
  meta?: Record<string, IS>
}

/** A join request document, owned by the requester. */
export interface RequestDoc {
  kind: IS
  marketplace: IS
  owner: IS
  request: IS
  outcome?: IS
}

/** A catalog shard document, owned by its origin. */
export interface ShardDoc {
  kind: IS
  marketplace: IS
  origin: IS
  shard: IS
  /** chunkId → the chunk's items (shard.ts `encodeChunk`). */
  chunks: Record<string, IS>
  /** The origin's signed manifest over every item here. */
  manifest?: IS
}

/** Sections of an activity document: each maps a record's key to the signed record. */
export const ACTIVITY_SECTIONS = ["ratings", "purchases", "approvals", "moderations", "grants", "disputes", "disputeVotes"] as const
/** One section of an activity document. */
export type ActivitySection = (typeof ACTIVITY_SECTIONS)[number]

/** A participant's activity document, owned by it. */
export type ActivityDoc = { kind: IS; marketplace: IS; node: IS } & Partial<Record<ActivitySection, Record<string, IS>>>

/** The string in an ImmutableString (or a plain string), else undefined. */
export const str = (v: unknown): string | undefined => (v instanceof A.ImmutableString ? v.val : typeof v === "string" ? v : undefined)
/** An atomic string for a document. */
export const imm = (s: string): IS => new A.ImmutableString(s)
/** Parses stored JSON; undefined when absent or not JSON. */
export const parse = (s: string | undefined): unknown => {
  if (s === undefined) return undefined
  try {
    return JSON.parse(s) as unknown
  } catch {
    return undefined
  }
}
/** The `kind` of a document's contents, if it has one. */
export const kindOf = (doc: unknown): string | undefined => str((doc as { kind?: unknown } | undefined)?.kind)
