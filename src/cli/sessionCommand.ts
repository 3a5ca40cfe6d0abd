/**
 * `fedhub session create|list|show|invites|invite|join|decline|send|tail|edit|propose|vote|sign|verify|rate|pause|resume|close`:
 * cross-instance sessions through the running hub's admin API (issue 14).
 */
import { request as httpRequest } from "node:http"
import { request as httpsRequest } from "node:https"
import { Command, Option } from "commander"
import { FedhubError } from "../errors.ts"
import { readAdminToken, readRunInfo, resolveHome } from "../hub/home.ts"
import { adminBase, openAdminClient } from "./adminClient.ts"
import { collect, printResult as out, withHubOptions as common, type CommonOptions as Common } from "./options.ts"
import type { MessageView, SessionSummary, SessionView, SharedDocView } from "../collaboration/SessionService.ts"
import type { AgreementView, DecisionView } from "../collaboration/decisions.ts"

const enc = (ref: string) => encodeURIComponent(ref)

const formatSummary = (s: SessionSummary): string =>
  `${s.url}  ${s.name} (${s.type}, ${s.privacyLevel})  ${s.status}  initiator ${s.initiator}  this hub: ${s.role}, ${s.myStatus}  ${s.joined}/${s.participants} joined`

const formatDecision = (d: DecisionView): string => `  decision ${d.proposalId.slice(0, 12)} "${d.title}"  ${d.status}: ${d.reason}`

const formatAgreement = (a: AgreementView): string =>
  [
    `  agreement ${a.agreementId.slice(0, 12)} "${a.title}"  ${a.complete ? "signed by all" : `missing ${a.missing.length}`}  sha256 ${a.textHash.slice(0, 16)}…`,
    ...a.signatures.map(s => `    ${s.verified ? "✓" : "✗"} ${s.signer}${s.reason ? `: ${s.reason}` : ""}`),
  ].join("\n")

/** A session: definition, participants, state, documents, decisions, agreements, metrics. */
export function formatSession(s: SessionView): string {
  const m = s.metrics
  return [
    formatSummary(s),
    `  ${s.reason}; active ${Math.round(m.duration / 1000)} s of ${s.metadata.expectedDuration} min expected${s.endedAt ? `, ended ${new Date(s.endedAt).toISOString()}` : ""}`,
    ...s.participantList.map(p => `  ${p.nodeId}  ${p.role}  ${p.status}  [${p.permissions.join(",")}]`),
    `  recording ${s.configuration.recordingEnabled ? "on" : "off"}, content ${s.configuration.dataSharing.allowContent ? "shared" : "kept on its hub"}, retention ${s.configuration.dataSharing.retentionPeriod} days${s.contentPurged ? " (purged)" : ""}, consensus ${s.configuration.consensusRequired ? "required" : "majority"}`,
    ...s.documents.map(d => `  document ${d.url}  "${d.title}"  held by ${d.holder}${d.shared ? "" : " (not shared)"}${d.held ? "" : " (not here)"}`),
    ...s.decisions.map(formatDecision),
    ...s.agreements.map(formatAgreement),
    `  messages ${m.messageCount} (${m.dataExchanged} bytes), satisfaction ${m.participantSatisfaction ?? "-"}, output ${m.outputQuality ?? "-"}, trust ${m.trustScore}, conflicts ${m.conflictCount}`,
    ...s.refused.map(r => `  ! refused ${r.key}: ${r.reason}`),
  ].join("\n")
}

const formatMessage = (m: MessageView): string => `${new Date(m.time).toISOString()}  ${m.sender}  ${m.text}${m.late ? "  (late)" : ""}`
const formatDoc = (d: SharedDocView): string => `${d.url}  "${d.title}"  holder ${d.holder}${d.conflicts ? `  ${d.conflicts} conflict(s)` : ""}\n${d.text}`

const parseJsonOption = (name: string, v: string): unknown => {
  try {
    return JSON.parse(v)
  } catch (e) {
    throw new FedhubError("INVALID_INPUT", `${name} must be JSON: ${(e as Error).message}`)
  }
}

