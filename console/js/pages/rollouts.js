import { api, get } from '../api.js'
import { confirmChange } from '../confirm.js'
import { badge, count, field, form, h, link, option, plural, route, table, when } from '../dom.js'
import { rolloutLine } from './fleet.js'

const enc = encodeURIComponent

/** Devices of the channel, and how many run `version`: exact, from the fleet's counts. */
function channelCounts(fleet, board, channel, version) {
  const rows = fleet.versions.filter((v) => v.board === board && v.channel === channel)
  return {
    total: rows.reduce((n, v) => n + v.devices, 0),
    on: rows.filter((v) => v.version === version).reduce((n, v) => n + v.devices, 0),
  }
}

function devicesFrom(text) {
  return [...new Set(text.split(/[\s,;]+/).map((d) => d.trim()).filter(Boolean))]
}

/** A button that asks for confirmation before it changes anything. */
function changeButton(label, key, change, changed) {
  return h('button', { type: 'button', 'data-key': key, on: { click: () => void confirmChange(change()).then(changed) } }, label)
}

function channelPanel(ctx, board, ch, fleet, releases, pins) {
  const { channel, current, rollback } = ch
  const name = `${board} / ${channel}`
  const { total, on } = channelCounts(fleet, board, channel, current?.version)
  const notOn = total - on
  const changed = () => ctx.refresh()
  const key = (what) => `${what}:${board}:${channel}`
  const path = (action) => `/v1/rollouts/${enc(board)}/${enc(channel)}/${action}`
  const controls = []

  if (current && !rollback) {
    const percent = h('input', { type: 'number', min: 0, max: 100, step: 'any', value: current.percent, 'data-key': key('percent'), id: key('percent'), required: true })
    const setPercent = () => {
      const to = Number(percent.value)
      if (!Number.isFinite(to) || to < 0 || to > 100) return
      const from = current.percent
      const moved = Math.round((total * Math.abs(to - from)) / 100)
      const effect =
        to > from
          ? [
              `${current.version} will be offered to about ${plural(moved, 'more device')} of the ${count(total)} on ${name}: those whose bucket lies between ${from}% and ${to}%.`,
              `${count(on)} already run it; raising the percentage only adds devices.`,
            ]
          : to < from
            ? [
                `About ${plural(moved, 'device')} of the ${count(total)} on ${name} (buckets between ${to}% and ${from}%) will no longer be offered ${current.version}.`,
                `The ${plural(on, 'device')} already running it keep it.`,
              ]
            : [`The percentage stays ${to}%: nothing changes for the ${count(total)} devices.`]
      void confirmChange({
        title: `Set ${current.version} on ${name} to ${to}%`,
        effect,
        action: `Set to ${to}%`,
        run: (reason) => api('PUT', path('percent'), { body: { percent: to, reason } }),
      }).then(changed)
    }
    controls.push(
      form({ class: 'actions' }, setPercent, field('Rollout percentage', percent, { for: key('percent') }), h('button', { type: 'submit' }, 'Set percentage…'))
    )
  }

  if (current?.state === 'active') {
    controls.push(
      changeButton('Pause…', key('pause'), () => ({
        title: `Pause ${current.version} on ${name}`,
        effect: [
          `No further device starts on ${current.version}: the ${plural(notOn, 'device')} of ${name} not running it stay where they are.`,
          `The ${plural(on, 'device')} already running it keep it.`,
        ],
        action: 'Pause rollout',
        run: (reason) => api('POST', path('pause'), { body: { reason } }),
      }), changed)
    )
  }
  if (current && (current.state === 'paused' || current.state === 'halted')) {
    controls.push(
      changeButton('Resume…', key('resume'), () => ({
        title: `Resume ${current.version} on ${name}`,
        effect: [
          `${current.version} is offered again to devices whose bucket is under ${current.percent}%: about ${plural(Math.round((notOn * current.percent) / 100), 'device')} of the ${count(notOn)} not running it yet.`,
          current.state === 'halted' ? `It was halted by the server: ${current.halted_reason ?? ''}. The failure counts are not reset; another setback halts it again.` : '',
        ].filter(Boolean),
        action: 'Resume rollout',
        run: (reason) => api('POST', path('resume'), { body: { reason } }),
      }), changed)
    )
  }

  const earlier = releases.filter((r) => r.channel === channel && r.has_binary && current && r.sequence < current.sequence && r.rollout?.state !== 'rolled_back')
  if (earlier.length) {
    const to = h('select', { id: key('rollback'), 'data-key': key('rollback') }, earlier.map((r, i) => option(r.version, `${r.version} (seq ${r.sequence})`, i === 0)))
    const rollBack = () =>
      void confirmChange({
        title: `Roll ${name} back to ${to.value}`,
        danger: true,
        effect: [
          `Every unpinned device of the ${count(total)} on ${name} is offered ${to.value} with allow_downgrade until the next release of the channel; the ${plural(on, 'device')} running ${current.version} will downgrade.`,
          `${current.version} and every release above ${to.value} are never offered again. ${plural(pins.length, 'pinned device')} of ${board} keep their pins.`,
        ],
        action: `Roll back to ${to.value}`,
        run: (reason) => api('POST', path('rollback'), { body: { to: to.value, reason } }),
      }).then(changed)
    controls.push(form({ class: 'actions' }, rollBack, field('Roll back to', to, { for: key('rollback') }), h('button', { type: 'submit', class: 'danger' }, 'Roll back…')))
  }

  return h(
    'section',
    { class: 'panel', 'data-channel': name },
    h('h2', null, name),
    h(
      'dl',
      { class: 'facts' },
      h('dt', null, 'Current release'),
      h('dd', null, current ? link(`${current.version} (seq ${current.sequence})`, ['release', board, current.version]) : 'none'),
      h('dt', null, 'State'),
      h('dd', { 'data-state': current?.state ?? 'none' }, rolloutLine(current, rollback)),
      current ? [h('dt', null, 'Since'), h('dd', null, when(current.updated_at))] : null,
      h('dt', null, 'Devices'),
      h('dd', null, `${count(total)}, ${count(on)} on ${current?.version ?? '—'}`),
      h('dt', null, 'Auto-halt'),
      h('dd', null, `at ${ch.policy.halt_min_count} failures and ${Math.round(ch.policy.halt_min_ratio * 100)}% of the devices that tried; new releases start at ${ch.policy.default_percent}%`)
    ),
    h('div', { class: 'actions' }, controls)
  )
}

