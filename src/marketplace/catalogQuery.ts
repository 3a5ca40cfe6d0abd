/**
 * The catalog query of a URL (`GET /api/markets/:ref/items?text=…&minPrice=…`): strings
 * coerced to the typed query, every problem listed in one INVALID_INPUT.
 */
import { FedhubError } from "../errors.ts"
import type { CatalogQuery } from "./MarketplaceService.ts"

const TEXT = ["text", "category", "type", "origin"] as const
const NUMBERS = { minPrice: [0, Number.MAX_SAFE_INTEGER], maxPrice: [0, Number.MAX_SAFE_INTEGER], minRating: [0, 5], offset: [0, 1_000_000_000], limit: [1, 500] } as const

/** Parses a URL query into a CatalogQuery; unknown keys, bad numbers and over-long text are refused together. */
export function parseCatalogQuery(raw: Record<string, unknown>): CatalogQuery {
  const out: Record<string, string | number> = {}
  const problems: string[] = []
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== "string") {
      problems.push(`${key}: give it once, as a string`)
      continue
    }
    if ((TEXT as readonly string[]).includes(key)) {
      if (value.length > 500) problems.push(`${key}: at most 500 characters`)
      else out[key] = value
    } else if (key in NUMBERS) {
      const [min, max] = NUMBERS[key as keyof typeof NUMBERS]
      const n = Number(value)
      if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max || (key !== "minRating" && !Number.isInteger(n)))
        problems.push(`${key}: ${key === "minRating" ? "a number" : "an integer"} from ${min} to ${max}`)
      else out[key] = n
    } else problems.push(`${key}: not a catalog filter (${[...TEXT, ...Object.keys(NUMBERS)].join(", ")})`)
  }
  if (problems.length > 0) throw new FedhubError("INVALID_INPUT", problems.join("; "), { problems })
  return out as CatalogQuery
}
