import { get } from '../api.js'
import { barChart } from '../chart.js'
import { badge, count, h, link, plural, table, when } from '../dom.js'

/** The rollout of the channel's newest release as one line. */
export function rolloutLine(current, rollback) {
  if (rollback) return [badge('rolled_back'), ` every unpinned device is sent back to ${rollback.version} (since `, when(rollback.at), ')']
  if (!current) return h('span', { class: 'muted' }, 'no release with a binary')
  return [badge(current.state), ` ${current.percent}% of the channel`, current.halted_reason ? ` (halted: ${current.halted_reason})` : '']
}

function summaryCards(fleet) {
  const cards = [
    ['Devices', fleet.total, ''],
    [`Stale (not seen for ${fleet.stale_after})`, fleet.stale, fleet.stale > 0 ? 'warn' : ''],
  ]
  // Devices that have not proven who they are, once the server has device credentials.
  if (typeof fleet.unverified === 'number') cards.push(['Unverified (no device credentials)', fleet.unverified, fleet.unverified > 0 ? 'warn' : ''])
  return h(
    'div',
    { class: 'cards' },
    cards.map(([what, n, cls]) => h('div', { class: `card ${cls}`.trim(), 'data-card': what }, h('span', { class: 'n' }, count(n)), h('span', { class: 'what' }, what)))
  )
}

async function channelSection(fleet, pair, width) {
  const versions = fleet.versions.filter((v) => v.board === pair.board && v.channel === pair.channel)
  const rollout = (fleet.rollouts ?? []).find((r) => r.board === pair.board && r.channel === pair.channel)
  const current = rollout?.current ?? null
  const adoption = current ? await get(`/v1/releases/${encodeURIComponent(pair.board)}/${encodeURIComponent(current.version)}/adoption`) : null
  const heading = `${pair.board} / ${pair.channel}`
  const rows = versions.map((v) => ({
    key: v.version,
    label: `${v.version} (seq ${v.sequence})`,
    value: v.devices,
    cls: current && v.version === current.version ? 'current' : undefined,
    mark: current && v.version === current.version ? 'current release' : undefined,
  }))
  const unverifiedOf = (v) => (typeof v.unverified === 'number' ? v.unverified : null)
  const showUnverified = versions.some((v) => unverifiedOf(v) !== null)
  return h(
    'section',
    { class: 'panel', 'data-channel': heading, 'aria-labelledby': `ch-${pair.board}-${pair.channel}` },
    h('h2', { id: `ch-${pair.board}-${pair.channel}` }, heading),
    h(
      'dl',
      { class: 'facts' },
      h('dt', null, 'Current release'),
      h('dd', null, current ? link(`${current.version} (seq ${current.sequence})`, ['release', pair.board, current.version]) : 'none'),
      h('dt', null, 'Rollout'),
      h('dd', null, rolloutLine(current, rollout?.rollback)),
      h('dt', null, 'Devices'),
      h('dd', null, `${count(pair.devices)}, of which ${count(pair.stale)} stale`),
      adoption ? [h('dt', null, 'Silent rollbacks'), h('dd', { 'data-silent': adoption.silent_rollbacks }, `${count(adoption.silent_rollbacks)} of ${plural(adoption.rolled_back, 'rollback')} of ${current.version}; ${count(adoption.failed)} failed`)] : null
    ),
    barChart({ rows, width, label: `Devices per running version on ${heading}` }),
    table(
      [
        { label: 'Version', cell: (v) => link(v.version, ['devices'], { board: v.board, channel: v.channel, version: v.version }) },
        { label: 'Sequence', num: true, cell: (v) => v.sequence },
        { label: 'Devices', num: true, cell: (v) => count(v.devices) },
        { label: 'Share', num: true, cell: (v) => `${pair.devices ? ((100 * v.devices) / pair.devices).toFixed(1) : 0}%` },
        ...(showUnverified ? [{ label: 'Unverified', num: true, cell: (v) => count(unverifiedOf(v) ?? 0) }] : []),
      ],
      versions,
      { empty: 'No device of this channel has polled yet.' }
    )
  )
}

export default {
  title: () => 'Fleet',
  async data(_params, { width }) {
    const fleet = await get('/v1/fleet/versions')
    const pairs = fleet.channels ?? []
    const sections = []
    for (const pair of pairs) sections.push(await channelSection(fleet, pair, Math.min(width - 34, 1100)))
    return h(
      'div',
      null,
      summaryCards(fleet),
      pairs.length === 0 ? h('p', { class: 'notice' }, 'No device has polled this server yet.') : sections
    )
  },
}
