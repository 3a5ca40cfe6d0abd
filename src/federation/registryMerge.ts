/**
 * How the records of one node written by several processes of one identity combine (the
 * registry on PostgreSQL). Pure: the same rule runs in the writing transaction and when a
 * process takes in another's row.
 *
 * - Administrator decisions and what the node's descriptor says (`DECISION_FIELDS`): the
 *   latest write that set a field wins; a write that did not set it leaves it as stored.
 * - Observations merge and never go back: firstSeen is the earliest, lastSeen, provenAt and
 *   lastSequence the latest, discoveredBy the union, the up and down periods the union of
 *   their ranges. `upSince` (a link held open now) belongs to the process holding the link:
 *   it is never stored in a row, and a process keeps its own when it takes in a row.
 */
import { migrateObservation, type Observation } from "./reputation.ts"
import type { RegistryNode } from "./registry.ts"
import type { DiscoveryMethod } from "./discovery/types.ts"

/** Fields whose latest write wins (admin decisions, the node's own claims). */
export const DECISION_FIELDS = ["url", "name", "adminLevel", "blocked", "manual", "disconnected"] as const
export type DecisionField = (typeof DECISION_FIELDS)[number]

const DECISIONS: ReadonlySet<string> = new Set(DECISION_FIELDS)

/** The decision fields a patch names (a key present with `undefined` clears the field). */
export const decisionFieldsOf = (patch: object): DecisionField[] => Object.keys(patch).filter((k): k is DecisionField => DECISIONS.has(k))

/** The union of two observations' period ranges (no `upSince`). */
export function mergeObservations(a: Observation | undefined, b: Observation | undefined): Observation {
  return migrateObservation({ up: [...(a?.up ?? []), ...(b?.up ?? [])], down: [...(a?.down ?? []), ...(b?.down ?? [])] })
}

const maxDefined = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : Math.max(a, b))

/**
 * The record after a write: `stored` (what the database holds, if anything) with `local`'s
 * values of the decision fields it set (`fields`) and the merge of both observations. With
 * nothing stored, the local record is taken whole. `upSince` is dropped.
 */
export function mergeWrite(stored: RegistryNode | undefined, local: RegistryNode, fields: readonly DecisionField[]): RegistryNode {
  const base: RegistryNode = { ...(stored ?? local) }
  if (stored) for (const f of fields) setField(base, f, local)
  return withObservations(base, stored, local)
}

/**
 * The record a process holds after another process's row arrives: the row's decision
 * fields, except those this process changed and has not written yet (`pending`: they are
 * about to be written and win then), the merge of both observations, and its own `upSince`.
 */
export function mergeRemote(local: RegistryNode | undefined, row: RegistryNode, pending: readonly DecisionField[] = []): RegistryNode {
  if (!local) return { ...row, observed: mergeObservations(row.observed, undefined) }
  const base: RegistryNode = { ...row }
  for (const f of pending) setField(base, f, local)
  const out = withObservations(base, row, local)
  if (local.observed.upSince !== undefined) out.observed = { ...out.observed, upSince: local.observed.upSince }
  return out
}

/** The fields a row holds (schemas/registry-node.schema.json); anything else a record carries is left out. */
const ROW_FIELDS = ["nodeId", ...DECISION_FIELDS, "lastSequence", "provenAt", "discoveredBy", "firstSeen", "lastSeen"] as const

/** A record as a row holds it: the schema's fields only, no `upSince`, no undefined fields. */
export function toRow(n: RegistryNode): RegistryNode {
  const row: Record<string, unknown> = {}
  for (const f of ROW_FIELDS) if (n[f] !== undefined) row[f] = n[f]
  row.observed = { up: n.observed.up.map(r => [r[0], r[1]]), down: n.observed.down.map(r => [r[0], r[1]]) }
  return JSON.parse(JSON.stringify(row)) as RegistryNode
}

function setField(target: RegistryNode, f: DecisionField, from: RegistryNode): void {
  if (from[f] === undefined) delete target[f]
  else (target as unknown as Record<string, unknown>)[f] = from[f]
}

function withObservations(base: RegistryNode, a: RegistryNode | undefined, b: RegistryNode): RegistryNode {
  const out: RegistryNode = {
    ...base,
    firstSeen: Math.min(a?.firstSeen ?? b.firstSeen, b.firstSeen),
    lastSeen: Math.max(a?.lastSeen ?? b.lastSeen, b.lastSeen),
    discoveredBy: [...new Set([...(a?.discoveredBy ?? []), ...b.discoveredBy])].sort() as DiscoveryMethod[],
    observed: mergeObservations(a?.observed, b.observed),
  }
  const provenAt = maxDefined(a?.provenAt, b.provenAt)
  const lastSequence = maxDefined(a?.lastSequence, b.lastSequence)
  if (provenAt === undefined) delete out.provenAt
  else out.provenAt = provenAt
  if (lastSequence === undefined) delete out.lastSequence
  else out.lastSequence = lastSequence
  return out
}