function pinsPanel(ctx, board, releases, pins) {
  const key = (what) => `${what}:${board}`
  const devices = h('textarea', { id: key('pin-devices'), 'data-key': key('pin-devices'), placeholder: 'aabbccddeeff, 112233445566', required: true })
  const withBinary = releases.filter((r) => r.has_binary)
  const version = h('select', { id: key('pin-version'), 'data-key': key('pin-version') }, withBinary.map((r, i) => option(r.version, `${r.version} (${r.channel}, seq ${r.sequence})`, i === 0)))
  const pinForm = form(
null,
() => {
      const list = devicesFrom(devices.value)
      if (list.length === 0) return
      void confirmChange({
        title: `Pin ${plural(list.length, 'device')} to ${version.value}`,
        effect: [
          `${plural(list.length, 'device')} of ${board} will be offered ${version.value} whatever the rollout of their channel does, until unpinned (downgrading if they run something newer).`,
          list.length <= 10 ? `Devices: ${list.join(', ')}` : `Devices: ${list.slice(0, 10).join(', ')} and ${list.length - 10} more`,
        ],
        action: `Pin ${plural(list.length, 'device')}`,
        run: (reason) => api('PUT', '/v1/pins', { body: { devices: list, board, version: version.value, reason } }),
      }).then((done) => {
        if (done) devices.value = ''
        ctx.refresh()
      })
    },
    h('div', { class: 'actions' }, field('Devices to pin (ids separated by spaces, commas or lines)', devices, { for: key('pin-devices') }), field('Release', version, { for: key('pin-version') }), h('button', { type: 'submit' }, 'Pin…'))
  )
  const unpin = (p) =>
    changeButton(`Unpin ${p.device}…`, `unpin:${p.device}`, () => ({
      title: `Unpin ${p.device}`,
      effect: [`Device ${p.device} stops being held on ${p.version} and follows its channel's rollout again from its next poll.`],
      action: 'Unpin',
      run: (reason) => api('DELETE', `/v1/pins/${enc(p.device)}`, { query: { reason } }),
    }), () => ctx.refresh())
  return h(
    'section',
    { class: 'panel' },
    h('h2', null, `Pinned devices of ${board}`),
    table(
      [
        { label: 'Device', cell: (p) => link(p.device, ['device', p.device], null, { class: 'mono' }) },
        { label: 'Release', cell: (p) => p.version },
        { label: 'Pinned', cell: (p) => [p.pinned_by, ' · ', when(p.pinned_at)] },
        { label: 'Reason', text: true, wide: true, cell: (p) => p.reason ?? '—' },
        { label: 'Action', cell: unpin },
      ],
      pins,
      { empty: 'No device of this board is pinned.', key: (p) => p.device }
    ),
    withBinary.length ? pinForm : null
  )
}

export default {
  title: (params) => (params.query.board ? `Rollouts of ${params.query.board}` : 'Rollouts'),
  async data(params, ctx) {
    const { boards } = await get('/v1/boards')
    const board = params.query.board ?? boards[0]?.name
    if (!board) return h('p', { class: 'notice' }, 'No board is known yet.')
    const picker = h(
      'nav',
      { class: 'actions', 'aria-label': 'Boards' },
      boards.map((b) => link(b.name, ["rollouts"], { board: b.name }, b.name === board ? { 'aria-current': 'page' } : {}))
    )
    const [state, fleet, { releases }, { pins }] = await Promise.all([
      get(`/v1/rollouts/${enc(board)}`),
      get('/v1/fleet/versions', { board }),
      get('/v1/releases', { board }),
      get('/v1/pins', { board }),
    ])
    return h(
      'div',
      null,
      boards.length > 1 ? picker : null,
      state.channels.length === 0 ? h('p', { class: 'notice' }, `${board} has no release yet.`) : state.channels.map((ch) => channelPanel(ctx, board, ch, fleet, releases, pins)),
      pinsPanel(ctx, board, releases, pins),
      h('p', null, h('a', { href: route(['audit'], { board }) }, `Audit log of ${board}`))
    )
  },
}
