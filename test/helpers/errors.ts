/** Assertions on the typed errors of src/errors.ts. */
import { expect } from "vitest"
import { FedhubError } from "../../src/errors.ts"

/** The FedhubError code `fn` throws, "no error" if none, or a marker for a non-typed throw. */
export function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    return e instanceof FedhubError ? e.code : `untyped ${String(e)}`
  }
  return "no error"
}

/** The FedhubError `fn` throws; fails the test if it throws nothing or something untyped. */
export function errorOf(fn: () => unknown): FedhubError {
  try {
    fn()
  } catch (e) {
    if (e instanceof FedhubError) return e
    throw new Error(`expected a FedhubError, got ${String(e)}`)
  }
  throw new Error("expected a FedhubError, nothing was thrown")
}

/** Asserts that `fn` throws a FedhubError with `code`, and returns it. */
export function expectFedhubError(fn: () => unknown, code: string): FedhubError {
  const e = errorOf(fn)
  expect(e.code).toBe(code)
  return e
}
