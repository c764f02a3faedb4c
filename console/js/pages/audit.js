import { get } from '../api.js'
import { field, h, link, option, route, table, when } from '../dom.js'
import { filterForm, textFilter } from '../filters.js'

const ACTIONS = ['start', 'set_percent', 'pause', 'resume', 'halt', 'rollback', 'clear_rollback', 'policy', 'pin', 'unpin']

function actionSelect(params) {
  return field('Action', h('select', { name: 'action' }, option('', 'any action', !params.query.action), ACTIONS.map((a) => option(a, a, params.query.action === a))))
}

export default {
  title: () => 'Audit log',
  controls: (params) =>
    filterForm(
      [
        textFilter('Board', 'board', params),
        textFilter('Channel', 'channel', params),
        actionSelect(params),
        textFilter('Who (token name)', 'actor', params),
        textFilter('Device', 'device', params),
      ],
      'audit'
    ),
  async data(params) {
    const q = params.query
    const page = await get('/v1/audit', { board: q.board, channel: q.channel, action: q.action, actor: q.actor, device: q.device, cursor: q.cursor, limit: 50 })
    const { cursor: here, ...filters } = q
    return h(
      'div',
      null,
      table(
        [
          { label: 'When', cell: (e) => when(e.at) },
          { label: 'Who', cell: (e) => e.actor },
          { label: 'Action', cell: (e) => e.action },
          { label: 'Where', cell: (e) => [e.board ?? '', e.channel ? ` / ${e.channel}` : '', e.version ? ` · ${e.version}` : ''] },
          { label: 'Device', cell: (e) => (e.device ? link(e.device, ['device', e.device], null, { class: 'mono' }) : '') },
          { label: 'Reason', text: true, cell: (e) => e.reason ?? '—' },
          { label: 'Details', text: true, wide: true, cell: (e) => h('code', null, JSON.stringify(e.details)) },
        ],
        page.entries,
        { empty: 'No entry matches.', key: (e) => String(e.id) }
      ),
      h(
        'nav',
        { class: 'pager', 'aria-label': 'Pages' },
        here ? h('a', { href: route(['audit'], filters) }, 'Newest') : null,
        page.next_cursor ? h('a', { href: route(['audit'], { ...filters, cursor: page.next_cursor }) }, 'Older entries') : h('span', { class: 'muted' }, 'Oldest entry shown')
      )
    )
  },
}
