// The Federation Center: a page over this hub's REST API. It signs in with the admin
// token (kept in sessionStorage, sent as Authorization: Bearer), renders what
// GET /api/events streams (server-sent events read through fetch, so the token stays
// in a header), and acts through the REST API. It never polls.

import { initCollab } from "./collab.js"
import { initMarkets } from "./markets.js"

const TOKEN_KEY = "fedhub-admin-token"
const $ = id => document.getElementById(id)

const state = { token: sessionStorage.getItem(TOKEN_KEY), last: undefined, selected: undefined, cy: undefined, stream: undefined, settingsLoaded: false }

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`)
    this.status = status
    this.code = problem.code
    this.problems = Array.isArray(problem.problems) ? problem.problems : undefined
  }
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.token}` }
  if (body !== undefined) headers["content-type"] = "application/json"
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  const json = text ? JSON.parse(text) : undefined
  if (!res.ok) {
    if (res.status === 401) signOut("The admin token was refused; sign in again.")
    throw new ApiError(res.status, json || {})
  }
  return json
}

const enc = encodeURIComponent

// ---------------------------------------------------------------- sign in / out

function showSignIn(message) {
  $("sign-in").hidden = false
  $("app").hidden = true
  $("sign-out").hidden = true
  $("live").hidden = true
  $("sign-in-error").textContent = message || ""
  $("token").focus()
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY)
  state.token = undefined
  state.stream?.abort()
  state.stream = undefined
  showSignIn(message)
}

async function signIn(token) {
  state.token = token
  try {
    await api("GET", "/api/settings")
  } catch (e) {
    state.token = undefined
    showSignIn(e.status === 401 ? "That is not this hub's admin token." : `Could not reach the hub: ${e.message}`)
    return
  }
  sessionStorage.setItem(TOKEN_KEY, token)
  $("sign-in").hidden = true
  $("app").hidden = false
  $("sign-out").hidden = false
  $("live").hidden = false
  connectEvents()
}

$("sign-in-form").addEventListener("submit", e => {
  e.preventDefault()
  const token = $("token").value.trim()
  if (!token) {
    $("sign-in-error").textContent = "Enter the admin token."
    return
  }
  $("token").value = ""
  void signIn(token)
})
$("sign-out").addEventListener("click", () => signOut("Signed out."))

// ---------------------------------------------------------------- live state (SSE over fetch)

function setLive(text, ok) {
  const el = $("live")
  el.textContent = text
  el.classList.toggle("ok", ok)
}