/** Follows `<hub>/api/sessions/<ref>/stream`, calling `onEvent` per server-sent event until `stop()` resolves true. */
async function follow(o: Common, path: string, onEvent: (event: string, data: unknown) => boolean): Promise<void> {
  const paths = resolveHome(o.home)
  const base = o.hub ?? process.env.FEDHUB_URL ?? (await readRunInfo(paths))?.url
  if (!base) throw new FedhubError("HUB_UNREACHABLE", `no hub is running on ${paths.home}: start one, or pass --hub URL`)
  const token = o.token ?? process.env.FEDHUB_TOKEN ?? (await readAdminToken(paths))
  const url = new URL(`${adminBase(base)}/api${path}`)
  await new Promise<void>((resolve, reject) => {
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } }, res => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => {
          const p = (() => {
            try {
              return JSON.parse(Buffer.concat(chunks).toString("utf8")) as { code?: string; detail?: string }
            } catch {
              return {}
            }
          })()
          reject(new FedhubError((p.code ?? "INTERNAL") as never, p.detail ?? `HTTP ${res.statusCode}`))
        })
        return
      }
      let buf = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        buf += chunk
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const frame = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const event = /^event: (.*)$/m.exec(frame)?.[1]
          const data = /^data: (.*)$/m.exec(frame)?.[1]
          if (!event || data === undefined) continue
          if (onEvent(event, JSON.parse(data))) {
            req.destroy()
            resolve()
            return
          }
        }
      })
      res.on("end", () => resolve())
      res.on("error", reject)
    })
    req.on("error", e => reject(new FedhubError("HUB_UNREACHABLE", `${base}: ${e.message}`)))
    req.end()
  })
}

