import { get } from '../api.js'
import { badge, h, link, table, when } from '../dom.js'
import { filterForm, textFilter } from '../filters.js'

const short = (hex) => (hex ? hex.slice(0, 12) : '—')

export default {
  title: () => 'Releases',
  controls: (params) => filterForm([textFilter('Board', 'board', params), textFilter('Channel', 'channel', params)], 'releases'),
  async data(params) {
    const { releases } = await get('/v1/releases', { board: params.query.board, channel: params.query.channel })
    return table(
      [
        { label: 'Version', cell: (r) => link(r.version, ['release', r.board, r.version]) },
        { label: 'Board / channel', cell: (r) => `${r.board} / ${r.channel}` },
        { label: 'Seq', num: true, cell: (r) => r.sequence },
        { label: 'Provenance', cell: (r) => badge(r.provenance) },
        { label: 'Tag', wide: true, cell: (r) => h('code', null, r.tag) },
        { label: 'Commit', wide: true, cell: (r) => h('code', { title: r.commit }, short(r.commit)) },
        { label: 'Image', wide: true, cell: (r) => (r.has_binary ? `${r.image.chip ?? '?'} · ${(r.size / 1024).toFixed(0)} KiB · IDF ${r.image.idf_version ?? '?'}` : 'no binary (imported)') },
        { label: 'Rollout', cell: (r) => (r.rollout ? [badge(r.rollout.state), ` ${r.rollout.percent}%`] : '—') },
        { label: 'Published', cell: (r) => [r.published_by ?? '—', h('br'), when(r.created_at)] },
      ],
      releases,
      { empty: 'No release matches.', key: (r) => `${r.board}/${r.version}` }
    )
  },
}
