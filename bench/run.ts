/** `npm run bench -- <name>…`: runs the named benches (all when none is named). */
import { benchAttribution } from "./attribution.ts"
import { benchConnect } from "./connect.ts"
import { benchDiscovery } from "./discovery.ts"
import { benchPeers } from "./peers.ts"
import { benchLimits } from "./limits.ts"
import { benchHubSync } from "./hubSync.ts"

const BENCHES: Record<string, () => Promise<void>> = {
  attribution: async () => {
    await benchAttribution()
    await benchHubSync()
  },
  "hub-sync": () => benchHubSync(),
  connect: () => benchConnect(100),
  discovery: () => benchDiscovery(100),
  peers: () => benchPeers(),
  limits: () => benchLimits(),
  cli: async () => (await import("./cli.ts")).benchCli(),
  catalog: async () => (await import("./catalog.ts")).benchCatalog(process.argv.slice(2)),
  "catalog-steps": async () => (await import("./catalogSteps.ts")).benchCatalogSteps(process.argv.slice(2)),
  storage: async () => (await import("./storage.ts")).benchStorage(),
  fanout: async () => (await import("./fanout.ts")).benchFanout(),
  "policy-store": async () => (await import("./storagePolicies.ts")).benchPolicyStore(),
  registry: async () => (await import("./registry.ts")).benchRegistry(),
  search: async () => (await import("./search.ts")).benchSearch(),
  sessions: async () => (await import("./sessions.ts")).benchSessions(),
  messaging: async () => (await import("./sessions.ts")).benchMessaging(),
}

const names = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--")) // options (--items N) are the benches' own
const unknown = names.filter(n => !(n in BENCHES))
if (unknown.length > 0) {
  console.error(`unknown bench: ${unknown.join(", ")}; known: ${Object.keys(BENCHES).join(", ")}`)
  process.exit(2)
}
for (const name of names.length > 0 ? names : Object.keys(BENCHES)) await BENCHES[name]!()
process.exit(0)