export function sessionCommand(): Command {
  const session = new Command("session").description("cross-instance collaboration sessions: invitations, channel, shared documents, decisions, agreements")
  const call = async <T>(o: Common, method: string, path: string, body?: unknown): Promise<T> => (await openAdminClient(o)).call<T>(method, path, body)

  common(session.command("create"))
    .description("start a session initiated by this hub")
    .option("--name <name>", "its name")
    .option("--description <text>", "what it is about")
    .addOption(new Option("--type <type>", "what it is for").choices(["persona_collaboration", "knowledge_sharing", "joint_research", "model_training", "consultation", "brainstorming"]))
    .option("--participant <nodeId>", "a participant (repeatable; NODE or NODE:role with role moderator|participant|observer)", collect)
    .addOption(new Option("--privacy <level>", "who may read the session document").choices(["public", "private", "restricted"]))
    .option("--no-recording", "do not keep a transcript")
    .option("--no-content", "shared documents stay on the hub that holds them")
    .option("--consensus", "decisions need every joined voter's yes")
    .option("--retention <days>", "days the content is kept after the session ends (0: kept)")
    .option("--expected <minutes>", "expected duration")
    .option("--tag <tag>", "a tag (repeatable)", collect)
    .option("--category <c>", "a category")
    .option("--config <json>", "any part of the configuration, as JSON")
    .action(async (o: Common & { name?: string; description?: string; type?: string; participant?: string[]; privacy?: string; recording: boolean; content: boolean; consensus?: boolean; retention?: string; expected?: string; tag?: string[]; category?: string; config?: string }) => {
      const configuration: Record<string, unknown> = { ...(o.config ? (parseJsonOption("--config", o.config) as object) : {}) }
      if (o.privacy) configuration.privacyLevel = o.privacy
      if (!o.recording) configuration.recordingEnabled = false
      if (o.consensus) configuration.consensusRequired = true
      const dataSharing: Record<string, unknown> = { ...((configuration.dataSharing as object | undefined) ?? {}) }
      if (!o.content) dataSharing.allowContent = false
      if (o.retention !== undefined) dataSharing.retentionPeriod = Number(o.retention)
      if (Object.keys(dataSharing).length > 0) configuration.dataSharing = dataSharing
      const participants = (o.participant ?? []).map(p => {
        const [nodeId, role] = p.split(":")
        return role ? { nodeId, role } : nodeId
      })
      const body = { name: o.name, description: o.description, type: o.type, participants, configuration, expectedDuration: o.expected === undefined ? undefined : Number(o.expected), tags: o.tag, category: o.category }
      const made = await call<SessionView>(o, "POST", "/sessions", JSON.parse(JSON.stringify(body)))
      out(o, made, () => formatSession(made))
    })
  common(session.command("list"))
    .description("the sessions this hub holds")
    .action(async (o: Common) => {
      const l = await call<{ sessions: SessionSummary[] }>(o, "GET", "/sessions")
      out(o, l, () => (l.sessions.length === 0 ? "no sessions" : l.sessions.map(formatSummary).join("\n")))
    })
  common(session.command("invites"))
    .description("sessions this hub is invited to and has not answered")
    .action(async (o: Common) => {
      const l = await call<{ invites: SessionSummary[] }>(o, "GET", "/sessions/invites")
      out(o, l, () => (l.invites.length === 0 ? "no invitations" : l.invites.map(formatSummary).join("\n")))
    })
  common(session.command("show <ref>"))
    .description("one session: participants, state, documents, decisions, agreements, metrics")
    .action(async (ref: string, o: Common) => {
      const s = await call<SessionView>(o, "GET", `/sessions/${enc(ref)}`)
      out(o, s, () => formatSession(s))
    })
  for (const [name, what] of [["join", "join a session this hub is invited to"], ["decline", "decline an invitation"]] as const)
    common(session.command(`${name} <ref>`))
      .description(`${what} (signed by this hub)`)
      .option("--reason <text>", "why")
      .action(async (ref: string, o: Common & { reason?: string }) => {
        const s = await call<SessionView>(o, "POST", `/sessions/${enc(ref)}/${name}`, o.reason ? { reason: o.reason } : {})
        out(o, s, () => formatSession(s))
      })
  common(session.command("invite <ref> <node>"))
    .description("invite one more participant, NODE or NODE:role (the initiator only; a restricted session only with an approved decision)")
    .option("--decision <id>", "the approved decision that admits it (restricted sessions)")
    .action(async (ref: string, node: string, o: Common & { decision?: string }) => {
      const [nodeId, role] = node.split(":")
      const body = { participant: role ? { nodeId, role } : nodeId, ...(o.decision ? { decisionId: o.decision } : {}) }
      const s = await call<SessionView>(o, "POST", `/sessions/${enc(ref)}/invites`, body)
      out(o, s, () => formatSession(s))
    })
  common(session.command("send <ref> <text>"))
    .description("send a signed message on the session's channel")
    .option("--channel <name>", "the channel (default main)")
    .action(async (ref: string, text: string, o: Common & { channel?: string }) => {
      const m = await call<MessageView>(o, "POST", `/sessions/${enc(ref)}/messages`, { text, ...(o.channel ? { channel: o.channel } : {}) })
      out(o, m, () => formatMessage(m))
    })
  common(session.command("tail <ref>"))
    .description("the channel's recent messages, then follow it live (Ctrl-C stops)")
    .option("--count <n>", "stop after this many new messages")
    .option("--last <n>", "recent messages shown first (default 20)", "20")
    .action(async (ref: string, o: Common & { count?: string; last: string }) => {
      const print = (m: MessageView) => console.log(o.json ? JSON.stringify(m) : formatMessage(m))
      const recent = await call<{ messages: MessageView[] }>(o, "GET", `/sessions/${enc(ref)}/messages`)
      const shown = new Set<string>()
      for (const m of recent.messages.slice(-Number(o.last))) {
        shown.add(m.id)
        print(m)
      }
      let left = o.count === undefined ? Infinity : Number(o.count)
      if (left <= 0) return
      await follow(o, `/sessions/${enc(ref)}/stream`, (event, data) => {
        if (event !== "message") return false
        const m = data as MessageView
        if (shown.has(m.id)) return false
        shown.add(m.id)
        print(m)
        return --left <= 0
      })
    })
  common(session.command("edit <ref> [doc]"))
    .description("edit a shared document (without [doc]: create one with --title)")
    .option("--title <title>", "the title of a new document")
    .option("--text <text>", "the whole new text (the change is the character diff)")
    .option("--insert <pos:text>", "insert text at a position")
    .option("--delete <pos:len>", "delete characters at a position")
    .option("--set <key=json>", "set a structured value of the document's data")
    .action(async (ref: string, doc: string | undefined, o: Common & { title?: string; text?: string; insert?: string; delete?: string; set?: string }) => {
      if (doc === undefined) {
        if (!o.title) throw new FedhubError("INVALID_INPUT", "a new shared document needs --title (or name the document to edit)")
        const made = await call<SharedDocView>(o, "POST", `/sessions/${enc(ref)}/documents`, { title: o.title, ...(o.text === undefined ? {} : { text: o.text }) })
        return out(o, made, () => formatDoc(made))
      }
      let body: Record<string, unknown>
      const at = (v: string, name: string): [number, string] => {
        const i = v.indexOf(":")
        if (i < 0 || !/^\d+$/.test(v.slice(0, i))) throw new FedhubError("INVALID_INPUT", `${name} is POS:${name === "--insert" ? "TEXT" : "LEN"}`)
        return [Number(v.slice(0, i)), v.slice(i + 1)]
      }
      if (o.text !== undefined) body = { text: o.text }
      else if (o.insert !== undefined) {
        const [pos, insert] = at(o.insert, "--insert")
        body = { splice: { pos, insert } }
      } else if (o.delete !== undefined) {
        const [pos, len] = at(o.delete, "--delete")
        body = { splice: { pos, del: Number(len) } }
      } else if (o.set !== undefined) {
        const i = o.set.indexOf("=")
        if (i < 1) throw new FedhubError("INVALID_INPUT", "--set is KEY=JSON")
        body = { set: { key: o.set.slice(0, i), value: parseJsonOption("--set", o.set.slice(i + 1)) } }
      } else {
        const d = await call<SharedDocView>(o, "GET", `/sessions/${enc(ref)}/documents/${enc(doc)}`)
        return out(o, d, () => formatDoc(d))
      }
      const d = await call<SharedDocView>(o, "POST", `/sessions/${enc(ref)}/documents/${enc(doc)}/edit`, body)
      out(o, d, () => formatDoc(d))
    })
  common(session.command("propose <ref> <title>"))
    .description("propose a decision (signed)")
    .option("--description <text>", "details")
    .action(async (ref: string, title: string, o: Common & { description?: string }) => {
      const d = await call<DecisionView>(o, "POST", `/sessions/${enc(ref)}/proposals`, { title, ...(o.description ? { description: o.description } : {}) })
      out(o, d, () => `${d.proposalId}\n${formatDecision(d)}`)
    })
  common(session.command("vote <ref> <proposalId>"))
    .description("vote on a proposal (signed)")
    .addOption(new Option("--approve", "vote yes").conflicts("refuse"))
    .addOption(new Option("--refuse", "vote no"))
    .option("--reason <text>", "why")
    .action(async (ref: string, proposalId: string, o: Common & { approve?: boolean; refuse?: boolean; reason?: string }) => {
      if (!o.approve && !o.refuse) throw new FedhubError("INVALID_INPUT", "say --approve or --refuse")
      const d = await call<DecisionView>(o, "POST", `/sessions/${enc(ref)}/proposals/${proposalId}/votes`, { approve: o.approve === true, ...(o.reason ? { reason: o.reason } : {}) })
      out(o, d, () => formatDecision(d).trimStart())
    })
  common(session.command("sign <ref> [agreementId]"))
    .description("sign an agreement's exact text (without an id: propose one with --title and --text, signed first by this hub)")
    .option("--title <title>", "a new agreement's title")
    .option("--text <text>", "a new agreement's exact text")
    .action(async (ref: string, agreementId: string | undefined, o: Common & { title?: string; text?: string }) => {
      let a: AgreementView
      if (agreementId === undefined) {
        if (!o.title || !o.text) throw new FedhubError("INVALID_INPUT", "a new agreement needs --title and --text (or name the agreement to sign)")
        a = await call<AgreementView>(o, "POST", `/sessions/${enc(ref)}/agreements`, { title: o.title, text: o.text })
      } else a = await call<AgreementView>(o, "POST", `/sessions/${enc(ref)}/agreements/${agreementId}/sign`)
      out(o, a, () => `${a.agreementId}\n${formatAgreement(a)}`)
    })
  common(session.command("verify <ref> [agreementId]"))
    .description("who signed what and whether it verifies (with --text: against that exact text)")
    .option("--text <text>", "the text to check the signatures against")
    .action(async (ref: string, agreementId: string | undefined, o: Common & { text?: string }) => {
      if (agreementId === undefined) {
        const l = await call<{ agreements: AgreementView[] }>(o, "GET", `/sessions/${enc(ref)}/agreements`)
        return out(o, l, () => (l.agreements.length === 0 ? "no agreements" : l.agreements.map(formatAgreement).join("\n")))
      }
      const v = await call<{ agreementId: string; textHash: string; matchesSession: boolean; signatures: { signer: string; verified: boolean; reason?: string }[] }>(o, "POST", `/sessions/${enc(ref)}/agreements/${agreementId}/verify`, o.text === undefined ? {} : { text: o.text })
      out(o, v, () => [`${v.agreementId}  sha256 ${v.textHash}${v.matchesSession ? "" : "  (not the text the session holds)"}`, ...v.signatures.map(s => `  ${s.verified ? "✓" : "✗"} ${s.signer}${s.reason ? `: ${s.reason}` : ""}`)].join("\n"))
    })
  common(session.command("rate <ref>"))
    .description("rate the session (signed; satisfaction and output quality 1-5)")
    .requiredOption("--satisfaction <n>", "1..5")
    .requiredOption("--output <n>", "output quality 1..5")
    .option("--comment <text>", "a comment")
    .action(async (ref: string, o: Common & { satisfaction: string; output: string; comment?: string }) => {
      const s = await call<SessionView>(o, "POST", `/sessions/${enc(ref)}/ratings`, { satisfaction: Number(o.satisfaction), outputQuality: Number(o.output), ...(o.comment ? { comment: o.comment } : {}) })
      out(o, s, () => formatSession(s))
    })
  for (const [name, what] of [["pause", "pause an active session"], ["resume", "resume a paused session"], ["close", "complete the session (--fail: it failed)"]] as const) {
    const cmd = common(session.command(`${name} <ref>`)).description(`${what} (initiator or moderator, signed)`).option("--reason <text>", "why")
    if (name === "close") cmd.option("--fail", "the session failed")
    cmd.action(async (ref: string, o: Common & { reason?: string; fail?: boolean }) => {
      const s = await call<SessionView>(o, "POST", `/sessions/${enc(ref)}/${name}`, { ...(o.reason ? { reason: o.reason } : {}), ...(o.fail ? { fail: true } : {}) })
      out(o, s, () => formatSession(s))
    })
  }
  return session
}
