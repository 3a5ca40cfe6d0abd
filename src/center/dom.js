// Small DOM helpers shared by the Markets and Collaboration tabs.

/** An element: h("button", { type: "button", onclick }, "text", child…); props starting with "on" are listeners, "aria-*"/"data-*" attributes. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v)
    else if (k.startsWith("aria-") || k.startsWith("data-") || k === "role" || k === "for" || k === "scope") el.setAttribute(k, v === true ? "" : String(v))
    else el[k] = v
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c))
  return el
}

/** A labelled form field: label, control, and an error line the control is described by. */
export function field(id, label, control) {
  control.id = id
  const error = h("p", { id: `${id}-error`, className: "field-error", role: "alert" })
  control.setAttribute("aria-describedby", error.id)
  return h("div", { className: "field" }, h("label", { for: id }, label), control, error)
}

/** A <select> of [value, label] pairs. */
export function select(options, value) {
  const el = h("select")
  for (const [v, t] of options) el.append(new Option(t, v))
  if (value !== undefined) el.value = value
  return el
}

/** Clears the errors of a form (its .field-error lines and aria-invalid marks). */
export function clearErrors(form) {
  for (const p of form.querySelectorAll(".field-error")) p.textContent = ""
  for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid")
}

/** Shows an error at a field (and marks it invalid). */
export function fieldError(form, id, text) {
  const c = form.querySelector(`#${CSS.escape(id)}`)
  const p = form.querySelector(`#${CSS.escape(id)}-error`)
  if (c) c.setAttribute("aria-invalid", "true")
  if (p) p.textContent = p.textContent ? `${p.textContent}; ${text}` : text
  return Boolean(p)
}

/**
 * Shows an API error at the form's fields: each of `problems` (or the detail) goes to the
 * field whose JSON path it names (`map`: path segment → field id), the rest to `fallback`.
 */
export function showProblems(form, error, map, fallback) {
  const problems = error.problems?.length ? error.problems : [error.message]
  let first
  for (const p of problems) {
    const path = /(?:^|\s|:)\/([A-Za-z]+)(?:\/([A-Za-z]+))?/.exec(p)
    const id = path && (map[path[2]] ?? map[path[1]])
    const text = `${error.code && !id ? `${error.code}: ` : ""}${p}`
    if (id && fieldError(form, id, p)) first ??= id
    else fieldError(form, fallback, text)
  }
  form.querySelector(`#${CSS.escape(first ?? fallback)}`)?.focus?.()
}

/** One contiguous change turning `a` into `b`: { pos, del, ins } (common prefix and suffix kept). */
export function diff(a, b) {
  let p = 0
  const max = Math.min(a.length, b.length)
  while (p < max && a[p] === b[p]) p++
  let s = 0
  while (s < max - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++
  return { pos: p, del: a.length - p - s, ins: b.slice(p, b.length - s) }
}

/** Where position `i` of a text moves when `c` (a diff) is applied to it. */
export function mapPos(i, c) {
  if (i <= c.pos) return i
  if (i >= c.pos + c.del) return i + c.ins.length - c.del
  return c.pos + c.ins.length
}

/** `mine` and `theirs` both changed `base`: theirs with my change laid over it at its mapped place. */
export function rebase(base, mine, theirs) {
  const l = diff(base, mine)
  if (l.del === 0 && l.ins === "") return theirs
  const r = diff(base, theirs)
  if (r.del === 0 && r.ins === "") return mine
  const start = l.pos >= r.pos + r.del ? l.pos + r.ins.length - r.del : l.pos + l.del <= r.pos ? l.pos : r.pos + r.ins.length
  const end = l.pos >= r.pos + r.del ? start + l.del : l.pos + l.del <= r.pos ? start + l.del : Math.max(start, mapPos(l.pos + l.del, r))
  return theirs.slice(0, start) + l.ins + theirs.slice(Math.min(theirs.length, end))
}

export const fmtTime = t => (t ? new Date(t).toLocaleString() : "–")
