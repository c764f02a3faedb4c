import { get } from '../api.js'
import { barChart } from '../chart.js'
import { badge, count, facts, h, link, table, when } from '../dom.js'

/** The funnel's steps, in the order a device goes through them, and the setbacks after. */
const STEPS = [
  ['offered', 'offered'],
  ['downloading', 'downloading'],
  ['downloaded', 'downloaded'],
  ['installed', 'installed'],
  ['booted', 'booted (seen running it)'],
  ['failed', 'failed', 'bad'],
  ['rolled_back', 'rolled back', 'bad'],
  ['silent_rollbacks', '… of which silently', 'warn'],
]

export default {
  section: 'releases',
  title: (params) => `Release ${params.args[1] ?? ''} (${params.args[0] ?? ''})`,
  async data(params, { width }) {
    const [board, version] = params.args
    const base = `/v1/releases/${encodeURIComponent(board)}/${encodeURIComponent(version)}`
    const r = await get(base)
    const adoption = await get(`${base}/adoption`)
    const rows = STEPS.map(([key, label, cls]) => ({ key, label, value: adoption[key], cls }))
    return h(
      'div',
      null,
      h(
        'section',
        { class: 'panel' },
        h('h2', null, 'Adoption'),
        h('p', { class: 'muted' }, `Devices counted once per state they reached; ${count(adoption.running)} run ${version} now.`),
        barChart({ rows, width: Math.min(width - 34, 1100), max: Math.max(adoption.offered, adoption.running, 1), label: `Adoption funnel of ${version} on ${board}` }),
        table(
          [
            { label: 'State', cell: (row) => row.label },
            { label: 'Devices', num: true, cell: (row) => count(row.value) },
          ],
          rows
        )
      ),
      h(
        'section',
        { class: 'panel' },
        h('h2', null, 'Release'),
        facts([
          ['Board / channel', `${r.board} / ${r.channel}`],
          ['Sequence', r.sequence],
          ['Rollout', r.rollout ? [badge(r.rollout.state), ` ${r.rollout.percent}% since `, when(r.rollout.started_at)] : 'none (no binary)'],
          ['Provenance', [badge(r.provenance), r.provenance === 'verified' ? ' tag and commit checked in the firmware repository' : r.provenance === 'attested' ? ' forms checked, vouched for by the signed statement' : ' recorded from history']],
          ['Tag', h('code', null, r.tag)],
          ['Commit', h('code', null, r.commit)],
          ['Published by', r.published_by],
          ['Published', when(r.created_at)],
          ['Size', r.size === null ? null : `${count(r.size)} bytes`],
          ['SHA-256', r.sha256 ? h('code', null, r.sha256) : null],
          ['Signed with key', r.key_id ? h('code', null, r.key_id) : null],
          ['Chip', r.image.chip],
          ['Project', r.image.project_name],
          ['App version', r.image.app_version],
          ['ESP-IDF', r.image.idf_version],
          ['Secure version', r.image.secure_version],
          ['Built', r.image.build_date ? `${r.image.build_date} ${r.image.build_time ?? ''}` : null],
          ['Notes', r.notes],
        ]),
        h('p', null, link(`Devices running ${version}`, ['devices'], { board: r.board, channel: r.channel, version }))
      )
    )
  },
}
