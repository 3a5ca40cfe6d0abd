/**
 * Retention (pure): a session's content (transcript, shared documents) expires
 * `retentionPeriod` days after the session ended (completed or failed); 0 keeps it.
 */
import type { SessionDefinition } from "../schema/index.ts"
import type { SessionState } from "./state.ts"

export const DAY_MS = 86_400_000

/** When the session's content expires (null: not ended, or kept). */
export function contentExpiresAt(def: SessionDefinition, state: Pick<SessionState, "status" | "endedAt">): number | null {
  const days = def.configuration.dataSharing.retentionPeriod
  if (days === 0 || state.endedAt === null || (state.status !== "completed" && state.status !== "failed")) return null
  return state.endedAt + days * DAY_MS
}

/** Whether the content is expired at `now`. */
export const contentExpired = (def: SessionDefinition, state: Pick<SessionState, "status" | "endedAt">, now: number): boolean => {
  const at = contentExpiresAt(def, state)
  return at !== null && now >= at
}
