// Building the page without markup strings: every value becomes a text node, so what a device
// sent (ids, versions, user agents, report details) is shown as text and never parsed as HTML.

const FORBIDDEN = /^(on|style$|srcdoc$|formaction$)/i

function setAttributes(el, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue
    if (name === 'on') {
      for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn)
      continue
    }
    if (FORBIDDEN.test(name)) throw new Error(`the console never sets the attribute ${name}`)
    // Links stay inside the console: its own #/ routes only.
    if (name === 'href' && !String(value).startsWith('#')) throw new Error('console links are #/ routes')
    el.setAttribute(name, value === true ? '' : String(value))
  }
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
}

/** An HTML element: h('td', { class: 'num' }, count). Strings and numbers become text nodes. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  setAttributes(el, attrs)
  appendAll(el, children)
  return el
}

const SVG_NS = 'http://www.w3.org/2000/svg'

/** An SVG element, built the same way. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag)
  setAttributes(el, attrs)
  appendAll(el, children)
  return el
}

/** A #/ link to a console route; path segments are encoded. */
export function link(text, segments, query, attrs = {}) {
  return h('a', { ...attrs, href: route(segments, query) }, text)
}

export function route(segments, query) {
  const path = '#/' + segments.map((p) => encodeURIComponent(p)).join('/')
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const qs = q.toString()
  return qs ? `${path}?${qs}` : path
}

/** A table: columns [{ label, cell(row) -> node|text, num?, narrow? }]. */
export function table(columns, rows, { caption, empty = 'Nothing to show.', key } = {}) {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty)
  const cls = (c) => [c.num ? 'num' : '', c.text ? 'text' : '', c.wide ? 'hide-narrow' : ''].filter(Boolean).join(' ') || undefined
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      null,
      caption ? h('caption', { class: 'muted' }, caption) : null,
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: cls(c) }, c.label)))),
      h(
        'tbody',
        null,
        rows.map((row) => h('tr', key ? { 'data-key': key(row) } : null, columns.map((c) => h('td', { class: cls(c) }, c.cell(row)))))
      )
    )
  )
}

/** A definition list of facts: [[label, value], …]; null values are left out. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [h('dt', null, k), h('dd', null, v)])
  )
}

export function badge(text) {
  return h('span', { class: `badge ${String(text).replace(/[^a-z_]/g, '')}` }, text)
}

export function when(iso) {
  if (!iso) return '—'
  const d = new Date(iso)
  return h('time', { datetime: iso, title: iso }, `${d.toLocaleString()} (${ago(d)})`)
}

export function ago(date) {
  const s = Math.round((Date.now() - date.getTime()) / 1000)
  if (s < 60) return `${Math.max(s, 0)} s ago`
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  if (s < 86400 * 2) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} d ago`
}

export function count(n) {
  return Number(n).toLocaleString('en-US')
}

export function plural(n, one, many = `${one}s`) {
  return `${count(n)} ${n === 1 ? one : many}`
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err))
}

/** A labelled form control: label text and the control inside the label. */
export function field(labelText, control, attrs = {}) {
  return h('label', attrs, labelText, control)
}

/** A form the page handles itself: never submitted anywhere (the CSP has form-action 'none'). */
export function form(attrs, onSubmit, ...children) {
  return h('form', { ...attrs, on: { submit: (event) => (event.preventDefault(), onSubmit(event)) } }, ...children)
}

export function option(value, text, selected) {
  return h('option', { value, selected: selected ? true : undefined }, text)
}
