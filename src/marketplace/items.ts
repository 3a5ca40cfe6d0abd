/**
 * Published items: ids, checksums, origin signatures, the marketplace's quality
 * rules, and which version of an item a replica holds.
 *
 * - globalId = originNodeId:itemId; checksum = hex SHA-256 of the item's canonical JSON.
 * - An item version is a MarketItem signed by its origin; a withdrawal is a version
 *   with `withdrawn: true`. Only the origin publishes or withdraws, and only a greater
 *   version replaces the one held (an older or equal one replayed is refused).
 */
import { FedhubError, type ErrorCode } from "../errors.ts"
import { contentId, type Identity, type NodeId, signEnvelope, type SignedEnvelope } from "../identity/index.ts"
import type { MarketItem, MarketplaceConfig } from "../schema/index.ts"
import canonicalize from "canonicalize"
import { matches, schemaProblems } from "./schemaCheck.ts"
import { MARKET_PURPOSE, openSigned } from "./signed.ts"

/** originNodeId:itemId, unique across the federation. */
export type GlobalId = string & { __globalId: true }
/** Hex SHA-256 of an item's canonical JSON. */
export type Checksum = string & { __checksum: true }

/** The global id of an item of `origin`. */
export const globalIdOf = (origin: NodeId | string, itemId: string): GlobalId => `${origin}:${itemId}` as GlobalId
/** The global id of an item payload. */
export const itemGlobalId = (item: MarketItem): GlobalId => globalIdOf(item.originNodeId, item.itemId)
/** The checksum of an item payload: what shard manifests and purchases name. */
export const checksumOf = (item: MarketItem): Checksum => contentId(item) as Checksum

/** Signs `item` as its origin (`item.originNodeId` must be `origin`'s node id). */
export function signItem(origin: Identity, item: MarketItem, time?: number): SignedEnvelope<MarketItem> {
  if (item.originNodeId !== origin.nodeId) throw new FedhubError("NOT_ORIGIN", "an item is signed by its origin node")
  return signEnvelope(origin, MARKET_PURPOSE.item, item, time)
}

/** The result of checking an item against a marketplace. */
export interface ItemValidation {
  ok: boolean
  failures: string[]
}

const stringsOf = (v: unknown, path: string, out: [string, string][]): void => {
  if (typeof v === "string") out.push([path, v])
  else if (Array.isArray(v)) v.forEach((x, i) => stringsOf(x, `${path}/${i}`, out))
  else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) stringsOf(x, `${path}/${k}`, out)
}

/**
 * An upper bound of the UTF-8 bytes of `v`'s RFC 8785 JSON, without serializing it: a
 * UTF-16 code unit is at most 6 bytes in a JSON string (`\uXXXX`), a number at most 32.
 */
export function jsonBytesAtMost(v: unknown): number {
  if (typeof v === "string") return 2 + 6 * v.length
  if (typeof v === "number") return 32
  if (typeof v !== "object" || v === null) return 5
  let n = 2
  if (Array.isArray(v)) {
    for (const x of v) n += 1 + jsonBytesAtMost(x)
    return n
  }
  for (const k in v) n += 4 + 6 * k.length + jsonBytesAtMost((v as Record<string, unknown>)[k])
  return n
}

const isEmpty = (v: unknown): boolean =>
  v === undefined || v === "" || (Array.isArray(v) && v.length === 0)

/**
 * Every reason `item` may not be published in the marketplace of `config`: the
 * item schema first (if it fails, the rules are not run), then the quality rules
 * (marketplace, required fields, allowed licenses, size limit, banned patterns, category).
 */
