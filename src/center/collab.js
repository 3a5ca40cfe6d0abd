// The Collaboration tab: invitations (accept, decline), sessions, start one with known
// hubs, and one session's live channel, shared documents co-edited from a textarea,
// decisions and agreements with their verified signatures. Everything goes through
// /api/sessions; `event: session` and `event: session-message` on the page's event
// stream say what changed, and the tab fetches it again.

import { clearErrors, diff, field, fieldError, fmtTime, h, mapPos, rebase, select, showProblems } from "./dom.js"

const TYPES = ["brainstorming", "persona_collaboration", "knowledge_sharing", "joint_research", "model_training", "consultation"]
const $ = id => document.getElementById(id)

export function initCollab(ctx) {
  const { api, act, notice, short, enc, peerName, peers, self } = ctx
  const s = { sessions: undefined, invites: undefined, url: undefined, documentId: undefined, view: undefined, messages: new Map(), doc: undefined, loading: false, again: false }
  const ref = () => enc(s.url)

  $("sc-type").replaceChildren(...TYPES.map(t => new Option(t.replace(/_/g, " "), t)))

  // ---- lists

  async function loadLists() {
    try {
      const [list, inv] = await Promise.all([api("GET", "/api/sessions"), api("GET", "/api/sessions/invites")])
      s.sessions = list.sessions
      s.invites = inv.invites
      renderLists()
    } catch (e) {
      $("sessions-empty").hidden = false
      $("sessions-empty").textContent = `Could not load the sessions: ${e.message}`
    }
  }

  function renderLists() {
    $("invite-list").replaceChildren(
      ...s.invites.map(x => {
        const from = peerName(x.initiator)
        return h(
          "li",
          { "data-document-id": x.documentId },
          h("strong", {}, x.name),
          ` from ${from} · ${x.status} `,
          h("button", { type: "button", "aria-label": `Accept the invitation to ${x.name}`, onclick: () => void act(`Joined ${x.name}`, () => api("POST", `/api/sessions/${enc(x.url)}/join`, {}).then(() => loadLists().then(() => choose(x.url)))) }, "Accept"),
          " ",
          h("button", { type: "button", className: "danger", "aria-label": `Decline the invitation to ${x.name}`, onclick: () => void act(`Declined ${x.name}`, () => api("POST", `/api/sessions/${enc(x.url)}/decline`, {}).then(loadLists)) }, "Decline"),
        )
      }),
    )
    $("invites-empty").hidden = s.invites.length > 0
    $("invites-empty").textContent = "No invitation waiting."
    $("session-list").replaceChildren(
      ...s.sessions.map(x =>
        h(
          "li",
          { "data-document-id": x.documentId },
          h(
            "button",
            { type: "button", className: "linkish", "aria-current": x.documentId === s.documentId ? "true" : undefined, onclick: () => void choose(x.url) },
            h("span", { className: "name" }, x.name),
            h("span", { className: "meta" }, `${x.status} · ${x.joined}/${x.participants} joined · you: ${x.role}, ${x.myStatus}`),
          ),
        ),
      ),
    )
    $("sessions-empty").hidden = s.sessions.length > 0
    $("sessions-empty").textContent = "No session yet: start one, or accept an invitation."
  }

  // ---- create

  function fillParticipants() {
    const box = $("sc-participants")
    const checked = new Set([...box.querySelectorAll("input:checked")].map(i => i.value))
    const list = peers().filter(p => !p.blocked)
    box.replaceChildren(
      ...list.map(p => {
        const id = `sc-p-${p.nodeId}`
        return h("div", { className: "check" }, h("input", { type: "checkbox", id, value: p.nodeId, checked: checked.has(p.nodeId) }), h("label", { for: id }, `${p.name || short(p.nodeId)} `, h("span", { className: "meta" }, `${short(p.nodeId)} · ${p.trust}`)))
      }),
    )
    $("sc-participants-empty").hidden = list.length > 0
  }

  $("session-create").addEventListener("submit", e => {
    e.preventDefault()
    const form = e.target
    clearErrors(form)
    const name = $("sc-name").value.trim()
    const participants = [...$("sc-participants").querySelectorAll("input:checked")].map(i => i.value)
    let bad = false
    if (!name) bad = fieldError(form, "sc-name", "Give the session a name.")
    if (participants.length === 0) bad = fieldError(form, "sc-participants", "Choose at least one hub to invite.") || bad
    if (bad) return void form.querySelector("[aria-invalid=true]")?.focus()
    api("POST", "/api/sessions", { name, type: $("sc-type").value, participants, configuration: { privacyLevel: $("sc-privacy").value } }).then(
      async created => {
        form.reset()
        fillParticipants()
        notice(`Started the session ${created.name}`)
        await loadLists()
        await choose(created.url)
      },
      x => showProblems(form, x, { name: "sc-name", participants: "sc-participants", type: "sc-type", privacyLevel: "sc-privacy", configuration: "sc-privacy" }, "sc-error"),
    )
  })

  // ---- one session

  const section = (id, title, ...body) => h("section", { className: "sub-card", id, "aria-labelledby": `${id}-title` }, h("h3", { id: `${id}-title` }, title), ...body)

  async function choose(url) {
    s.url = url
    s.documentId = url.replace(/^automerge:/, "")
    s.view = undefined
    s.messages = new Map()
    s.doc = undefined
    $("session-detail").replaceChildren(
      h("div", { id: "ss-head" }, h("p", { className: "empty" }, "Loading the session…")),
      section("ss-channel", "Channel", h("ol", { id: "ss-messages", className: "messages", "aria-live": "polite", "aria-label": "Messages", tabIndex: 0 }), sendForm()),
      section("ss-docs", "Shared documents", h("div", { id: "ss-doc-list" }), h("div", { id: "ss-editor" }), newDocForm()),
      section("ss-decisions", "Decisions", h("div", { id: "ss-decisions-body" }), proposeForm()),
      section("ss-agreements", "Agreements", h("div", { id: "ss-agreements-body" }), agreementForm()),
    )
    if (s.sessions) renderLists()
    await refresh()
    await loadMessages()
  }

  /** Fetches the session and its agreements again (one fetch at a time, one more queued). */
  async function refresh() {
    if (!s.url) return
    if (s.loading) return void (s.again = true)
    s.loading = true
    try {
      do {
        s.again = false
        const url = s.url
        let view, agreements
        try {
          ;[view, agreements] = await Promise.all([api("GET", `/api/sessions/${ref()}`), api("GET", `/api/sessions/${ref()}/agreements`).catch(() => ({ agreements: [] }))])
        } catch (e) {
          if (url === s.url) $("ss-head").replaceChildren(h("p", { className: "error" }, `Could not load this session: ${e.code ? `${e.code}: ` : ""}${e.message}`))
          continue
        }
        if (url !== s.url) continue
        s.view = view
        renderHead()
        renderDocs()
        renderDecisions()
        renderAgreements(agreements.agreements)
        if (s.doc) void s.doc.pull()
      } while (s.again)
    } finally {
      s.loading = false
    }
  }

  const me = () => self()?.nodeId
  const joined = () => s.view?.myStatus === "joined"

  function renderHead() {
    const v = s.view
    const dl = h("dl", { className: "facts" })
    const pairs = [
      ["Status", h("span", { id: "ss-status" }, `${v.status}${v.reason ? ` — ${v.reason}` : ""}`)],
      ["Type", v.type.replace(/_/g, " ")],
      ["Initiator", peerName(v.initiator)],
      ["Privacy", v.privacyLevel],
      ["You", `${v.role}, ${v.myStatus}`],
      ["Messages", `${v.metrics.messageCount}${v.configuration.recordingEnabled ? " (recorded)" : " (live only)"}`],
      ["Started", fmtTime(v.startedAt)],
    ]
    for (const [k, val] of pairs) dl.append(h("dt", {}, k), h("dd", {}, val))
    const people = h("ul", { className: "plain participants", "aria-label": "Participants" }, ...v.participantList.map(p => h("li", { "data-node-id": p.nodeId }, h("span", { className: `dot ${p.status === "joined" ? "up" : p.status === "declined" ? "down" : "none"}`, "aria-hidden": "true" }), `${peerName(p.nodeId)} — ${p.role}, ${p.status}`)))
    const actions = h("div", { className: "actions" })
    const post = (label, path) => h("button", { type: "button", onclick: () => void act(label, () => api("POST", `/api/sessions/${ref()}/${path}`, {}).then(refresh)) }, label)
    if (v.myStatus === "invited") actions.append(post("Join", "join"), post("Decline", "decline"))
    if (v.initiator === me() && v.status === "active") actions.append(post("Pause", "pause"), post("Close", "close"))
    if (v.initiator === me() && v.status === "paused") actions.append(post("Resume", "resume"), post("Close", "close"))
    $("ss-head").replaceChildren(h("h2", { id: "ss-name" }, v.name), v.description ? h("p", {}, v.description) : "", dl, people, actions, v.refused.length ? h("p", { className: "error" }, `Refused records: ${v.refused.map(r => `${r.key}: ${r.reason}`).join("; ")}`) : "")
  }

  // ---- channel

  async function loadMessages() {
    try {
      const r = await api("GET", `/api/sessions/${ref()}/messages`)
      for (const msg of r.messages) s.messages.set(msg.id, msg)
      renderMessages()
    } catch (e) {
      $("ss-messages").replaceChildren(h("li", { className: "empty" }, `Could not load the messages: ${e.message}`))
    }
  }

  function renderMessages() {
    const list = [...s.messages.values()].sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : 1))
    const box = $("ss-messages")
    if (!box) return
    box.replaceChildren(...(list.length ? list.map(msg => h("li", { "data-id": msg.id, className: msg.sender === me() ? "mine" : "" }, h("span", { className: "meta" }, `${peerName(msg.sender)} · ${new Date(msg.time).toLocaleTimeString()}`), h("span", { className: "text" }, msg.text))) : [h("li", { className: "empty" }, "No message yet.")]))
    box.scrollTop = box.scrollHeight
  }

  function sendForm() {
    const form = h("form", { className: "row send", "aria-label": "Send a message", novalidate: true })
    const input = h("input", { id: "ss-send-text", maxLength: 16000, placeholder: "Write to the participants", "aria-label": "Message" })
    form.append(input, h("button", { type: "submit" }, "Send"), h("p", { id: "ss-send-text-error", className: "field-error", role: "alert" }))
    form.addEventListener("submit", e => {
      e.preventDefault()
      clearErrors(form)
      const text = input.value.trim()
      if (!text) return void fieldError(form, "ss-send-text", "Write something first.")
      api("POST", `/api/sessions/${ref()}/messages`, { text }).then(
        msg => {
          input.value = ""
          if (msg?.id) s.messages.set(msg.id, msg)
          renderMessages()
        },
        x => showProblems(form, x, { text: "ss-send-text" }, "ss-send-text"),
      )
    })
    return form
  }

  // ---- shared documents

  function renderDocs() {
    const docs = s.view.documents
    const box = $("ss-doc-list")
    if (docs.length === 0) return void box.replaceChildren(h("p", { className: "empty" }, "No shared document yet."))
    box.replaceChildren(
      h(
        "ul",
        { className: "plain" },
        ...docs.map(d =>
          h(
            "li",
            { "data-document-id": d.documentId },
            d.held ? h("button", { type: "button", className: "linkish", "aria-current": s.doc?.id === d.documentId ? "true" : undefined, "aria-label": `Open the shared document ${d.title}`, onclick: () => void openDoc(d) }, d.title) : h("span", {}, d.title),
            h("span", { className: "meta" }, ` — held by ${peerName(d.holder)}${d.held ? "" : " (its content stays there)"}`),
          ),
        ),
      ),
    )
    if (!s.doc) {
      const first = docs.find(d => d.held)
      if (first) void openDoc(first)
    }
  }

  function newDocForm() {
    const form = h("form", { className: "inline-form", "aria-label": "New shared document", novalidate: true })
    const title = h("input", { maxLength: 200 })
    form.append(field("sd-title", "New document title", title), h("button", { type: "submit" }, "Create"), h("p", { id: "sd-error", className: "field-error", role: "alert" }))
    form.addEventListener("submit", e => {
      e.preventDefault()
      clearErrors(form)
      if (!title.value.trim()) return void fieldError(form, "sd-title", "Give it a title.")
      api("POST", `/api/sessions/${ref()}/documents`, { title: title.value.trim(), text: "" }).then(
        d => (form.reset(), notice(`Created ${d.title}`), void openDoc(d).then(refresh)),
        x => showProblems(form, x, { title: "sd-title" }, "sd-error"),
      )
    })
    return form
  }

  /**
   * The editor: a textarea whose edits go to the hub as splices, one request at a time.
   * Before each, the document is fetched fresh and the local change laid over it, so an
   * edit that arrived from another hub meanwhile is kept; the caret follows the merge. Each
   * splice carries the heads it was computed on, so one landing between the fetch and the
   * splice is kept in place too.
   */
  async function openDoc(d) {
    const id = d.documentId
    const area = h("textarea", { id: "ss-text", rows: 10, spellcheck: false, "aria-label": `Text of ${d.title}`, "aria-describedby": "ss-text-status" })
    const status = h("p", { id: "ss-text-status", className: "meta", role: "status" }, "loading…")
    $("ss-editor").replaceChildren(h("h4", {}, d.title), area, status)
    const doc = { id, base: "", busy: false, again: false }
    s.doc = doc
    renderDocs()
    const path = () => `/api/sessions/${ref()}/documents/${enc(d.url ?? id)}`
    const setArea = (text, change) => {
      if (area.value === text) return
      const focused = document.activeElement === area
      const [a, b] = [area.selectionStart, area.selectionEnd]
      area.value = text
      if (focused && change) area.setSelectionRange(mapPos(a, change), mapPos(b, change))
    }
    const sync = async () => {
      if (doc.busy) return void (doc.again = true)
      doc.busy = true
      try {
        do {
          doc.again = false
          const fresh = await api("GET", path())
          if (s.doc !== doc) return
          const local = area.value
          const merged = rebase(doc.base, local, fresh.text)
          const c = diff(fresh.text, merged)
          let server = fresh.text
          if (c.del > 0 || c.ins) {
            status.textContent = "saving…"
            // the splice names the version it was computed on: the hub moves it over any edit since
            server = (await api("POST", `${path()}/edit`, { splice: { pos: c.pos, del: c.del, insert: c.ins }, heads: fresh.heads })).text
          }
          if (s.doc !== doc) return
          // typed while the requests ran: laid over what the hub answered
          const now = area.value
          const next = rebase(local, now, server)
          setArea(next, diff(now, next))
          doc.base = server
          if (next !== server) doc.again = true
          status.textContent = `saved · ${server.length} characters · ${fresh.conflicts ?? 0} conflict(s)`
        } while (doc.again)
      } catch (e) {
        status.textContent = `not saved: ${e.code ? `${e.code}: ` : ""}${e.message}`
      } finally {
        doc.busy = false
      }
    }
    doc.pull = sync
    area.addEventListener("input", () => void sync())
    try {
      const first = await api("GET", path())
      doc.base = first.text
      area.value = first.text
      status.textContent = `saved · ${first.text.length} characters`
    } catch (e) {
      status.textContent = `could not load it: ${e.message}`
    }
  }

  // ---- decisions

  function renderDecisions() {
    const box = $("ss-decisions-body")
    const list = s.view.decisions
    if (list.length === 0) return void box.replaceChildren(h("p", { className: "empty" }, "No proposal yet."))
    box.replaceChildren(
      h(
        "ul",
        { className: "plain" },
        ...list.map(d => {
          const mine = d.votes.find(v => v.voter === me())
          const li = h(
            "li",
            { "data-proposal-id": d.proposalId },
            h("strong", {}, d.title),
            ` by ${peerName(d.proposer)} — `,
            h("span", { className: `outcome ${d.status}` }, d.status),
            ` (yes ${d.tally.yes}, no ${d.tally.no}, of ${d.tally.eligible})`,
            d.votes.length ? h("span", { className: "meta" }, ` · ${d.votes.map(v => `${peerName(v.voter)} ${v.approve ? "yes" : "no"}`).join(", ")}`) : "",
          )
          if (d.status === "pending" && joined())
            li.append(
              " ",
              h("button", { type: "button", "aria-pressed": mine?.approve === true ? "true" : "false", "aria-label": `Vote yes on ${d.title}`, onclick: () => void act(`Voted yes on ${d.title}`, () => api("POST", `/api/sessions/${ref()}/proposals/${d.proposalId}/votes`, { approve: true }).then(refresh)) }, "Yes"),
              " ",
              h("button", { type: "button", className: "danger", "aria-pressed": mine?.approve === false ? "true" : "false", "aria-label": `Vote no on ${d.title}`, onclick: () => void act(`Voted no on ${d.title}`, () => api("POST", `/api/sessions/${ref()}/proposals/${d.proposalId}/votes`, { approve: false }).then(refresh)) }, "No"),
            )
          return li
        }),
      ),
    )
  }

  function proposeForm() {
    const form = h("form", { className: "inline-form", "aria-label": "Propose a decision", novalidate: true })
    const title = h("input", { maxLength: 500 })
    form.append(field("sp-title", "Propose", title), h("button", { type: "submit" }, "Propose"), h("p", { id: "sp-error", className: "field-error", role: "alert" }))
    form.addEventListener("submit", e => {
      e.preventDefault()
      clearErrors(form)
      if (!title.value.trim()) return void fieldError(form, "sp-title", "Say what is proposed.")
      api("POST", `/api/sessions/${ref()}/proposals`, { title: title.value.trim() }).then(
        () => (form.reset(), notice("Proposed"), void refresh()),
        x => showProblems(form, x, { title: "sp-title" }, "sp-error"),
      )
    })
    return form
  }

  // ---- agreements

  function renderAgreements(list) {
    const box = $("ss-agreements-body")
    if (list.length === 0) return void box.replaceChildren(h("p", { className: "empty" }, "No agreement yet."))
    box.replaceChildren(
      ...list.map(a => {
        const signedByMe = a.signatures.some(x => x.signer === me() && x.verified)
        return h(
          "article",
          { className: "agreement", "data-agreement-id": a.agreementId, "aria-labelledby": `ag-${a.agreementId}` },
          h("h4", { id: `ag-${a.agreementId}` }, a.title, a.complete ? h("span", { className: "badge ok" }, "complete") : ""),
          h("pre", { className: "agreement-text", tabIndex: 0, "aria-label": `Text of ${a.title}` }, a.text),
          h("p", { className: "meta" }, `SHA-256 ${short(a.textHash)} · proposed by ${peerName(a.proposer)}`),
          h(
            "ul",
            { className: "plain signatures", "aria-label": `Signatures of ${a.title}` },
            ...a.signatures.map(x => h("li", { "data-signer": x.signer, className: x.verified ? "verified" : "unverified" }, h("span", { "aria-hidden": "true" }, x.verified ? "✓ " : "✗ "), `${peerName(x.signer)} — ${x.verified ? "verified" : `does not verify${x.reason ? `: ${x.reason}` : ""}`}`)),
            ...a.missing.map(n => h("li", { className: "missing" }, `… ${peerName(n)} has not signed`)),
          ),
          !signedByMe && joined() ? h("button", { type: "button", "aria-label": `Sign ${a.title}`, onclick: () => void act(`Signed ${a.title}`, () => api("POST", `/api/sessions/${ref()}/agreements/${a.agreementId}/sign`, {}).then(refresh)) }, "Sign") : "",
        )
      }),
    )
  }

  function agreementForm() {
    const form = h("form", { className: "grid-form", "aria-label": "Propose an agreement", novalidate: true })
    const title = h("input", { maxLength: 500 })
    const text = h("textarea", { rows: 3, maxLength: 100000 })
    form.append(field("sa-title", "Agreement title", title), field("sa-text", "Exact text", text), h("div", { className: "form-actions" }, h("button", { type: "submit" }, "Propose and sign")), h("p", { id: "sa-error", className: "field-error", role: "alert" }))
    form.addEventListener("submit", e => {
      e.preventDefault()
      clearErrors(form)
      let bad = false
      if (!title.value.trim()) bad = fieldError(form, "sa-title", "Give it a title.")
      if (!text.value.trim()) bad = fieldError(form, "sa-text", "Write the text to sign.") || bad
      if (bad) return
      api("POST", `/api/sessions/${ref()}/agreements`, { title: title.value.trim(), text: text.value }).then(
        () => (form.reset(), notice("Agreement proposed and signed"), void refresh()),
        x => showProblems(form, x, { title: "sa-title", text: "sa-text" }, "sa-error"),
      )
    })
    return form
  }

  // ---- live

  let listTimer
  return {
    open() {
      fillParticipants()
      if (!s.sessions) void loadLists()
    },
    onState() {
      if (!$("panel-collab").hidden) fillParticipants()
    },
    /** `event: session`: a session's summary changed on this hub. */
    onSession(summary) {
      if (s.sessions === undefined && $("panel-collab").hidden) return
      clearTimeout(listTimer)
      listTimer = setTimeout(() => void loadLists(), 0)
      if (summary && summary.documentId === s.documentId) void refresh()
    },
    /** The event stream (re)opened: what was missed while it was down is fetched again. */
    resync() {
      if (s.sessions === undefined) return
      void loadLists()
      if (s.url) void refresh().then(loadMessages)
    },
    /** `event: session-message`: a channel message was delivered here. */
    onMessage({ sessionId, message }) {
      if (sessionId !== s.documentId || !message) return
      s.messages.set(message.id, message)
      renderMessages()
    },
  }
}
