#!/usr/bin/env node
/** Entry point of the `fedhub` command (bin/fedhub and `npm start` run this). */
import { toFedhubError } from "../errors.ts"
import { main } from "./program.ts"

process.on("unhandledRejection", e => {
  console.error(`error: ${toFedhubError(e).message}`)
})

await main(process.argv)
