/**
 * Catalog search queries: the schema (schemas/api-market-search.schema.json), the
 * rules a schema cannot say (ranges in order, a bounded number of words), the
 * defaults and caps, and the coercion of a URL query (every value a string) into
 * one. Every problem is listed in one INVALID_INPUT error (extra.problems).
 */
import MiniSearch from "minisearch"
import { FedhubError } from "../errors.ts"
import type { MarketSearchQuery } from "../schema/index.ts"
import { schemaProblems } from "./schemaCheck.ts"

/** Results per page when the query names no limit. */
export const DEFAULT_LIMIT = 20
/** A larger limit is capped to this (not refused: a client asking for "all" gets a page). */
export const MAX_LIMIT = 100
/** Words a text query may hold (each costs a prefix and fuzzy lookup). */
export const MAX_TEXT_WORDS = 16

/** A sort of the results. */
export type SearchSort = NonNullable<MarketSearchQuery["sort"]>

/** A checked query with its defaults filled in and its text split into words. */
export interface CheckedSearchQuery extends Omit<MarketSearchQuery, "text" | "tags" | "sort" | "offset" | "limit"> {
  /** The text as given (trimmed); undefined when it holds no word. */
  text?: string
  /** The words of the text, as the index tokenizes them. */
  words: string[]
  /** Lowercased, deduplicated. */
  tags: string[]
  sort: SearchSort
  offset: number
  limit: number
}

const tokenize = MiniSearch.getDefault("tokenize") as (text: string) => string[]

/** The words of `text` as the index splits them (empty pieces dropped). */
export const searchWords = (text: string): string[] => tokenize(text).filter((w) => w.length > 0)

/** Every problem of `query` ([] when it is a valid search query). */
export function searchQueryProblems(query: unknown): string[] {
  const problems = schemaProblems("api-market-search", query)
  if (problems.length > 0) return problems
  const q = query as MarketSearchQuery
  if (q.minPrice !== undefined && q.maxPrice !== undefined && q.minPrice > q.maxPrice)
    problems.push(`/minPrice (${q.minPrice}) is greater than /maxPrice (${q.maxPrice})`)
  if (q.minRating !== undefined && q.maxRating !== undefined && q.minRating > q.maxRating)
    problems.push(`/minRating (${q.minRating}) is greater than /maxRating (${q.maxRating})`)
  if (q.text !== undefined) {
    const words = searchWords(q.text).length
    if (words > MAX_TEXT_WORDS) problems.push(`/text holds ${words} words; at most ${MAX_TEXT_WORDS} are searched`)
  }
  return problems
}

/** Checks `query` (a MarketSearchQuery from a JSON body or parseSearchQuery) and fills the defaults; throws INVALID_INPUT listing every problem. */
export function checkSearchQuery(query: unknown): CheckedSearchQuery {
  const problems = searchQueryProblems(query)
  if (problems.length > 0) throw new FedhubError("INVALID_INPUT", `search query: ${problems.join("; ")}`, { problems })
  const { text, tags, sort, offset, limit, ...filters } = query as MarketSearchQuery
  const trimmed = text?.trim()
  const words = trimmed === undefined ? [] : searchWords(trimmed)
  return {
    ...filters,
    ...(words.length > 0 ? { text: trimmed } : {}),
    words,
    tags: [...new Set((tags ?? []).map((t) => t.toLowerCase()))],
    sort: sort ?? "relevance",
    offset: offset ?? 0,
    limit: Math.min(limit ?? DEFAULT_LIMIT, MAX_LIMIT),
  }
}

const NUMERIC = new Set(["minRating", "maxRating", "minPrice", "maxPrice", "offset", "limit"])
const NUMBER_TEXT = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

/**
 * A URL query (`req.query`: each value a string, or a list when repeated) as a
 * checked search query: numbers are coerced, `tags` may repeat, any other key
 * given twice is a problem. Throws INVALID_INPUT listing every problem.
 */
export function parseSearchQuery(record: Record<string, string | string[] | undefined>): CheckedSearchQuery {
  const out: Record<string, unknown> = {}
  const problems: string[] = []
  for (const [key, raw] of Object.entries(record)) {
    if (raw === undefined) continue
    if (key === "tags") {
      out.tags = Array.isArray(raw) ? raw : [raw]
      continue
    }
    if (Array.isArray(raw)) {
      problems.push(`/${key} is given ${raw.length} times; give it once`)
      continue
    }
    out[key] = NUMERIC.has(key) && NUMBER_TEXT.test(raw.trim()) ? Number(raw) : raw
  }
  // the schema's problems come with ours, in one answer
  const all = [...problems, ...searchQueryProblems(out)]
  if (all.length > 0) throw new FedhubError("INVALID_INPUT", `search query: ${all.join("; ")}`, { problems: all })
  return checkSearchQuery(out)
}
