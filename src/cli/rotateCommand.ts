/** `fedhub rotate`: rotates the running hub's key through its admin API (POST /api/rotate). */
import { Command } from "commander"
import { openAdminClient } from "./adminClient.ts"
import { printResult as out, withHubOptions as common, type CommonOptions as Common } from "./options.ts"
import type { RotationReport } from "../hub/rotateIdentity.ts"

/** What `fedhub rotate` prints: the move, the policies handed over, where the old key is kept. */
export function formatRotation(r: RotationReport): string {
  return [
    `rotated ${r.oldId}`,
    `     to ${r.newId}`,
    `record ${r.record.purpose}, signed by the old key and counter-signed by the new one, published in this hub's directory`,
    `${r.policies.length} document polic${r.policies.length === 1 ? "y names" : "ies name"} the new id an admin (the old id stays owner)`,
    `old key kept as ${r.archived}; links redial under the new id`,
  ].join("\n")
}

export function rotateCommand(): Command {
  return common(new Command("rotate"))
    .description("rotate the running hub's key: a new key, a rotation record signed by both, links redialed; peers carry trust over")
    .action(async (o: Common) => {
      const api = await openAdminClient(o)
      const r = await api.call<RotationReport>("POST", "/rotate")
      out(o, r, () => formatRotation(r))
    })
}
