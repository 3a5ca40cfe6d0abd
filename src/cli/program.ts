/**
 * The fedhub command line: init, start, and doc (history and edits), a thin face
 * over the hub. Errors print `error: CODE: detail` and exit with the table's code.
 */
import { Command, Option } from "commander"
import { FedhubError, toFedhubError } from "../errors.ts"
import { resolveHome } from "../hub/home.ts"
import { docCommand } from "./docCommand.ts"
import { collect } from "./options.ts"
import { marketCommand } from "./marketCommand.ts"
import { sessionCommand } from "./sessionCommand.ts"
import { discoverCommand, endorseCommand, peersCommand, trustCommand } from "./federationCommands.ts"
import { rotateCommand } from "./rotateCommand.ts"


const parsePort = (v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new FedhubError("INVALID_INPUT", `--port must be 0..65535, got ${v}`)
  return Number(v)
}

/** Builds the commander program (exported for tests). */
export function program(): Command {
  const cli = new Command("fedhub")
    .description("Federation engine for AI Hub instances: authenticated Automerge replication between hubs")
    .version("0.1.0")
    .showHelpAfterError()

  cli
    .command("init")
    .description("make this hub's ed25519 identity (stored 0600 in the home, never printed) and its TLS certificate over that key")
    .option("--home <dir>", "hub home (default: $FEDHUB_HOME or ./.fedhub)")
    .option("--name <name>", "a human name for this hub")
    .option("--force", "replace an existing identity (the node id changes)")
    .action(async (o: { home?: string; name?: string; force?: boolean }) => {
      const paths = resolveHome(o.home)
      const { createIdentity, ensureNodeCertificate, NODE_CERT_FILE } = await import("../identity/index.ts")
      const identity = await createIdentity(paths.home, { name: o.name, force: o.force })
      await ensureNodeCertificate(paths.home, identity)
      console.log(`initialized ${identity.nodeId} in ${paths.home} (TLS certificate ${NODE_CERT_FILE}, its key is the node key)`)
    })

  cli
    .command("start")
    .description("start a hub: REST API and /sync on one port; SIGINT/SIGTERM stop it cleanly")
    .option("--home <dir>", "hub home (default: $FEDHUB_HOME or ./.fedhub)")
    .option("--port <n>", "port to listen on (0 = any free port; default 7420)", parsePort)
    .option("--host <host>", "address to listen on (default 127.0.0.1)")
    .option("--peer <url>", "another hub to connect to (repeatable)", collect)
    .option("--name <name>", "a human name for this hub")
    .option("--tls-cert <file>", "a CA-issued certificate chain (PEM) for a public name, instead of the node certificate")
    .option("--tls-key <file>", "the private key (PEM) of --tls-cert")
    .option("--no-tls", "serve plain HTTP only (behind a TLS terminator, or for tests)")
    .addOption(new Option("--log-level <level>").choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]))
    .action(async (o: { home?: string; port?: number; host?: string; peer?: string[]; name?: string; logLevel?: never; tlsCert?: string; tlsKey?: string; tls?: boolean }) => {
      const [{ startHub }, { serveHub }] = await Promise.all([import("../hub/startHub.ts"), import("../api/server.ts")])
      const running = await startHub(serveHub, {
        home: o.home,
        flags: { port: o.port, host: o.host, peers: o.peer, name: o.name, logLevel: o.logLevel, tls: tlsFlags(o) },
      })
      console.log(`fedhub ${running.hub.nodeId} listening on ${running.url} (home ${running.paths.home})`)
      const shutdown = (signal: string) => {
        running.hub.log.info({ signal }, "shutting down")
        running.stop().then(
          () => process.exit(0),
          e => {
            running.hub.log.error({ err: e }, "shutdown failed")
            process.exit(1)
          },
        )
      }
      process.once("SIGINT", () => shutdown("SIGINT"))
      process.once("SIGTERM", () => shutdown("SIGTERM"))
    })

  cli.addCommand(docCommand())
  cli.addCommand(marketCommand())
  cli.addCommand(sessionCommand())
  cli.addCommand(peersCommand())
  cli.addCommand(discoverCommand())
  cli.addCommand(trustCommand())
  cli.addCommand(endorseCommand())
  cli.addCommand(rotateCommand())
  return cli
}

/** The start command's TLS flags as a config layer (undefined when none was given). */
function tlsFlags(o: { tlsCert?: string; tlsKey?: string; tls?: boolean }): { enabled?: boolean; cert?: string; key?: string } | undefined {
  const tls = { ...(o.tls === false ? { enabled: false } : {}), ...(o.tlsCert ? { cert: o.tlsCert } : {}), ...(o.tlsKey ? { key: o.tlsKey } : {}) }
  return Object.keys(tls).length > 0 ? tls : undefined
}

/** Runs the CLI; maps any error to its message and exit code. */
export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv)
  } catch (e) {
    const err = toFedhubError(e)
    console.error(`error: ${err.code}: ${err.detail}`)
    process.exit(err.exitCode)
  }
}
