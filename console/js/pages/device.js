import { get } from '../api.js'
import { badge, count, facts, h, link, table, when } from '../dom.js'

export default {
  section: 'devices',
  title: (params) => `Device ${params.args[0] ?? ''}`,
  async data(params) {
    const d = await get(`/v1/devices/${encodeURIComponent(params.args[0] ?? '')}`)
    const r = d.rollout
    return h(
      'div',
      null,
      h(
        'section',
        { class: 'panel' },
        h('h2', null, 'Now'),
        facts([
          ['Board / channel', `${d.board} / ${d.channel}`],
          ['Runs', `${d.version} (seq ${d.sequence})`],
          ['Last seen', when(d.last_seen)],
          ['First seen', when(d.first_seen)],
          ['Polls', count(d.polls)],
          ['Address', d.address],
          ['User agent', d.user_agent],
          ['Free OTA space', d.free_space === null ? null : `${count(d.free_space)} bytes`],
          ['Sketch MD5', d.sketch_md5],
          ['Last offered', d.offered_version],
          ['Note', d.note],
          ['Pinned', r?.pinned ? `to ${r.pinned.version} by ${r.pinned.pinned_by}${r.pinned.reason ? ` (${r.pinned.reason})` : ''}` : 'no'],
          ['Target', r?.target ? `${r.target.version} (seq ${r.target.sequence}) by ${r.target.basis}${r.target.allow_downgrade ? ', downgrade allowed' : ''}` : 'none'],
          ['In the current rollout', r ? (r.in_rollout ? 'yes' : 'no') : null],
        ]),
        h('p', null, link('Audit entries about this device', ['audit'], { device: d.device }))
      ),
      h('h2', null, 'Where it stands with each release'),
      table(
        [
          { label: 'Release', cell: (u) => link(`${u.version} (seq ${u.sequence})`, ['release', u.board, u.version]) },
          { label: 'State', cell: (u) => [badge(u.state), u.rollback_silent ? ' silent' : ''] },
          { label: 'From', cell: (u) => u.from_version ?? '—' },
          { label: 'Offered', wide: true, cell: (u) => when(u.offered_at) },
          { label: 'Booted', wide: true, cell: (u) => when(u.booted_at) },
          { label: 'Failed / rolled back', wide: true, cell: (u) => (u.failed_at || u.rolled_back_at ? when(u.rolled_back_at ?? u.failed_at) : '—') },
        ],
        d.updates,
        { empty: 'Never offered a release nor reported about one.' }
      ),
      h('h2', null, 'Reports'),
      table(
        [
          { label: 'When', cell: (x) => when(x.at) },
          { label: 'Status', cell: (x) => badge(x.status) },
          { label: 'Version', cell: (x) => `${x.version} (seq ${x.sequence})` },
          { label: 'Detail', text: true, cell: (x) => x.detail ?? '' },
        ],
        d.reports,
        { empty: 'No report yet.' }
      ),
      h('h2', null, 'Version history'),
      table(
        [
          { label: 'Since', cell: (x) => when(x.at) },
          { label: 'Version', cell: (x) => `${x.version} (seq ${x.sequence})` },
          { label: 'Board / channel', cell: (x) => `${x.board} / ${x.channel}` },
        ],
        d.history
      )
    )
  },
}
