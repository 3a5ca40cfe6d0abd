/**
 * Parsing of document references typed by users (CLI arguments, REST path segments):
 * an `automerge:` URL, optionally pinned to heads, or a bare document id.
 */
import {
  isValidAutomergeUrl,
  isValidDocumentId,
  parseAutomergeUrl,
  stringifyAutomergeUrl,
  type AutomergeUrl,
  type DocumentId,
} from "@automerge/automerge-repo"
import { FedhubError } from "../errors.ts"

/** A parsed document reference; `heads` (hex change hashes) only when the URL pinned some. */
export interface DocRef {
  documentId: DocumentId
  /** The document's URL without any heads section. */
  url: AutomergeUrl
  heads?: string[]
}

const URL_PREFIX = "automerge:"

/** Quotes user input for an error message without letting a huge string through. */
const quote = (s: string): string => JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s)

/**
 * Parses `automerge:<id>`, `automerge:<id>#<head>|<head>` (automerge-repo 2.5 URL heads,
 * bs58check-encoded; returned here as hex) or a bare base58check document id.
 * Throws BAD_DOC_URL, quoting the input, for anything else.
 */
export function parseDocRef(s: string): DocRef {
  if (typeof s !== "string") throw new FedhubError("BAD_DOC_URL", `expected a string, got ${typeof s}`)
  const t = s.trim()
  if (t.startsWith(URL_PREFIX)) {
    if (!isValidAutomergeUrl(t))
      throw new FedhubError("BAD_DOC_URL", `not a valid Automerge URL: ${quote(s)}`)
    let parsed: ReturnType<typeof parseAutomergeUrl>
    try {
      parsed = parseAutomergeUrl(t)
    } catch (e) {
      throw new FedhubError("BAD_DOC_URL", `not a valid Automerge URL: ${quote(s)} (${(e as Error).message})`)
    }
    const url = stringifyAutomergeUrl({ documentId: parsed.documentId })
    const heads = parsed.hexHeads
    return heads !== undefined && heads.length > 0
      ? { documentId: parsed.documentId, url, heads }
      : { documentId: parsed.documentId, url }
  }
  if (t !== "" && isValidDocumentId(t)) return { documentId: t, url: stringifyAutomergeUrl(t) }
  throw new FedhubError("BAD_DOC_URL", `not an Automerge URL (automerge:<id>) or document id: ${quote(s)}`)
}
