/**
 * Schema checks that list every problem, not the first (a bad config or item is answered
 * with one error naming all of them): the schema layer's all-errors validator, run only
 * for a value that does not match (it is several times slower, and building it costs about
 * a second, which a fresh hub paid inside its first sync).
 */
import { isValid, schemaProblems as allProblems, type SchemaName, type SchemaTypes } from "../schema/index.ts"

/** True (and `value` typed) when it matches the schema. */
export function matches<N extends SchemaName>(name: N, value: unknown): value is SchemaTypes[N] {
  return isValid(name, value)
}

/** Every schema problem of `value`, each as a readable line; [] when it matches. */
export function schemaProblems(name: SchemaName, value: unknown): string[] {
  return matches(name, value) ? [] : allProblems(name, value)
}
