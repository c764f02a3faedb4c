import t from 'tap'
import { deviceId, inParallel } from './support/devices'
import { publishRelease } from './support/publish'
import { offerFor, operatorToken } from './support/rollouts'
import { buildApp } from './support/server'
import { eachBackend } from './support/backends'
import { call, type Target } from './support/http'
import { FLEET_NO_DELTAS_ENV } from './support/env'

const FLEET = Array.from({ length: 1000 }, (_, i) => deviceId(i))
const RUNS_V1 = { version: 'v1', sequence: 1 }

/** The devices of FLEET offered `version`, polling as devices running v1. */
async function offeredSet(server: Target, version: string): Promise<Set<string>> {
  const got = new Set<string>()
  await inParallel(FLEET, 32, async (device) => {
    const offer = await offerFor(server, device, RUNS_V1)
    if (offer.status !== 200) throw new Error(`poll of ${device} answered ${offer.status}`)
    if (offer.version === version) got.add(device)
    else if (offer.version !== 'v1') throw new Error(`device ${device} was offered ${offer.version}, neither ${version} nor the previous v1`)
  })
  return got
}

async function firmwareJson(server: Target): Promise<{ version: string; allow_downgrade: boolean }> {
  return (await call<{ version: string; allow_downgrade: boolean }>(server, 'GET', '/firmware.json')).body
}

eachBackend(t, 'a release at 10% reaches about a tenth of 1,000 devices; raising it to 50% keeps every one of them', async (t, backend) => {
  const server = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  const v2 = await publishRelease(server, { version: 'v2', sequence: 2, rolloutPercent: 10 })
  t.match(v2.release.rollout, { percent: 10, state: 'active' }, 'POST /v1/releases answers with the rollout it started')

  const at10 = await offeredSet(server, 'v2')
  t.ok(at10.size >= 70 && at10.size <= 130, `100 ± 30 devices are offered v2 at 10% (${at10.size})`)
  t.same(await offeredSet(server, 'v2'), at10, 'the same devices on every poll')
  t.equal((await firmwareJson(server)).version, 'v1', 'the field fleet (no device id) keeps v1 until v2 reaches everyone')

  const set = await call(server, 'PUT', '/v1/rollouts/esp32cam/stable/percent', ops, { percent: 50, reason: 'no complaints at 10%' })
  t.equal(set.status, 200)
  t.match(set.body, { version: 'v2', percent: 50, state: 'active' })
  const at50 = await offeredSet(server, 'v2')
  t.ok(at50.size >= 400 && at50.size <= 600, `about half are offered v2 at 50% (${at50.size})`)
  t.same([...at10].filter((d) => !at50.has(d)), [], 'every device of the first 10% still is')

  const device = [...at10][0]
  const onV2 = await offerFor(server, device, { version: 'v2', sequence: 2 })
  t.match(onV2, { version: 'v2', allowDowngrade: false }, 'a device that took v2 is offered v2 again')

  const { body: list } = await call<{ releases: Array<{ version: string; rollout: unknown }> }>(server, 'GET', '/v1/releases?board=esp32cam', ops)
  t.match(list.releases, [
    { version: 'v2', rollout: { percent: 50, state: 'active', halted_reason: null } },
    { version: 'v1', rollout: { percent: 100, state: 'active' } },
  ], '/v1/releases shows each release’s rollout')

  await call(server, 'PUT', '/v1/rollouts/esp32cam/stable/percent', ops, { percent: 100 })
  t.equal((await offeredSet(server, 'v2')).size, FLEET.length, 'at 100% every device is offered v2')
  t.equal((await firmwareJson(server)).version, 'v2', 'and the field fleet follows once v2 is fully rolled out')
})

eachBackend(t, 'the starting percentage comes from the channel policy unless the publish names one', async (t, backend) => {
  const server = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  const policy = await call(server, 'PUT', '/v1/rollouts/esp32cam/stable/policy', ops, { default_percent: 20, reason: 'canary first' })
  t.equal(policy.status, 200)
  t.same(policy.body, { board: 'esp32cam', channel: 'stable', policy: { default_percent: 20, halt_min_count: 5, halt_min_ratio: 0.2 } })
  const v2 = await publishRelease(server, { version: 'v2', sequence: 2 })
  t.match(v2.release.rollout, { percent: 20, state: 'active' }, 'the policy’s default')
  const at20 = await offeredSet(server, 'v2')
  t.ok(at20.size >= 150 && at20.size <= 250, `about 200 devices at 20% (${at20.size})`)
  const v3 = await publishRelease(server, { version: 'v3', sequence: 3, rolloutPercent: 0 })
  t.match(v3.release.rollout, { percent: 0 }, 'the publish’s own percentage wins')
  t.same(await offeredSet(server, 'v2'), at20, 'at 0% nobody gets v3: devices keep the newest earlier release they are in')
  const beta = await publishRelease(server, { version: 'b1', sequence: 4, channel: 'beta' })
  t.match(beta.release.rollout, { percent: 100 }, 'another channel keeps the default 100%')

  const bad = await call(server, 'PUT', '/v1/rollouts/esp32cam/stable/percent', ops, { percent: 101 })
  t.equal(bad.status, 400)
  t.equal((bad.body as { error: string }).error, 'bad_request')
  const none = await call(server, 'PUT', '/v1/rollouts/esp32cam/nightly/percent', ops, { percent: 10 })
  t.equal(none.status, 404)
  t.equal((none.body as { error: string }).error, 'no_release')
})

eachBackend(t, 'pause keeps new devices out and devices already on the release on it; resume lets them in again', async (t, backend) => {
  const server = await buildApp(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const ops = await operatorToken(server)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2, rolloutPercent: 30 })
  const members = await offeredSet(server, 'v2')
  const paused = await call(server, 'POST', '/v1/rollouts/esp32cam/stable/pause', ops, { reason: 'support tickets' })
  t.match(paused.body, { state: 'paused', percent: 30 })
  t.equal((await offeredSet(server, 'v2')).size, 0, 'devices that have not taken v2 yet are offered v1')
  const member = [...members][0]
  t.match(await offerFor(server, member, { version: 'v2', sequence: 2 }), { version: 'v2' }, 'a device running v2 keeps it')
  const again = await call(server, 'POST', '/v1/rollouts/esp32cam/stable/pause', ops)
  t.equal(again.status, 409, 'pausing a paused rollout is refused')
  t.equal((again.body as { error: string }).error, 'rollout_conflict')
  const resumed = await call(server, 'POST', '/v1/rollouts/esp32cam/stable/resume', ops, {})
  t.match(resumed.body, { state: 'active' })
  t.same(await offeredSet(server, 'v2'), members, 'after resume the same devices are in')
  const status = await call<{ channels: unknown[] }>(server, 'GET', '/v1/rollouts/esp32cam', ops)
  t.match(status.body.channels, [{ channel: 'stable', current: { version: 'v2', percent: 30, state: 'active' }, rollback: null }])
})
