/**
 * Schema checks that list every problem, not the first (a bad config or item is answered
 * with one error naming all of them): the schema layer's all-errors validator, run only
 * for a value that does not match (it is several times slower, and building it costs about
 * a second, which a fresh hub paid inside its first sync).
 */
import { isValid, schemaProblems as allProblems, validatorFor, type SchemaName, type SchemaTypes } from "../schema/index.ts"

/** True (and `value` typed) when it matches the schema. */
export function matches<N extends SchemaName>(name: N, value: unknown): value is SchemaTypes[N] {
  return isValid(name, value)
}

/** Every schema problem of `value`, each as a readable line; [] when it matches. */
export function schemaProblems(name: SchemaName, value: unknown): string[] {
  return matches(name, value) ? [] : allProblems(name, value)
}

const prepared = new Set<SchemaName>()
/**
 * Compiles the validators a replica of a marketplace runs on every synced item, soon but
 * not now (ajv compiles the item schema in a few hundred ms, which a fresh hub paid inside
 * its first sync): called when a hub starts following a marketplace, not at every hub's start.
 */
export function prepareValidators(names: readonly SchemaName[] = ["marketplace#MarketItem", "marketplace#ShardManifest"]): void {
  const todo = names.filter(n => !prepared.has(n))
  if (todo.length === 0) return
  for (const n of todo) prepared.add(n)
  setImmediate(() => {
    for (const n of todo) validatorFor(n)
  }).unref()
}
