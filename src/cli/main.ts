#!/usr/bin/env node
/** Entry point of the `fedhub` command (bin/fedhub and `npm start` run this). */
import { FedhubError, toFedhubError } from "../errors.ts"
import { main } from "./program.ts"

/**
 * A promise nobody handled is a bug, never a detail to hide: print it (with the stack
 * when it is not one of our typed errors) and exit non-zero, as Node itself would.
 */
process.on("unhandledRejection", e => {
  const err = toFedhubError(e)
  console.error(`error: unhandled rejection: ${err.code}: ${err.detail}`)
  if (!(e instanceof FedhubError) && e instanceof Error && e.stack) console.error(e.stack)
  process.exit(err.exitCode || 1)
})

await main(process.argv)
