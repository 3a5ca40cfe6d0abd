/**
 * The signed records of a session: their purposes (domain separation) and the one way
 * views open an untrusted one (marketplace/signed.ts `openSigned`: signature, payload
 * schema, signer), so every fold over a session document can list what it refused.
 */
export { openSigned, byCodeUnit, type Opened } from "../marketplace/signed.ts"

/** Envelope purposes of the session records; a signature for one never verifies for another. */
export const SESSION_PURPOSE = {
  definition: "fedhub/session/v1",
  response: "fedhub/session-response/v1",
  transition: "fedhub/session-transition/v1",
  invite: "fedhub/session-invite/v1",
  messages: "fedhub/session-messages/v1",
  proposal: "fedhub/session-proposal/v1",
  vote: "fedhub/session-vote/v1",
  agreement: "fedhub/session-agreement/v1",
  agreementSignature: "fedhub/session-agreement-signature/v1",
  rating: "fedhub/session-rating/v1",
  document: "fedhub/session-document/v1",
} as const

/** The text an ImmutableString (or a plain string) holds, else undefined. */
export const textOf = (v: unknown): string | undefined =>
  typeof v === "string" ? v : typeof (v as { val?: unknown } | null)?.val === "string" ? (v as { val: string }).val : undefined

/** JSON.parse that answers undefined instead of throwing. */
export const parseJson = (s: string | undefined): unknown => {
  if (s === undefined) return undefined
  try {
    return JSON.parse(s) as unknown
  } catch {
    return undefined
  }
}