export function validateItem(config: MarketplaceConfig, item: unknown, marketplaceId?: string): ItemValidation {
  // the all-errors validator (several times slower) only for an item that fails
  const schema = matches("marketplace#MarketItem", item) ? [] : schemaProblems("marketplace#MarketItem", item)
  if (schema.length > 0) return { ok: false, failures: schema.map((p) => `schema: ${p}`) }
  const it = item as MarketItem
  const q = config.quality.qualityStandards
  const failures: string[] = []
  if (marketplaceId !== undefined && it.marketplaceId !== marketplaceId)
    failures.push(`quality: the item belongs to marketplace ${it.marketplaceId}`)
  for (const field of q.requiredFields)
    if (isEmpty(it[field])) failures.push(`quality: /${field} is required by this marketplace`)
  if (q.allowedLicenses.length > 0 && it.license !== undefined && !q.allowedLicenses.includes(it.license))
    failures.push(`compliance: license "${it.license}" is not one of ${q.allowedLicenses.join(", ")}`)
  if (q.allowedLicenses.length > 0 && it.license === undefined) failures.push("compliance: /license is required (licenses are restricted)")
  // serialized (RFC 8785 directly: the schema admits plain JSON with integers only) only when a cheap bound exceeds the limit
  if (jsonBytesAtMost(it) > q.maxSizeBytes) {
    const size = Buffer.byteLength(canonicalize(it)!)
    if (size > q.maxSizeBytes) failures.push(`quality: the item is ${size} bytes, the limit is ${q.maxSizeBytes}`)
  }
  if (it.artifact && it.artifact.sizeBytes > q.maxSizeBytes)
    failures.push(`quality: the artifact is ${it.artifact.sizeBytes} bytes, the limit is ${q.maxSizeBytes}`)
  const strings: [string, string][] = []
  if (q.bannedPatterns.length > 0) stringsOf(it, "", strings)
  for (const pattern of q.bannedPatterns) {
    let re: RegExp
    try {
      re = compiled(pattern)
    } catch {
      failures.push(`security: banned pattern ${JSON.stringify(pattern)} does not compile`)
      continue
    }
    for (const [path, s] of strings) if (re.test(s)) failures.push(`security: ${path} matches banned pattern ${JSON.stringify(pattern)}`)
  }
  const categories = config.catalog.categories
  if (it.category !== undefined && categories.length > 0 && !categories.some((c) => c.id === it.category))
    failures.push(`quality: category "${it.category}" is not a category of this marketplace`)
  return { ok: failures.length === 0, failures }
}

const patterns = new Map<string, RegExp>()
/** A banned pattern compiled once (a publish of 100,000 items checks each against every pattern); throws if it does not compile. */
function compiled(pattern: string): RegExp {
  let re = patterns.get(pattern)
  if (!re) {
    re = new RegExp(pattern, "iu")
    if (patterns.size > 1000) patterns.clear()
    patterns.set(pattern, re)
  }
  return re
}

/** Like validateItem, but throws ITEM_INVALID listing every failure (extra.failures). */
export function assertValidItem(config: MarketplaceConfig, item: unknown, marketplaceId?: string): MarketItem {
  const { ok, failures } = validateItem(config, item, marketplaceId)
  if (!ok) throw new FedhubError("ITEM_INVALID", `${failures.length} failure(s): ${failures.join("; ")}`, { failures })
  return item as MarketItem
}

/** Whether a replica takes `next` as the item's version, and why not. */
export type VersionDecision =
  | { ok: true; item: SignedEnvelope<MarketItem> }
  | { ok: false; code: ErrorCode; reason: string }

/**
 * Decides whether signed `next` replaces `current` (the verified version held, if
 * any): it must verify as signed by its origin, be the same item, come from the
 * same origin, and carry a greater version.
 */
export function acceptVersion(current: SignedEnvelope<MarketItem> | undefined, next: unknown): VersionDecision {
  const opened = openSigned(next, MARKET_PURPOSE.item, "marketplace#MarketItem")
  if (!opened.ok) return { ok: false, code: "ITEM_INVALID", reason: opened.reason }
  const n = opened.env
  if (n.signer !== n.payload.originNodeId)
    return { ok: false, code: "NOT_ORIGIN", reason: `signed by ${n.signer}, not by the item's origin ${n.payload.originNodeId}` }
  if (current === undefined) return { ok: true, item: n }
  const c = current.payload
  if (c.itemId !== n.payload.itemId || c.marketplaceId !== n.payload.marketplaceId)
    return { ok: false, code: "ITEM_INVALID", reason: "a version of another item" }
  if (n.payload.originNodeId !== c.originNodeId)
    return { ok: false, code: "NOT_ORIGIN", reason: `only the origin ${c.originNodeId} may publish a new version or withdraw` }
  if (n.payload.version <= c.version)
    return { ok: false, code: "VERSION_REPLAYED", reason: `version ${n.payload.version} is not newer than the held version ${c.version}` }
  return { ok: true, item: n }
}
