import { get } from '../api.js'
import { field, h, link, route, table, when } from '../dom.js'
import { filterForm, textFilter } from '../filters.js'

const PAGE_SIZE = 50

/**
 * The cursors of the pages before this one, newest last, per filter: keyset paging has no page
 * numbers, so going back retraces the cursors that led here.
 */
const trail = new Map()

function filterKey(query) {
  const { cursor, ...rest } = query
  return JSON.stringify(Object.entries(rest).sort())
}

export default {
  title: () => 'Devices',
  controls: (params) =>
    filterForm(
      [
        textFilter('Device id or prefix', 'prefix', params, { placeholder: 'aabbcc or aa:bb:cc:dd:ee:ff', spellcheck: 'false', 'data-key': 'prefix' }),
        textFilter('Board', 'board', params),
        textFilter('Channel', 'channel', params),
        textFilter('Version', 'version', params),
        field(h('span', null, 'Stale only'), h('input', { type: 'checkbox', name: 'stale', value: '1', checked: params.query.stale === '1' }), { class: 'inline' }),
      ],
      'devices'
    ),
  async data(params) {
    const q = params.query
    const fleet = q.stale === '1' ? await get('/v1/fleet/versions', { board: q.board, channel: q.channel }) : null
    const page = await get('/v1/devices', {
      prefix: q.prefix,
      board: q.board,
      channel: q.channel,
      version: q.version,
      not_seen_within: fleet?.stale_after,
      limit: PAGE_SIZE,
      cursor: q.cursor,
    })
    const key = filterKey(q)
    const back = trail.get(key) ?? []
    const { cursor: here, ...filters } = q
    const pager = h(
      'nav',
      { class: 'pager', 'aria-label': 'Pages' },
      here ? h('a', { href: route(['devices'], filters) }, 'First page') : null,
      back.length && here
        ? h('a', { href: route(['devices'], { ...filters, cursor: back[back.length - 1] }), on: { click: () => back.pop() } }, 'Previous page')
        : null,
      page.next_cursor
        ? h('a', {
            href: route(['devices'], { ...filters, cursor: page.next_cursor }),
            on: { click: () => trail.set(key, [...back, here ?? '']) },
          }, 'Next page')
        : h('span', { class: 'muted' }, 'Last page')
    )
    return h(
      'div',
      null,
      table(
        [
          { label: 'Device', cell: (d) => link(d.device, ['device', d.device], null, { class: 'mono', 'data-key': `dev:${d.device}` }) },
          { label: 'Board / channel', cell: (d) => `${d.board} / ${d.channel}` },
          { label: 'Version', cell: (d) => d.version },
          { label: 'Seq', num: true, wide: true, cell: (d) => d.sequence },
          { label: 'Last seen', cell: (d) => when(d.last_seen) },
          { label: 'User agent', text: true, wide: true, cell: (d) => d.user_agent ?? '—' },
          { label: 'Note', text: true, wide: true, cell: (d) => d.note ?? '' },
        ],
        page.devices,
        { empty: 'No device matches.', key: (d) => d.device }
      ),
      pager
    )
  },
}
