#!/usr/bin/env node
/** Entry point of the `fedhub` command (bin/fedhub and `npm start` run this). */
import { FedhubError, toFedhubError } from "../errors.ts"
import { main } from "./program.ts"

/**
 * A promise nobody handled is a bug, never a detail to hide: print it (with the stack
 * when it is not one of our typed errors) and exit non-zero, as Node itself would — but
 * for one known loose end of automerge-repo, below.
 */
process.on("unhandledRejection", e => {
  // automerge-repo 2.5's DocSynchronizer awaits `handle.whenReady()` without a catch; when the
  // hub drops a document that never arrived (Hub.dropUnavailable), that wait rejects with
  // xstate's message. It is that library's loose end, not a fault of the hub: said, not fatal.
  if (e instanceof Error && e.message === "Actor terminated without satisfying predicate") {
    console.error("warning: automerge-repo left a wait on a dropped document unhandled (ignored)")
    return
  }
  const err = toFedhubError(e)
  console.error(`error: unhandled rejection: ${err.code}: ${err.detail}`)
  if (!(e instanceof FedhubError) && e instanceof Error && e.stack) console.error(e.stack)
  process.exit(err.exitCode || 1)
})

await main(process.argv)
