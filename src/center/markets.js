// The Fed. Markets tab: marketplaces this hub holds, create and join, join votes, the
// catalog (search with every filter, paging), publish, item detail with rate and buy, the
// ledger and the metadata conflicts. Everything goes through /api/markets; what changes
// elsewhere arrives as `event: market` on the page's event stream and is fetched again.

import { clearErrors, field, fieldError, fmtTime, h, select, showProblems } from "./dom.js"

const TYPES = ["persona", "plugin", "service", "content", "dataset"]
const SORTS = [["relevance", "relevance"], ["newest", "newest"], ["title", "title"], ["price", "price, lowest first"], ["-price", "price, highest first"], ["rating", "rating, lowest first"], ["-rating", "rating, highest first"]]
const $ = id => document.getElementById(id)

export function initMarkets(ctx) {
  const { api, act, notice, short, enc, peerName, peers, self } = ctx
  const m = { list: undefined, url: undefined, documentId: undefined, view: undefined, query: { limit: 20, offset: 0 }, item: undefined, loading: false, again: false, detailDirty: false }
  const refUrl = () => enc(m.url)

  // ---- list

  async function loadList() {
    try {
      m.list = await api("GET", "/api/markets")
      renderList()
    } catch (e) {
      $("markets-empty").hidden = false
      $("markets-empty").textContent = `Could not load the marketplaces: ${e.message}`
    }
  }

  function renderList() {
    const { marketplaces, joining } = m.list
    $("market-list").replaceChildren(
      ...marketplaces.map(x =>
        h(
          "li",
          { "data-document-id": x.documentId },
          h(
            "button",
            { type: "button", className: "linkish", "aria-current": x.documentId === m.documentId ? "true" : undefined, onclick: () => void choose(x.url) },
            h("span", { className: "name" }, x.name ?? short(x.documentId)),
            h("span", { className: "meta" }, `${x.role} · ${x.visibility ?? "?"} · ${x.participants} participant${x.participants === 1 ? "" : "s"}`),
            x.pending > 0 ? h("span", { className: "badge", "aria-label": `${x.pending} pending join requests` }, `${x.pending} pending`) : undefined,
          ),
        ),
      ),
    )
    $("markets-empty").hidden = marketplaces.length > 0
    $("markets-empty").textContent = "No marketplace yet: create one, or join one by its URL."
    $("joining-list").replaceChildren(
      ...joining.map(j => h("li", { "data-marketplace": j.marketplace }, h("code", { title: j.marketplace }, short(j.marketplace.replace("automerge:", ""))), ` — ${j.status}`, j.reason ? ` (${j.reason})` : "")),
    )
    $("joining-empty").hidden = joining.length > 0
  }

  // ---- create and join

  $("market-create").addEventListener("submit", e => {
    e.preventDefault()
    const form = e.target
    clearErrors(form)
    const name = $("mc-name").value.trim()
    if (!name) return void (fieldError(form, "mc-name", "Give the marketplace a name."), $("mc-name").focus())
    const consensus = $("mc-consensus").value
    const pos = consensus === "proof_of_stake"
    const categories = $("mc-categories")
      .value.split(",")
      .map(s => s.trim())
      .filter(Boolean)
      .map(n => ({ id: n.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, ""), name: n }))
    const body = {
      name,
      visibility: $("mc-visibility").value,
      ...($("mc-description").value.trim() ? { description: $("mc-description").value.trim() } : {}),
      config: {
        federation: {
          governanceModel: $("mc-governance").value,
          consensusMechanism: { type: consensus, parameters: { minimumStake: pos ? Number($("mc-stake").value || 0) : 0, votingPower: pos ? "stake_weighted" : "one_node_one_vote", voteDeadlineHours: 168 } },
        },
        catalog: { categories },
      },
    }
    const submit = form.querySelector("button[type=submit]")
    submit.disabled = true
    api("POST", "/api/markets", body)
      .then(
        async created => {
          form.reset()
          notice(`Created the marketplace ${created.name}`)
          await loadList()
          await choose(created.url)
        },
        x => showProblems(form, x, { name: "mc-name", consensusMechanism: "mc-consensus", governanceModel: "mc-consensus", federation: "mc-consensus", categories: "mc-categories", catalog: "mc-categories" }, "mc-error"),
      )
      .finally(() => (submit.disabled = false))
  })

  // the minimum stake matters only under proof of stake
  const stakeShown = () => {
    const pos = $("mc-consensus").value === "proof_of_stake"
    $("mc-stake").closest(".stake").hidden = !pos
  }
  $("mc-consensus").addEventListener("change", stakeShown)
  $("market-create").addEventListener("reset", () => setTimeout(stakeShown))
  stakeShown()

  function fillOwners() {
    const sel = $("mj-owner")
    const keep = sel.value
    const list = peers()
    sel.replaceChildren(...(list.length ? list.map(p => new Option(`${p.name || short(p.nodeId)} (${short(p.nodeId)})`, p.nodeId)) : [new Option("no known hub: add one in Connected Nodes", "")]))
    if (keep && list.some(p => p.nodeId === keep)) sel.value = keep
  }

  $("market-join").addEventListener("submit", e => {
    e.preventDefault()
    const form = e.target
    clearErrors(form)
    const url = $("mj-url").value.trim()
    const owner = $("mj-owner").value
    if (!/^automerge:[1-9A-HJ-NP-Za-km-z]+$/.test(url) && !/^[1-9A-HJ-NP-Za-km-z]{20,}$/.test(url)) return void (fieldError(form, "mj-url", "Paste the marketplace's automerge: URL, shown on its owner's dashboard."), $("mj-url").focus())
    if (!owner) return void fieldError(form, "mj-owner", "Choose the hub that owns the marketplace.")
    const message = $("mj-message").value.trim()
    api("POST", `/api/markets/${enc(url)}/join`, { owner, ...(message ? { message } : {}) }).then(
      j => {
        form.reset()
        fillOwners()
        notice(`Join request sent to ${peerName(owner)}: ${j.status}`)
        void loadList()
      },
      x => showProblems(form, x, { owner: "mj-owner" }, "mj-error"),
    )
  })

  // ---- one marketplace

  async function choose(url) {
    m.url = url
    m.documentId = url.replace(/^automerge:/, "")
    m.query = { limit: 20, offset: 0 }
    m.item = undefined
    m.view = undefined
    buildDetail()
    if (m.list) renderList()
    await refreshDetail()
  }

  const section = (id, title, ...body) => h("section", { className: "sub-card", id, "aria-labelledby": `${id}-title` }, h("h3", { id: `${id}-title` }, title), ...body)

  function buildDetail() {
    const box = $("market-detail")
    box.replaceChildren(
      h("div", { id: "md-head" }, h("p", { className: "empty" }, "Loading the marketplace…")),
      section("md-requests", "Join requests", h("div", { id: "md-requests-body" })),
      section("md-catalog", "Catalog", searchForm(), h("div", { id: "md-results", "aria-live": "polite" }), h("div", { id: "md-item" })),
      section("md-publish", "Publish an item", publishForm()),
      section("md-ledger", "Ledger", h("div", { id: "md-ledger-body" })),
      section("md-conflicts", "Metadata and conflicts", h("div", { id: "md-conflicts-body" }), metaForm()),
    )
  }

  /** Fetches the marketplace and what the tab shows of it again (one fetch at a time, and one more queued). */
  async function refreshDetail() {
    if (!m.url) return
    if (m.loading) return void (m.again = true)
    m.loading = true
    try {
      do {
        m.again = false
        const url = m.url
        try {
          m.view = await api("GET", `/api/markets/${refUrl()}`)
        } catch (e) {
          if (url === m.url) $("md-head").replaceChildren(h("p", { className: "error" }, `Could not load this marketplace: ${e.code ? `${e.code}: ` : ""}${e.message}`))
          continue
        }
        if (url !== m.url) continue
        renderHead()
        renderRequests()
        fillSearchOptions()
        fillPublishOptions()
        await Promise.all([loadCatalog(), loadLedger(), loadConflicts(), m.item ? showItem(m.item, false) : undefined])
      } while (m.again)
    } finally {
      m.loading = false
    }
  }

  const isMember = () => m.view && (m.view.role === "owner" || m.view.role === "participant")
  const isAdmin = () => m.view?.role === "owner"

  function renderHead() {
    const v = m.view
    const c = v.config
    const dl = h("dl", { className: "facts" })
    const pairs = [
      ["Role here", v.role],
      ["Owner", v.owner ? peerName(v.owner) : "–"],
      ["Visibility", v.visibility],
      ["Participants", v.participantList.map(p => peerName(p.nodeId)).join(", ")],
      ["Governance", c ? c.federation.governanceModel : "–"],
      ["Joins decided by", c ? c.federation.consensusMechanism.type.replace(/_/g, " ") : "–"],
      ["Categories", c?.catalog.categories.map(x => x.name).join(", ") || "none"],
      ["URL", h("code", { id: "md-url" }, v.url)],
    ]
    for (const [k, val] of pairs) dl.append(h("dt", {}, k), h("dd", {}, val))
    $("md-head").replaceChildren(h("h2", { id: "md-name" }, v.name ?? short(v.documentId)), c?.description ? h("p", {}, c.description) : "", dl, v.configProblems.length ? h("p", { className: "error" }, `Its config does not verify: ${v.configProblems.join("; ")}`) : "")
    $("md-publish").hidden = !isMember()
  }

  function renderRequests() {
    const v = m.view
    const body = $("md-requests-body")
    if (v.requests.length === 0) return void body.replaceChildren(h("p", { className: "empty" }, "No join request."))
    body.replaceChildren(
      h(
        "ul",
        { className: "plain" },
        ...v.requests.map(r => {
          const who = peerName(r.requester)
          const t = r.result.tally
          const li = h("li", { "data-requester": r.requester }, h("strong", {}, who), ` — ${r.result.status}`, r.result.status === "pending" ? ` (yes ${t.yes}, no ${t.no}, of ${t.eligible} eligible)` : "", r.message ? h("span", { className: "meta" }, ` “${r.message}”`) : "", r.result.reason ? h("span", { className: "meta" }, ` ${r.result.reason}`) : "")
          if (r.result.status === "pending" && isMember())
            li.append(
              " ",
              h("button", { type: "button", "aria-label": `Approve the join request of ${who}`, onclick: () => void act(`Voted to approve ${who}`, () => api("POST", `/api/markets/${refUrl()}/votes`, { requester: r.requester, approve: true }).then(refreshDetail)) }, "Approve"),
              " ",
              h("button", { type: "button", className: "danger", "aria-label": `Refuse the join request of ${who}`, onclick: () => void act(`Voted to refuse ${who}`, () => api("POST", `/api/markets/${refUrl()}/votes`, { requester: r.requester, approve: false }).then(refreshDetail)) }, "Refuse"),
            )
          return li
        }),
      ),
    )
  }

  // ---- catalog

  function searchForm() {
    const form = h("form", { id: "md-search", className: "grid-form", role: "search", "aria-label": "Search the catalog", novalidate: true })
    const num = (min, step) => h("input", { type: "number", min, step, inputMode: "numeric" })
    form.append(
      field("ms-text", "Text", h("input", { type: "search", placeholder: "words in title, tags, description" })),
      field("ms-category", "Category", select([["", "any"]])),
      field("ms-type", "Type", select([["", "any"], ...TYPES.map(t => [t, t])])),
      field("ms-minRating", "Rating at least", select([["", "any"], ...[1, 2, 3, 3.5, 4, 4.5].map(r => [String(r), `${r} ★`])])),
      field("ms-minPrice", "Price from (minor units)", num(0, 1)),
      field("ms-maxPrice", "Price up to", num(0, 1)),
      field("ms-origin", "Published by", select([["", "any hub"]])),
      field("ms-sort", "Sort", select(SORTS)),
      field("ms-limit", "Per page", select([["10", "10"], ["20", "20"], ["50", "50"], ["100", "100"]], "20")),
      h("div", { className: "form-actions" }, h("button", { type: "submit" }, "Search"), h("button", { type: "reset" }, "Clear")),
      h("p", { id: "ms-error", className: "field-error", role: "alert" }),
    )
    form.addEventListener("submit", e => {
      e.preventDefault()
      const q = { offset: 0, limit: Number($("ms-limit").value) }
      for (const k of ["text", "category", "type", "minRating", "minPrice", "maxPrice", "origin", "sort"]) {
        const v = $(`ms-${k}`).value.trim()
        if (v) q[k] = v
      }
      m.query = q
      void loadCatalog()
    })
    form.addEventListener("reset", () => {
      m.query = { limit: 20, offset: 0 }
      setTimeout(() => void loadCatalog())
    })
    return form
  }

  function fillSearchOptions() {
    const c = m.view.config
    const keep = (id, options) => {
      const sel = $(id)
      const v = sel.value
      sel.replaceChildren(...options.map(([val, t]) => new Option(t, val)))
      sel.value = options.some(([val]) => val === v) ? v : ""
    }
    keep("ms-category", [["", "any"], ...(c?.catalog.categories ?? []).map(x => [x.id, x.name])])
    keep("ms-origin", [["", "any hub"], ...m.view.participantList.map(p => [p.nodeId, peerName(p.nodeId)])])
  }

  async function loadCatalog() {
    const box = $("md-results")
    if (!box || !m.view) return
    const params = new URLSearchParams(Object.entries(m.query).map(([k, v]) => [k, String(v)]))
    const form = $("md-search")
    let page
    try {
      page = await api("GET", `/api/markets/${refUrl()}/items?${params}`)
    } catch (e) {
      clearErrors(form)
      showProblems(form, e, { text: "ms-text", category: "ms-category", type: "ms-type", minRating: "ms-minRating", minPrice: "ms-minPrice", maxPrice: "ms-maxPrice", origin: "ms-origin", sort: "ms-sort" }, "ms-error")
      return
    }
    clearErrors(form)
    if (page.total === 0) {
      const filtered = Object.keys(m.query).some(k => k !== "limit" && k !== "offset")
      return void box.replaceChildren(h("p", { className: "empty", id: "md-results-empty" }, filtered ? "No item matches these filters." : "The catalog is empty: publish the first item below."))
    }
    const rows = page.items.map(it =>
      h(
        "tr",
        { "data-global-id": it.globalId },
        h("th", { scope: "row", "data-label": "Title" }, h("button", { type: "button", className: "linkish", onclick: () => void showItem(it.globalId, true) }, it.title)),
        h("td", { "data-label": "Type" }, it.type),
        h("td", { "data-label": "Category" }, it.category ?? "–"),
        h("td", { "data-label": "Origin" }, peerName(it.origin)),
        h("td", { "data-label": "Price" }, price(it.price, it.currency)),
        h("td", { "data-label": "Rating" }, it.ratingCount ? `${it.overallRating.toFixed(1)} ★ (${it.ratingCount})` : "unrated"),
      ),
    )
    const from = page.offset + 1
    const to = page.offset + page.items.length
    const pager = h(
      "div",
      { className: "pager" },
      h("button", { type: "button", disabled: page.offset === 0, onclick: () => ((m.query.offset = Math.max(0, page.offset - page.limit)), void loadCatalog()) }, "← Previous"),
      h("span", { id: "md-page", "aria-live": "polite" }, `${from}–${to} of ${page.total}`),
      h("button", { type: "button", disabled: to >= page.total, onclick: () => ((m.query.offset = page.offset + page.limit), void loadCatalog()) }, "Next →"),
    )
    const extra = []
    if (page.pending?.length) extra.push(h("p", { className: "note" }, `${page.pending.length} item(s) wait for a curator's approval.`))
    if (page.rejected?.length) extra.push(h("p", { className: "error" }, `${page.rejected.length} item(s) refused (they do not verify): ${page.rejected.slice(0, 5).map(r => `${r.globalId ?? r.itemId ?? "?"}: ${r.reason}`).join("; ")}`))
    box.replaceChildren(
      h(
        "div",
        { className: "table-wrap" },
        h("table", { className: "peers items", "aria-label": "Catalog items" }, h("thead", {}, h("tr", {}, ...["Title", "Type", "Category", "Origin", "Price", "Rating"].map(t => h("th", { scope: "col" }, t)))), h("tbody", { id: "md-items" }, ...rows)),
      ),
      pager,
      ...extra,
    )
  }

  const price = (p, currency) => (p === 0 ? "free" : `${p} ${currency}`)

  async function showItem(globalId, focus) {
    m.item = globalId
    const box = $("md-item")
    let it
    try {
      it = await api("GET", `/api/markets/${refUrl()}/items/${enc(globalId)}`)
    } catch (e) {
      return void box.replaceChildren(h("p", { className: "error" }, `Could not load the item: ${e.message}`))
    }
    const item = it.item
    const dl = h("dl", { className: "facts" })
    const pairs = [
      ["Type", item.type],
      ["Category", item.category ?? "–"],
      ["Published by", peerName(item.originNodeId)],
      ["Version", item.version],
      ["Price", price(item.pricing.price, item.pricing.currency)],
      ["Tags", (item.tags ?? []).join(", ") || "–"],
      ["License", item.license ?? "–"],
      ["Rating", it.ratings.ratingCount ? `${it.ratings.overallRating.toFixed(2)} ★ from ${it.ratings.ratingCount}` : "unrated"],
      ["Sales", it.sales],
      ["Shown", it.approved ? "yes" : "waiting for a curator"],
      ["Checksum", h("code", { title: it.checksum }, short(it.checksum))],
    ]
    for (const [k, v] of pairs) dl.append(h("dt", {}, k), h("dd", {}, v))
    const reviews = it.ratings.nodeRatings.filter(r => !r.hidden)
    const rate = h("form", { className: "inline-form", "aria-label": `Rate ${item.title}`, novalidate: true })
    const stars = select([5, 4.5, 4, 3.5, 3, 2.5, 2, 1.5, 1].map(s => [String(s), `${s} ★`]), "5")
    const comment = h("input", { maxLength: 5000, placeholder: "optional" })
    rate.append(field("mi-stars", "Stars", stars), field("mi-comment", "Review", comment), h("button", { type: "submit" }, "Rate"), h("p", { id: "mi-rate-error", className: "field-error", role: "alert" }))
    rate.addEventListener("submit", e => {
      e.preventDefault()
      clearErrors(rate)
      api("POST", `/api/markets/${refUrl()}/ratings`, { item: globalId, stars: Number(stars.value), ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) }).then(
        () => (notice(`Rated ${item.title} ${stars.value} ★`), void refreshDetail()),
        x => showProblems(rate, x, { stars: "mi-stars", comment: "mi-comment" }, "mi-rate-error"),
      )
    })
    const buy = h("form", { className: "inline-form", "aria-label": `Buy ${item.title}`, novalidate: true })
    const methods = m.view.config?.economics.paymentMethods ?? ["credits"]
    // what was typed survives a re-render (another hub's change redraws this panel at any time)
    const draft = (m.buyDrafts ??= {})[globalId] ?? {}
    const method = select(methods.map(x => [x, x]), draft.method && methods.includes(draft.method) ? draft.method : methods.includes("credits") ? "credits" : methods[0])
    const reference = h("input", { maxLength: 200, placeholder: "payment reference (not for credits)", value: draft.reference ?? "" })
    const keep = () => (m.buyDrafts[globalId] = { method: method.value, reference: reference.value })
    method.addEventListener("change", keep)
    reference.addEventListener("input", keep)
    buy.append(field("mi-method", "Pay with", method), field("mi-reference", "Reference", reference), h("button", { type: "submit" }, item.pricing.price === 0 ? "Get" : "Buy"), h("p", { id: "mi-buy-error", className: "field-error", role: "alert" }))
    buy.addEventListener("submit", e => {
      e.preventDefault()
      clearErrors(buy)
      const body = { item: globalId, paymentMethod: method.value, ...(method.value !== "credits" && reference.value.trim() ? { externalReference: reference.value.trim() } : {}) }
      api("POST", `/api/markets/${refUrl()}/purchases`, body).then(
        r => (delete m.buyDrafts[globalId], notice(`${r.repeated ? "Already bought" : "Bought"} ${item.title}; balance ${r.balance} credits`), void refreshDetail()),
        x => showProblems(buy, x, { paymentMethod: "mi-method", externalReference: "mi-reference" }, "mi-buy-error"),
      )
    })
    box.replaceChildren(
      h(
        "article",
        { className: "item-card", "aria-labelledby": "mi-title", "data-global-id": globalId },
        h("h4", { id: "mi-title", tabIndex: -1 }, item.title),
        item.description ? h("p", {}, item.description) : "",
        dl,
        reviews.length ? h("ul", { className: "plain reviews", "aria-label": "Reviews" }, ...reviews.map(r => h("li", {}, `${r.stars} ★ by ${peerName(r.rater)}${r.comment ? ` — ${r.comment}` : ""}`))) : "",
        isMember() ? h("div", { className: "item-actions" }, rate, buy) : h("p", { className: "note" }, "Only participants rate and buy."),
      ),
    )
    if (focus) $("mi-title").focus()
  }

  // ---- publish

  function publishForm() {
    const form = h("form", { id: "md-publish-form", className: "grid-form", novalidate: true })
    form.append(
      field("pf-itemId", "Item id", h("input", { placeholder: "my-plugin", maxLength: 128 })),
      field("pf-title", "Title", h("input", { maxLength: 200 })),
      field("pf-type", "Type", select(TYPES.map(t => [t, t]), "plugin")),
      field("pf-category", "Category", select([["", "none"]])),
      field("pf-description", "Description", h("input", { maxLength: 20000 })),
      field("pf-tags", "Tags (comma-separated)", h("input", {})),
      field("pf-license", "License", h("input", { placeholder: "MIT", maxLength: 100 })),
      field("pf-price", "Price (minor units, 0 = free)", h("input", { type: "number", min: 0, step: 1, value: "0", inputMode: "numeric" })),
      field("pf-currency", "Currency", select([["credits", "credits"]])),
      h("div", { className: "form-actions" }, h("button", { type: "submit" }, "Publish")),
      h("p", { id: "pf-error", className: "field-error", role: "alert" }),
    )
    form.addEventListener("submit", e => {
      e.preventDefault()
      clearErrors(form)
      const val = id => $(id).value.trim()
      const p = val("pf-price") === "" ? 0 : Number(val("pf-price"))
      const item = {
        itemId: val("pf-itemId"),
        title: val("pf-title"),
        type: val("pf-type"),
        ...(val("pf-category") ? { category: val("pf-category") } : {}),
        ...(val("pf-description") ? { description: val("pf-description") } : {}),
        ...(val("pf-tags") ? { tags: [...new Set(val("pf-tags").split(",").map(s => s.trim()).filter(Boolean))] } : {}),
        ...(val("pf-license") ? { license: val("pf-license") } : {}),
        pricing: { model: p > 0 ? "one_time" : "free", price: Number.isNaN(p) ? val("pf-price") : p, currency: val("pf-currency") },
      }
      const submit = form.querySelector("button[type=submit]")
      submit.disabled = true
      api("POST", `/api/markets/${refUrl()}/items`, { items: [item] })
        .then(
          r => {
            form.reset()
            fillPublishOptions()
            notice(`Published ${r.items[0]?.item.title ?? item.title}`)
            void refreshDetail()
          },
          x => showProblems(form, x, { itemId: "pf-itemId", title: "pf-title", type: "pf-type", category: "pf-category", description: "pf-description", tags: "pf-tags", license: "pf-license", price: "pf-price", pricing: "pf-price", model: "pf-price", currency: "pf-currency" }, "pf-error"),
        )
        .finally(() => (submit.disabled = false))
    })
    return form
  }

  function fillPublishOptions() {
    const c = m.view.config
    const cat = $("pf-category")
    const keepCat = cat.value
    cat.replaceChildren(new Option("none", ""), ...(c?.catalog.categories ?? []).map(x => new Option(x.name, x.id)))
    cat.value = keepCat
    const cur = $("pf-currency")
    const keepCur = cur.value
    const currencies = c?.economics.currencySupport ?? ["credits"]
    cur.replaceChildren(...currencies.map(x => new Option(x, x)))
    cur.value = currencies.includes(keepCur) ? keepCur : currencies.includes("credits") ? "credits" : currencies[0]
  }

  // ---- ledger

  async function loadLedger() {
    const box = $("md-ledger-body")
    let l
    try {
      l = await api("GET", `/api/markets/${refUrl()}/ledger`)
    } catch (e) {
      return void box.replaceChildren(h("p", { className: "empty" }, `No ledger here: ${e.message}`))
    }
    const me = self()?.nodeId
    const balances = Object.entries(l.balances).sort(([a], [b]) => (a < b ? -1 : 1))
    const grant = isAdmin() ? grantForm() : ""
    box.replaceChildren(
      h("p", { id: "md-balance" }, `This hub's balance: ${l.balances[me] ?? 0} credits · minted ${l.minted} · ${l.applied.length} credit purchase(s), ${l.external.length} paid outside`),
      balances.length
        ? h("table", { className: "peers compact", "aria-label": "Balances" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Node"), h("th", { scope: "col" }, "Balance"))), h("tbody", {}, ...balances.map(([n, b]) => h("tr", {}, h("th", { scope: "row", "data-label": "Node" }, peerName(n)), h("td", { "data-label": "Balance" }, `${b} credits`)))))
        : h("p", { className: "empty" }, "No credits granted yet."),
      l.refused.length ? h("p", { className: "error" }, `Refused purchases: ${l.refused.map(r => r.reason).join("; ")}`) : "",
      l.equivocations.length ? h("p", { className: "error" }, `${l.equivocations.length} equivocation(s): one buyer signed two purchases with one sequence number; neither moves credits.`) : "",
      l.disputes?.length ? h("p", {}, `${l.disputes.length} dispute(s): ${l.disputes.map(d => d.status).join(", ")}`) : "",
      grant,
    )
  }

  function grantForm() {
    const form = h("form", { className: "inline-form", "aria-label": "Grant credits", novalidate: true })
    const to = select(m.view.participantList.map(p => [p.nodeId, peerName(p.nodeId)]))
    const amount = h("input", { type: "number", min: 1, step: 1, value: "100", inputMode: "numeric" })
    form.append(field("mg-to", "Grant credits to", to), field("mg-amount", "Amount", amount), h("button", { type: "submit" }, "Grant"), h("p", { id: "mg-error", className: "field-error", role: "alert" }))
    form.addEventListener("submit", e => {
      e.preventDefault()
      clearErrors(form)
      api("POST", `/api/markets/${refUrl()}/grants`, { to: to.value, amount: Number(amount.value) }).then(
        r => (notice(`Granted ${r.amount} credits to ${peerName(r.to)}`), void refreshDetail()),
        x => showProblems(form, x, { amount: "mg-amount", to: "mg-to" }, "mg-error"),
      )
    })
    return form
  }

  // ---- metadata and conflicts

  async function loadConflicts() {
    const box = $("md-conflicts-body")
    let c
    try {
      c = await api("GET", `/api/markets/${refUrl()}/conflicts`)
    } catch (e) {
      return void box.replaceChildren(h("p", { className: "empty" }, `Could not load the metadata: ${e.message}`))
    }
    const fields = Object.entries(c.values)
    // the owner and the policy's admins may edit; a participant is told by the API if it is neither
    const admin = isMember()
    box.replaceChildren(
      fields.length ? h("dl", { className: "facts" }, ...fields.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v), c.setBy[k] ? h("span", { className: "meta" }, ` — ${peerName(c.setBy[k].by)}, ${fmtTime(c.setBy[k].time)}`) : "")])) : h("p", { className: "empty" }, "No metadata edited yet."),
      c.conflicts.length === 0
        ? h("p", { className: "ok-line", id: "md-no-conflict" }, "No conflict: every field has one value.")
        : h(
            "ul",
            { className: "plain conflicts", "aria-label": "Conflicting fields" },
            ...c.conflicts.map(cf =>
              h(
                "li",
                { "data-field": cf.field },
                h("strong", {}, cf.field),
                " holds concurrent values:",
                h(
                  "ul",
                  {},
                  ...cf.values.map(v =>
                    h(
                      "li",
                      {},
                      `“${String(v.value)}” by ${v.by ? peerName(v.by) : "unknown"}, ${fmtTime(v.time)} ${v.verified ? "✓" : "✗ unverified"} `,
                      admin ? h("button", { type: "button", "aria-label": `Resolve ${cf.field} to ${String(v.value)}`, onclick: () => void act(`Resolved ${cf.field}`, () => api("PUT", `/api/markets/${refUrl()}/meta/${enc(cf.field)}`, { value: v.value, resolve: true }).then(refreshDetail)) }, "Keep this") : "",
                    ),
                  ),
                ),
              ),
            ),
          ),
      c.refused.length ? h("p", { className: "error" }, `Refused edits: ${c.refused.map(r => `${r.field}: ${r.reason}`).join("; ")}`) : "",
    )
    $("md-meta-form").hidden = !admin
  }

  function metaForm() {
    const form = h("form", { id: "md-meta-form", className: "inline-form", "aria-label": "Edit a metadata field", novalidate: true, hidden: true })
    const name = h("input", { placeholder: "tagline", maxLength: 64 })
    const value = h("input", { maxLength: 5000 })
    form.append(field("mm-field", "Field", name), field("mm-value", "Value", value), h("button", { type: "submit" }, "Set"), h("p", { id: "mm-error", className: "field-error", role: "alert" }))
    form.addEventListener("submit", e => {
      e.preventDefault()
      clearErrors(form)
      if (!name.value.trim()) return void fieldError(form, "mm-field", "Name the field.")
      api("PUT", `/api/markets/${refUrl()}/meta/${enc(name.value.trim())}`, { value: value.value }).then(
        () => (form.reset(), notice("Metadata set"), void refreshDetail()),
        x => showProblems(form, x, { value: "mm-value", field: "mm-field" }, "mm-error"),
      )
    })
    return form
  }

  // ---- live

  let listTimer
  return {
    /** The tab was opened. */
    open() {
      fillOwners()
      if (!m.list) void loadList()
    },
    /** A state frame arrived (peers may have changed). */
    onState() {
      if (!$("panel-markets").hidden) fillOwners()
    },
    /** `event: market`: these marketplaces or join requests changed on this hub. */
    onMarket({ documentIds }) {
      if (m.list === undefined && $("panel-markets").hidden) return
      clearTimeout(listTimer)
      listTimer = setTimeout(() => void loadList(), 0)
      if (m.documentId && documentIds.includes(m.documentId)) void refreshDetail()
    },
    /** The event stream (re)opened: what was missed while it was down is fetched again. */
    resync() {
      if (m.list === undefined) return
      void loadList()
      void refreshDetail()
    },
  }
}
