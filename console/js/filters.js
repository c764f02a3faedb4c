// The filter forms above the lists: what they hold is written into the route (#/devices?board=…), so
// a refresh, a reload or a shared link keeps the operator's place.
import { field, form, h, route } from './dom.js'

/** A search form whose fields become the query of `section`'s route. */
export function filterForm(fields, section) {
  const filters = form(
    { class: 'filters', role: 'search' },
    () => {
      const query = {}
      for (const [k, v] of new FormData(filters).entries()) if (String(v).trim() !== '') query[k] = String(v).trim()
      location.hash = route([section], query)
    },
    fields,
    h('button', { type: 'submit' }, 'Apply'),
    h('button', { type: 'button', class: 'secondary', on: { click: () => (location.hash = route([section])) } }, 'Clear')
  )
  return filters
}

/** A text field named `name`, holding the route's current value. */
export function textFilter(label, name, params, extra = {}) {
  return field(label, h('input', { name, value: params.query[name] ?? '', autocomplete: 'off', ...extra }))
}
