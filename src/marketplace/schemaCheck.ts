/**
 * Schema checks that list every problem, not the first (a bad config or item is answered
 * with one error naming all of them): the schema layer's all-errors validator.
 */
import { isValid, schemaProblems, type SchemaName, type SchemaTypes } from "../schema/index.ts"

export { schemaProblems }

/** True (and `value` typed) when it matches the schema. */
export function matches<N extends SchemaName>(name: N, value: unknown): value is SchemaTypes[N] {
  return isValid(name, value)
}
