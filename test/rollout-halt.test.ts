import t from 'tap'
import { deviceId, inParallel } from './support/devices'
import { publishRelease } from './support/publish'
import { offerFor, operatorToken } from './support/rollouts'
import { buildApp } from './support/server'
import { call, type Target } from './support/http'
import { UNPROVEN_FLEET_NO_DELTAS_ENV } from './support/env'

const RUNS_V1 = { version: 'v1', sequence: 1 }
const V2 = { version: 'v2', sequence: 2 }

async function rolloutOf(server: Target, token: string, channel = 'stable') {
  const { body } = await call<{ channels: Array<{ current: Record<string, unknown> }> }>(server, 'GET', `/v1/rollouts/esp32cam?channel=${channel}`, token)
  return body.channels[0].current
}

/** Each device reports `status` about v2, one after the other, as POST /v1/devices/:device/reports. */
async function reportAll(server: Target, devices: string[], status: string): Promise<void> {
  for (const device of devices) {
    const r = await call(server, 'POST', `/v1/devices/${device}/reports`, undefined, { status, ...V2 })
    if (r.status !== 202) throw new Error(`report of ${device} answered ${r.status}`)
  }
}

t.test('below the thresholds the rollout goes on: 4 failures, or 5 of 100 devices that tried (5%)', async (t) => {
  const server = await buildApp(t, UNPROVEN_FLEET_NO_DELTAS_ENV)
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2 })
  const fleet = Array.from({ length: 100 }, (_, i) => deviceId(i))
  await inParallel(fleet, 16, async (d) => t.equal((await offerFor(server, d, RUNS_V1)).version, 'v2'))
  await reportAll(server, fleet, 'downloading')
  await reportAll(server, fleet.slice(0, 4), 'failed')
  t.match(await rolloutOf(server, ops), { state: 'active' }, '4 failures: under the count of 5')
  await reportAll(server, fleet.slice(4, 5), 'failed')
  t.match(await rolloutOf(server, ops), { state: 'active', halted_reason: null }, '5 of 100: under 20%')
  t.equal((await offerFor(server, deviceId(500), RUNS_V1)).version, 'v2', 'new devices still get v2')

  // 100 more try, then 20 more fail: 25 of 200 (12.5%). The count of devices that tried, remembered
  // from the fifth failure (100), would say 25%: a halt is decided on fresh counts only.
  const more = Array.from({ length: 100 }, (_, i) => deviceId(i + 100))
  await inParallel(more, 16, (d) => offerFor(server, d, RUNS_V1))
  await reportAll(server, more, 'downloading')
  await reportAll(server, more.slice(0, 20), 'failed')
  t.match(await rolloutOf(server, ops), { state: 'active' }, '25 of 200 devices: under 20%, still active')
})

t.test('a burst of failures past the thresholds halts the rollout; devices not yet updated stay on the previous release', async (t) => {
  const server = await buildApp(t, UNPROVEN_FLEET_NO_DELTAS_ENV)
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2, rolloutPercent: 50 })
  const fleet = Array.from({ length: 60 }, (_, i) => deviceId(i))
  const members: string[] = []
  await inParallel(fleet, 16, async (d) => {
    if ((await offerFor(server, d, RUNS_V1)).version === 'v2') members.push(d)
  })
  t.ok(members.length >= 15, `enough devices in the 50% (${members.length})`)
  const tried = members.slice(0, 10)
  const waiting = members.slice(10)
  await reportAll(server, tried, 'downloading')
  await reportAll(server, tried.slice(0, 4), 'failed')
  t.match(await rolloutOf(server, ops), { state: 'active' }, '4 of 10 failed: under the count')
  await reportAll(server, tried.slice(4, 5), 'rolled_back')
  const halted = await rolloutOf(server, ops)
  t.match(halted, { version: 'v2', state: 'halted', percent: 50, halt_failed: 5, halt_tried: 10, halted_reason: /5 of 10 devices/ }, 'the fifth setback halts it')
  t.ok(typeof halted.halted_at === 'string')

  for (const d of waiting) t.equal((await offerFor(server, d, RUNS_V1)).version, 'v1', `${d}, in the 50% but not updated, is offered v1`)
  t.equal((await offerFor(server, tried[9], V2)).version, 'v2', 'a device already running v2 keeps it')

  const { body } = await call<{ entries: Array<Record<string, unknown>> }>(server, 'GET', '/v1/audit?board=esp32cam', ops)
  t.match(body.entries[0], {
    actor: 'system',
    action: 'halt',
    board: 'esp32cam',
    channel: 'stable',
    version: 'v2',
    reason: /5 of 10 devices that tried v2 failed or rolled back \(50%\)/,
    details: { failed: 5, tried: 10, percent: 50 },
  }, 'the audit log says who (system), when and why')
  t.ok(Date.parse(body.entries[0].at as string) > Date.now() - 60_000)

  await reportAll(server, tried.slice(5, 6), 'failed')
  const entries = (await call<{ entries: unknown[] }>(server, 'GET', '/v1/audit?board=esp32cam', ops)).body.entries
  t.equal(entries.length, body.entries.length, 'a halted rollout is not halted again')

  const resumed = await call(server, 'POST', '/v1/rollouts/esp32cam/stable/resume', ops, { reason: 'fixed the server certificate' })
  t.match(resumed.body, { state: 'active', halted_reason: null }, 'an operator resumes it')
  t.equal((await offerFor(server, waiting[0], RUNS_V1)).version, 'v2')
})

t.test('silent rollbacks seen at check-in count too, against the channel’s own policy', async (t) => {
  const server = await buildApp(t, UNPROVEN_FLEET_NO_DELTAS_ENV)
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  const policy = await call(server, 'PUT', '/v1/rollouts/esp32cam/stable/policy', ops, { halt_min_count: 3, halt_min_ratio: 0.5 })
  t.equal(policy.status, 200)
  await publishRelease(server, { version: 'v2', sequence: 2 })
  const fleet = Array.from({ length: 5 }, (_, i) => deviceId(i, 0xb0))
  for (const d of fleet) t.equal((await offerFor(server, d, RUNS_V1)).version, 'v2')
  await reportAll(server, fleet, 'downloaded')
  // Back on v1 after downloading v2, without a word: the check-in sees a rollback.
  for (const d of fleet.slice(0, 2)) await offerFor(server, d, RUNS_V1)
  t.match(await rolloutOf(server, ops), { state: 'active' }, '2 silent rollbacks: under 3')
  await offerFor(server, fleet[2], RUNS_V1)
  t.match(await rolloutOf(server, ops), { state: 'halted', halt_failed: 3, halt_tried: 5 }, 'the third (60%) halts it')
  t.equal((await offerFor(server, fleet[3], RUNS_V1)).version, 'v1', 'the next poll of a device still on v1 is offered v1')
  const legacy = (await call<{ version: string }>(server, 'GET', '/firmware.json')).body
  t.equal(legacy.version, 'v1', 'the field fleet is offered v1 too')
})