function connectEvents() {
  state.stream?.abort()
  const controller = new AbortController()
  state.stream = controller
  const run = async () => {
    setLive("connecting…", false)
    const res = await fetch("/api/events", { headers: { authorization: `Bearer ${state.token}` }, signal: controller.signal })
    if (res.status === 401) return signOut("The admin token was refused; sign in again.")
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`)
    setLive("live", true)
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ""
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let end
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        onFrame(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
      }
    }
  }
  run().then(
    () => reconnect(controller),
    e => {
      if (controller.signal.aborted) return
      showError(`Live updates interrupted: ${e.message}`)
      reconnect(controller)
    },
  )
}

// the stream ended (hub restarted, network): open it again once, after the SSE retry delay
function reconnect(controller) {
  if (controller.signal.aborted || state.stream !== controller) return
  setLive("reconnecting…", false)
  setTimeout(() => {
    if (state.stream === controller && state.token) connectEvents()
  }, 2000)
}

function onFrame(frame) {
  let event = "message"
  const data = []
  for (const line of frame.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim()
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart())
  }
  if (data.length === 0) return
  if (event === "state") render(JSON.parse(data.join("\n")))
  else if (event === "failure") showError(JSON.parse(data.join("\n")).detail)
  else if (event === "market") markets.onMarket(JSON.parse(data.join("\n")))
  else if (event === "session") collab.onSession(JSON.parse(data.join("\n")))
  else if (event === "session-message") collab.onMessage(JSON.parse(data.join("\n")))
}

// ---------------------------------------------------------------- messages

function notice(text) {
  $("notice").textContent = text
}

function showError(text) {
  const el = $("error")
  el.textContent = text
  el.hidden = !text
}

async function act(label, fn) {
  showError("")
  try {
    await fn()
    notice(label)
  } catch (e) {
    showError(`${label} failed: ${e.code ? `${e.code}: ` : ""}${e.message}`)
  }
}

// ---------------------------------------------------------------- rendering

const short = id => (id ? `${id.slice(0, 10)}…${id.slice(-4)}` : "")
const fmtMs = ms => (ms === null || ms === undefined ? "–" : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`)
const fmtPct = p => (p === null || p === undefined ? "–" : `${Math.round(p)}%`)
const isUp = s => s === "established" || s === "degraded"
// standby: another process of this hub's identity carries the link
const health = p => (!p.link || p.link.state === "standby" ? "none" : p.link.state === "established" ? "up" : p.link.state === "degraded" ? "degraded" : "down")

function trendText(delta, sinceMs, unit = "") {
  const span = sinceMs >= 3_300_000 ? "in the last hour" : `in the last ${Math.max(1, Math.round(sinceMs / 60_000))} min`
  if (!delta) return `no change ${span}`
  return `${delta > 0 ? "▲ +" : "▼ "}${delta}${unit} ${span}`
}

function render(s) {
  state.last = s
  showError("")
  $("node-line").textContent = `${s.node.name} · ${short(s.node.nodeId)} · ${s.node.type} · ${s.node.federationMode} federation`
  $("node-line").title = s.node.nodeId
  $("stat-nodes").textContent = String(s.stats.connectedNodes)
  $("stat-nodes-trend").textContent = trendText(s.stats.trend.connectedNodes, s.stats.trend.sinceMs)
  $("stat-health").textContent = `${s.stats.networkHealthPct}%`
  $("stat-health-trend").textContent = trendText(s.stats.trend.networkHealthPct, s.stats.trend.sinceMs, " pts")
  $("stat-markets").textContent = String(s.stats.markets)
  $("stat-markets-trend").textContent = trendText(s.stats.trend.markets, s.stats.trend.sinceMs)
  $("stat-sessions").textContent = String(s.stats.activeSessions)
  $("stat-sessions-trend").textContent = trendText(s.stats.trend.activeSessions, s.stats.trend.sinceMs)
  markets.onState(s)
  collab.onState(s)
  if (s.reason === "connected") {
    markets.resync()
    collab.resync()
  }
  renderMap(s)
  renderPeers(s)
  renderBlocked(s)
  if (state.selected) showNode(state.selected)
}

// ---- Network Map

const COLORS = { self: "#2f6fde", up: "#1f9d55", degraded: "#d69e2e", down: "#c53030", none: "#8a94a6" }

function ensureMap() {
  if (state.cy || !window.cytoscape) return state.cy
  state.cy = window.cytoscape({
    container: $("map"),
    minZoom: 0.3,
    maxZoom: 1.6,
    style: [
      { selector: "node", style: { "background-color": "data(color)", label: "data(label)", color: "#1a202c", "font-size": 11, "text-valign": "bottom", "text-margin-y": 6, width: 28, height: 28, "border-width": 2, "border-color": "#fff" } },
      { selector: "node[kind = 'self']", style: { width: 38, height: 38 } },
      { selector: "node:selected", style: { "border-color": "#1a202c", "border-width": 3 } },
      { selector: "edge", style: { width: 2, "line-color": "data(color)", label: "data(label)", "font-size": 10, color: "#4a5568", "text-background-color": "#fff", "text-background-opacity": 0.85, "text-background-padding": 2, "curve-style": "bezier" } },
    ],
    layout: { name: "grid" },
  })
  state.cy.on("tap", "node", e => showNode(e.target.id()))
  return state.cy
}

function renderMap(s) {
  const cy = ensureMap()
  const wanted = new Map()
  wanted.set(s.node.nodeId, { id: s.node.nodeId, label: `${s.node.name} (this hub)`, color: COLORS.self, kind: "self" })
  for (const p of s.peers) wanted.set(p.nodeId, { id: p.nodeId, label: p.name || short(p.nodeId), color: COLORS[health(p)], kind: "peer" })
  const edges = new Map()
  for (const p of s.peers)
    if (p.link && isUp(p.link.state))
      edges.set(`link:${p.nodeId}`, { id: `link:${p.nodeId}`, source: s.node.nodeId, target: p.nodeId, label: p.link.latencyMs === undefined || p.link.latencyMs === null ? "latency pending" : fmtMs(p.link.latencyMs), color: p.link.state === "degraded" ? COLORS.degraded : "#a0aec0" })
  if (cy) {
    let added = false
    cy.batch(() => {
      cy.elements().forEach(el => {
        if (!(el.isNode() ? wanted : edges).has(el.id())) el.remove()
      })
      for (const [id, data] of wanted) {
        const el = cy.getElementById(id)
        if (el.nonempty()) el.data(data)
        else {
          cy.add({ group: "nodes", data })
          added = true
        }
      }
      for (const [id, data] of edges) {
        const el = cy.getElementById(id)
        if (el.nonempty()) el.data(data)
        else cy.add({ group: "edges", data })
      }
    })
    if (added) cy.layout({ name: "concentric", concentric: n => (n.data("kind") === "self" ? 2 : 1), levelWidth: () => 1, minNodeSpacing: 140, padding: 40, animate: false }).run()
  }
  // the same graph as text: for screen readers, keyboards and tests
  const list = $("map-list")
  const ids = cy ? cy.nodes().map(n => n.id()) : [...wanted.keys()]
  list.replaceChildren(
    ...ids.map(id => {
      const d = wanted.get(id)
      const p = s.peers.find(x => x.nodeId === id)
      const li = document.createElement("li")
      li.dataset.nodeId = id
      const b = document.createElement("button")
      b.type = "button"
      b.className = "linkish"
      b.innerHTML = `<span class="dot ${d.kind === "self" ? "self" : health(p)}" aria-hidden="true"></span>`
      b.append(`${d.label}${p ? ` — ${p.link ? `${p.link.state}, ${fmtMs(p.link.latencyMs)}` : "no link"}` : ""}`)
      b.setAttribute("aria-label", `Show details of ${d.label}`)
      b.addEventListener("click", () => showNode(id))
      li.append(b)
      return li
    }),
  )
  $("map-empty").hidden = s.peers.length > 0
}

function dl(pairs) {
  const el = document.createElement("dl")
  for (const [k, v] of pairs) {
    const dt = document.createElement("dt")
    dt.textContent = k
    const dd = document.createElement("dd")
    if (v instanceof Node) dd.append(v)
    else dd.textContent = v === undefined || v === null || v === "" ? "–" : String(v)
    el.append(dt, dd)
  }
  return el
}

function showNode(id) {
  state.selected = id
  const s = state.last
  const panel = $("node-panel")
  const title = document.createElement("h2")
  title.id = "node-panel-title"
  if (!s) return
  if (id === s.node.nodeId) {
    title.textContent = `${s.node.name} (this hub)`
    panel.replaceChildren(title, dl([["Node id", s.node.nodeId], ["URL", s.node.url], ["Type", s.node.type], ["Federation mode", s.node.federationMode], ["Up for", `${Math.round(s.node.uptimeMs / 60_000)} min`]]))
    return
  }
  const p = s.peers.find(x => x.nodeId === id)
  if (!p) {
    title.textContent = "Node details"
    const gone = document.createElement("p")
    gone.className = "empty"
    gone.textContent = "This node is no longer on the map (blocked or forgotten)."
    panel.replaceChildren(title, gone)
    return
  }
  title.textContent = p.name || short(p.nodeId)
  const pre = document.createElement("pre")
  pre.className = "descriptor"
  pre.tabIndex = 0
  pre.setAttribute("aria-label", "Verified descriptor")
  pre.textContent = p.descriptor ? JSON.stringify(p.descriptor, null, 2) : "No verified descriptor held yet."
  panel.replaceChildren(
    title,
    dl([
      ["Node id", p.nodeId],
      ["URL", p.url],
      ["Trust", `${p.trust}${p.trustReason ? ` — ${p.trustReason}` : ""}`],
      ["Reputation", p.reputation.toFixed(3)],
      ["Link", p.link ? `${p.link.direction} ${p.link.state}` : "none"],
      ["Latency", fmtMs(p.link?.latencyMs)],
      ["Uptime", fmtPct(p.link?.uptimePct)],
      ["Found by", p.discoveredBy.join(", ")],
    ]),
    pre,
  )
  state.cy?.elements().unselect()
  state.cy?.getElementById(id).select()
}

// ---- Connected Nodes

const rows = new Map()

function button(label, aria, onClick) {
  const b = document.createElement("button")
  b.type = "button"
  b.textContent = label
  b.setAttribute("aria-label", aria)
  b.addEventListener("click", onClick)
  return b
}

function makeRow(p) {
  const tr = document.createElement("tr")
  tr.dataset.nodeId = p.nodeId
  const cells = {}
  for (const k of ["hub", "trust", "reputation", "link", "latency", "uptime"]) {
    cells[k] = document.createElement(k === "hub" ? "th" : "td")
    if (k === "hub") cells[k].scope = "row"
    cells[k].dataset.label = { hub: "Hub", trust: "Trust", reputation: "Reputation", link: "Link", latency: "Latency", uptime: "Uptime" }[k]
    tr.append(cells[k])
  }
  const actions = document.createElement("td")
  actions.dataset.label = "Actions"
  actions.className = "actions"
  const name = () => p.name || short(p.nodeId)
  const toggle = button("Disconnect", "", () => {
    const up = toggle.dataset.up === "true"
    void act(`${up ? "Disconnected" : "Connecting"} ${name()}`, () => api("POST", `/api/peers/${enc(p.nodeId)}/${up ? "disconnect" : "connect"}`))
  })
  const select = document.createElement("select")
  select.setAttribute("aria-label", `Trust level for ${name()}`)
  for (const [v, t] of [["none", "no admin trust"], ["trusted", "trusted"], ["partner", "partner"]]) select.append(new Option(t, v))
  const setTrust = button("Set trust", `Set the trust of ${name()}`, () => {
    void act(`Trust of ${name()} set to ${select.value}`, () => api("PUT", `/api/trust/${enc(p.nodeId)}`, { level: select.value }))
  })
  const endorse = button("Endorse", `Endorse ${name()}`, () => {
    void act(`Endorsed ${name()}`, () => api("POST", "/api/endorse", { nodeId: p.nodeId }))
  })
  const block = button("Block", `Block ${name()}`, () => {
    void act(`Blocked ${name()}`, () => api("POST", `/api/peers/${enc(p.nodeId)}/block`))
  })
  block.className = "danger"
  actions.append(toggle, select, setTrust, endorse, block)
  tr.append(actions)
  return { tr, cells, toggle, select, name }
}

function renderPeers(s) {
  const body = $("peer-rows")
  const seen = new Set()
  for (const p of s.peers) {
    seen.add(p.nodeId)
    let row = rows.get(p.nodeId)
    if (!row) {
      row = makeRow(p)
      rows.set(p.nodeId, row)
      body.append(row.tr)
    }
    const label = p.name || short(p.nodeId)
    row.cells.hub.replaceChildren(Object.assign(document.createElement("span"), { className: "name", textContent: label }), Object.assign(document.createElement("span"), { className: "id", textContent: short(p.nodeId), title: p.nodeId }))
    row.cells.trust.textContent = p.trust
    row.cells.trust.title = p.trustReason
    row.cells.reputation.textContent = p.reputation.toFixed(3)
    row.cells.link.replaceChildren(Object.assign(document.createElement("span"), { className: `dot ${health(p)}`, ariaHidden: "true" }), p.link ? `${p.link.state} (${p.link.direction})` : "no link")
    row.cells.latency.textContent = fmtMs(p.link?.latencyMs)
    row.cells.uptime.textContent = fmtPct(p.link?.uptimePct)
    const up = Boolean(p.link && isUp(p.link.state))
    row.toggle.dataset.up = String(up)
    row.toggle.textContent = up ? "Disconnect" : "Connect"
    row.toggle.setAttribute("aria-label", `${up ? "Disconnect from" : "Connect to"} ${label}`)
    if (document.activeElement !== row.select) row.select.value = p.adminLevel || "none"
  }
  for (const [id, row] of rows)
    if (!seen.has(id)) {
      row.tr.remove()
      rows.delete(id)
    }
  $("peers-empty").hidden = s.peers.length > 0
}

function renderBlocked(s) {
  const list = $("blocked-list")
  list.replaceChildren(
    ...s.blocked.map(b => {
      const li = document.createElement("li")
      li.dataset.nodeId = b.nodeId
      const label = b.name || short(b.nodeId)
      li.append(`${label} `, button("Unblock", `Unblock ${label}`, () => void act(`Unblocked ${label}`, () => api("POST", `/api/peers/${enc(b.nodeId)}/unblock`))))
      return li
    }),
  )
  $("blocked-empty").hidden = s.blocked.length > 0
}

$("add-form").addEventListener("submit", e => {
  e.preventDefault()
  const input = $("add-url")
  const err = $("add-error")
  err.textContent = ""
  input.removeAttribute("aria-invalid")
  let url
  try {
    url = new URL(input.value.trim())
    if (!/^(https?|wss?):$/.test(url.protocol)) throw new Error("use http(s):// or ws(s)://")
  } catch (x) {
    input.setAttribute("aria-invalid", "true")
    err.textContent = `Not a hub URL: ${x.message}`
    input.focus()
    return
  }
  const submit = e.target.querySelector("button[type=submit]")
  submit.disabled = true
  api("POST", "/api/peers", { url: url.href.replace(/\/$/, "") })
    .then(
      added => {
        input.value = ""
        notice(`Added ${added.name || added.nodeId} (${fmtMs(added.latencyMs)})`)
      },
      x => {
        input.setAttribute("aria-invalid", "true")
        err.textContent = `${x.code ? `${x.code}: ` : ""}${x.message}`
      },
    )
    .finally(() => (submit.disabled = false))
})

// ---- Fed. Settings

async function loadSettings() {
  if (state.settingsLoaded) return
  const box = $("settings")
  try {
    const [settings, node] = await Promise.all([api("GET", "/api/settings"), fetch("/api/node").then(r => r.json())])
    const d = node.payload
    const section = (title, pairs) => {
      const s = document.createElement("section")
      s.className = "card"
      const h = document.createElement("h2")
      h.textContent = title
      s.append(h, dl(pairs))
      return s
    }
    const disc = settings.discovery || {}
    box.replaceChildren(
      section("Node policies", [
        ["Data retention", d.policies?.dataRetentionDays === null || d.policies?.dataRetentionDays === undefined ? "kept (no limit)" : `${d.policies.dataRetentionDays} days`],
        ["Requires encryption", settings.requireEncryption ? "yes" : "no"],
        ["Accepts relaying", d.policies?.acceptsRelay ? "yes" : "no"],
        ["Peers' retention at most", settings.maxPeerRetentionDays === null ? "no limit" : `${settings.maxPeerRetentionDays} days`],
        ["Required capabilities", (settings.requiredCapabilities || []).join(", ") || "none"],
        ["Endorsements last", `${settings.endorsementTtlDays} days`],
      ]),
      section("Federation", [
        ["Federation mode", settings.federationMode],
        ["Node type", settings.type],
        ["Heartbeat", `${settings.heartbeatMs} ms`],
        ["Bootstrap peers", (settings.peers || []).join(", ") || "none"],
        ["Public URL", settings.publicUrl || "the listening URL"],
      ]),
      section("Discovery", [
        ["DNS domains", (disc.dnsDomains || []).join(", ") || "none"],
        ["DNS servers", (disc.dnsServers || []).join(", ") || "system resolver"],
        ["mDNS", disc.mdns ? `on${disc.mdnsInterface ? ` (${disc.mdnsInterface})` : ""}` : "off"],
        ["Peer exchange from", `trust ≥ ${disc.peerExchangeMinTrust}`],
        ["Runs every", disc.intervalMs ? `${disc.intervalMs} ms` : "at start and on demand"],
      ]),
      section("Limits", Object.entries(settings.limits || {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : v])),
    )
    state.settingsLoaded = true
  } catch (e) {
    box.replaceChildren(Object.assign(document.createElement("p"), { className: "error", textContent: `Could not load the settings: ${e.message}` }))
  }
}

// ---------------------------------------------------------------- tabs (WAI-ARIA tabs pattern)

const tabs = [...document.querySelectorAll("[role=tab]")]

function selectTab(tab, focus) {
  for (const t of tabs) {
    const on = t === tab
    t.setAttribute("aria-selected", String(on))
    t.tabIndex = on ? 0 : -1
    $(t.getAttribute("aria-controls")).hidden = !on
  }
  if (focus) tab.focus()
  if (tab.id === "tab-map") state.cy?.resize().fit(undefined, 30)
  if (tab.id === "tab-settings") void loadSettings()
  if (tab.id === "tab-markets") markets.open()
  if (tab.id === "tab-collab") collab.open()
}

for (const t of tabs) {
  t.addEventListener("click", () => selectTab(t, false))
  t.addEventListener("keydown", e => {
    const i = tabs.indexOf(t)
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key]
    if (next === undefined) return
    e.preventDefault()
    selectTab(tabs[(next + tabs.length) % tabs.length], true)
  })
}

// ---- Fed. Markets and Collaboration (markets.js, collab.js)

/** A node's name as this hub knows it ("this hub" for itself), else its short id. */
function peerName(nodeId) {
  const s = state.last
  if (s && nodeId === s.node.nodeId) return `${s.node.name} (this hub)`
  const p = s?.peers.find(x => x.nodeId === nodeId) ?? s?.blocked.find(x => x.nodeId === nodeId)
  return p?.name || short(nodeId)
}
const tabContext = { api, act, notice, short, enc, peerName, peers: () => state.last?.peers ?? [], self: () => state.last?.node }
const markets = initMarkets(tabContext)
const collab = initCollab(tabContext)

// ---------------------------------------------------------------- start

// the public descriptor names the hub before anyone signs in
fetch("/api/node")
  .then(r => r.json())
  .then(
    d => {
      if (!state.last) $("node-line").textContent = `${d.payload.name} · ${short(d.payload.identity?.nodeId ?? d.signer)}`
    },
    () => ($("node-line").textContent = "This hub did not answer."),
  )

if (state.token) void signIn(state.token)
else showSignIn()
