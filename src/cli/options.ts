/** What every command that talks to a hub shares: the options that find the hub, and how it prints. */
import type { Command } from "commander"
import type { HubTarget } from "./adminClient.ts"

/** The options every hub-facing command takes. */
export interface CommonOptions extends HubTarget {
  json?: boolean
}

/** Adds --home, --hub, --token and --json to a command. */
export const withHubOptions = (cmd: Command): Command =>
  cmd
    .option("--home <dir>", "hub home (default: $FEDHUB_HOME or ./.fedhub)")
    .option("--hub <url>", "a running hub's URL (default: the one running on the home; $FEDHUB_URL)")
    .option("--token <token>", "admin token (default: the home's admin-token; $FEDHUB_TOKEN)")
    .option("--json", "print JSON")

/** Prints `value` as JSON with --json, else the text `text` makes. */
export const printResult = (o: CommonOptions, value: unknown, text: () => string): void =>
  console.log(o.json ? JSON.stringify(value, null, 2) : text())

/** Commander's collector for a repeatable option. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]
