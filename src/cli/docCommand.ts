/** `fedhub doc …`: create, put, show, log, diff and conflicts for any document URL. */
import { Command } from "commander"
import type { PolicyView } from "../replication/DocStore.ts"
import { FedhubError } from "../errors.ts"
import { formatConflicts, formatLog, formatPatches, formatWritten, parseHeads } from "../replication/historyText.ts"
import { openDocClient, type DocClient, type DocClientOptions } from "./docClient.ts"
import { printResult, withHubOptions, type CommonOptions } from "./options.ts"

interface Common extends DocClientOptions, CommonOptions {}

const withClient = async <T>(o: Common, fn: (c: DocClient) => Promise<T>): Promise<T> => {
  const client = await openDocClient(o)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

/** A value on the command line: JSON when it parses as JSON, else the literal string. */
export const parseValueArg = (raw: string): unknown => {
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

const parseContent = (raw: string | undefined): unknown => {
  if (raw === undefined) return {}
  try {
    return JSON.parse(raw)
  } catch (e) {
    throw new FedhubError("INVALID_INPUT", `content must be a JSON object: ${(e as Error).message}`)
  }
}

const print = printResult

const formatPolicy = (p: PolicyView): string =>
  p.legacy
    ? `${p.documentId}: no policy (a document from before policies: its legacy ACL, else every hub)`
    : [
        `${p.documentId}: policy v${p.version} of ${p.owner}${p.conflict ? ` (CONFLICT: ${p.heads.length} concurrent versions)` : ""}`,
        `  admins:  ${p.admins.join(" ") || "-"}`,
        `  writers: ${p.writers.join(" ") || "-"}`,
        `  readers: ${p.readers.join(" ") || "-"}`,
        `  relays:  ${p.relays.join(" ") || "-"}`,
        ...p.refused.map(r => `  refused ${r.id ?? "?"}: ${r.code}: ${r.reason}`),
        ...(p.refusedChanges ?? []).map(
          r => `  refused change ${r.hash.slice(0, 12)} by ${r.author ?? `unbound actor ${r.actor.slice(0, 8)}`}: ${r.reason} (sent by ${r.from}, ${new Date(r.at).toISOString()})`,
        ),
      ].join("\n")

const summaryText = (s: { url: string; heads: string[]; content: unknown }) =>
  `${s.url}\nheads: ${s.heads.join(",")}\n${JSON.stringify(s.content, null, 2)}`

const common = (cmd: Command): Command =>
  withHubOptions(cmd).option("--offline", "read and write the home's storage directly (the hub must be stopped)")

export function docCommand(): Command {
  const doc = new Command("doc").description("inspect and edit documents: history, diffs, conflicts")

  common(doc.command("create [content]"))
    .description("create a document from a JSON object (strings are stored atomic unless --text)")
    .option("--text", "store strings as collaborative text")
    .option("--share <nodes...>", "who may read it: node ids, or public (default: private to this hub)")
    .option("--writers <nodes...>", "node ids that may also write it")
    .option("--relays <nodes...>", "node ids that may hold and forward it without reading it")
    .action(async (content: string | undefined, o: Common & { text?: boolean; share?: string[]; writers?: string[]; relays?: string[] }) => {
      const s = await withClient(o, c => c.create(parseContent(content), { text: o.text, readers: o.share, writers: o.writers, relays: o.relays }))
      print(o, s, () => s.url)
    })

  common(doc.command("share <url> <nodes...>"))
    .description("let more nodes read (or --write, or --relay) a document: a new policy version signed by this hub")
    .option("--write", "they may also write")
    .option("--relay", "they may only hold and forward it")
    .action(async (url: string, nodes: string[], o: Common & { write?: boolean; relay?: boolean }) => {
      const add = o.relay ? { relays: nodes } : o.write ? { writers: nodes } : { readers: nodes }
      const p = await withClient(o, c => c.share(url, add))
      print(o, p, () => formatPolicy(p))
    })

  common(doc.command("unshare <url> <nodes...>"))
    .description("take every right on a document away from nodes; running syncs with them stop at once")
    .action(async (url: string, nodes: string[], o: Common) => {
      const p = await withClient(o, c => c.unshare(url, nodes))
      print(o, p, () => formatPolicy(p))
    })

  common(doc.command("policy <url>"))
    .description("who may read, write, relay and administer a document, and any refused policy records")
    .action(async (url: string, o: Common) => {
      const p = await withClient(o, c => c.policy(url))
      print(o, p, () => formatPolicy(p))
    })

  common(doc.command("put <url> <path> <value>"))
    .description("set the value at a path (a.b.0.c or /a/b/0/c); value is JSON, or a plain string")
    .option("--text", "store strings as collaborative text")
    .option("-m, --message <message>", "change message")
    .action(async (url: string, path: string, value: string, o: Common & { text?: boolean; message?: string }) => {
      const s = await withClient(o, c => c.put(url, path, parseValueArg(value), { text: o.text, message: o.message }))
      print(o, s, () => `heads: ${s.heads.join(",")}`)
    })

  common(doc.command("rm <url> <path>"))
    .description("delete the value at a path")
    .option("-m, --message <message>", "change message")
    .action(async (url: string, path: string, o: Common & { message?: string }) => {
      const s = await withClient(o, c => c.del(url, path, { message: o.message }))
      print(o, s, () => `heads: ${s.heads.join(",")}`)
    })

  common(doc.command("show <url>"))
    .description("print the document, now or --at earlier heads; --authors or --by <node>: who wrote each value")
    .option("--at <heads>", "comma-separated change hashes (from doc log)")
    .option("--authors", "list every value with the node(s) that wrote it")
    .option("--by <node>", "list the values a node wrote")
    .action(async (url: string, o: Common & { at?: string; authors?: boolean; by?: string }) => {
      if (o.authors || o.by !== undefined) {
        if (o.at !== undefined) throw new FedhubError("INVALID_INPUT", "--authors and --by show the document now; drop --at")
        const values = await withClient(o, c => c.writtenBy(url, o.by))
        return print(o, values, () => formatWritten(values))
      }
      const heads = o.at === undefined ? undefined : parseHeads(o.at)
      const s = await withClient(o, c => c.show(url, heads))
      print(o, s, () => summaryText(s))
    })

  common(doc.command("log <url>"))
    .description("one line per change, newest first: hash, verified author (or unattributed), time, ops, message")
    .option("--limit <n>", "at most n changes", v => {
      if (!/^\d+$/.test(v)) throw new FedhubError("INVALID_INPUT", "--limit must be a whole number")
      return Number(v)
    })
    .action(async (url: string, o: Common & { limit?: number }) => {
      const entries = await withClient(o, c => c.log(url, o.limit))
      print(o, entries, () => formatLog(entries))
    })

  common(doc.command("diff <url> <headsA> <headsB>"))
    .description("readable patches from headsA to headsB")
    .action(async (url: string, a: string, b: string, o: Common) => {
      const from = parseHeads(a)
      const to = parseHeads(b)
      const patches = await withClient(o, c => c.diff(url, from, to))
      print(o, patches, () => formatPatches(patches))
    })

  common(doc.command("conflicts <url>"))
    .description("every field holding concurrent values, with the values and the actors that wrote them")
    .action(async (url: string, o: Common) => {
      const list = await withClient(o, c => c.conflicts(url))
      print(o, list, () => formatConflicts(list))
    })

  return doc
}
