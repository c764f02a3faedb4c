import t from 'tap'
import { eachBackend } from './support/backends'
import { TestClock } from './support/clock'
import { deviceId, inParallel, report } from './support/devices'
import { UNPROVEN_FLEET_NO_DELTAS_ENV } from './support/env'
import { call } from './support/http'
import { publishRelease } from './support/publish'
import { offerFor, operatorToken } from './support/rollouts'
import { startServer, type RunningServer } from './support/server'

// Auto-halt with several instances on one database: the failures are counted over the whole fleet,
// whichever instance each report came through, and the release halts once.

const RUNS_V1 = { version: 'v1', sequence: 1 }
const V2 = { version: 'v2', sequence: 2 }
/** How long the other instances may go on offering a halted release (issue 16). */
const AGREE_MS = 1000

eachBackend(t, 'failures reported through three instances halt the release once, counted over the fleet', async (t, backend) => {
  const clock = new TestClock()
  const env = { ...UNPROVEN_FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) }
  const first = await startServer(t, env, { clock })
  const instances = [first, await startServer(t, env, { dataDir: first.dataDir, clock }), await startServer(t, env, { dataDir: first.dataDir, clock })]
  const via = (i: number) => instances[i % instances.length]
  const ops = await operatorToken(first)
  await publishRelease(first, { version: 'v1', sequence: 1 })
  await publishRelease(first, { version: 'v2', sequence: 2 })

  // 20 devices take v2, each through another instance; 5 setbacks (the default count, 25% of them) halt it.
  const fleet = Array.from({ length: 20 }, (_, i) => deviceId(i))
  await inParallel(fleet, 6, async (d) => t.equal((await offerFor(via(fleet.indexOf(d)), d, RUNS_V1)).version, 'v2'))
  for (const [i, d] of fleet.entries()) t.equal((await report(via(i), d, { status: 'downloading', ...V2 })).status, 202)
  const failing = fleet.slice(0, 6)
  // Four failures, at most two through any one instance: under the count on every instance, and over the fleet.
  for (const [i, d] of failing.slice(0, 4).entries()) t.equal((await report(via(i), d, { status: 'failed', ...V2 })).status, 202)
  const state = async (server: RunningServer) =>
    (await call<{ channels: Array<{ current: { state: string; halt_failed: number | null; halt_tried: number | null } }> }>(
      server, 'GET', '/v1/rollouts/esp32cam?channel=stable', ops
    )).body.channels[0].current
  t.match(await state(instances[2]), { state: 'active' }, '4 failures over the fleet: under the count of 5')

  // The fifth and sixth at once, through two other instances: each may see the count passed; one halts.
  const [fifth, sixth] = await Promise.all([
    report(instances[1], failing[4], { status: 'failed', ...V2 }),
    report(instances[2], failing[5], { status: 'rolled_back', ...V2 }),
  ])
  t.same([fifth.status, sixth.status], [202, 202])
  // Both answered: the halt is committed. Every instance stops offering v2 to devices not yet
  // updated: on PostgreSQL the change feed carries the halt; on SQLite the instances re-read their
  // generation after a second (the clock's).
  const answered = Date.now()
  if (backend.name === 'sqlite') clock.advance(AGREE_MS)
  const agreed = await Promise.all(
    instances.map(async (server, i) => {
      // Polls started within the bound, each naming a device never seen before.
      for (let n = 0; Date.now() - answered <= AGREE_MS; n++) {
        if ((await offerFor(server, deviceId(100 + 10 * i + n), RUNS_V1)).version === 'v1') return Date.now() - answered
      }
      return -1
    })
  )
  for (const [i, ms] of agreed.entries()) t.ok(ms >= 0, `instance ${i + 1} offers v1 to a device not yet updated within ${AGREE_MS} ms of the halt (${ms} ms)`)

  t.match(await state(instances[0]), { state: 'halted', halt_tried: 20 }, 'halted, as every instance reads it')
  const audit = (await call<{ entries: Array<{ action: string; actor: string; reason: string }> }>(first, 'GET', '/v1/audit?board=esp32cam', ops)).body.entries
  const halts = audit.filter((e) => e.action === 'halt')
  t.equal(halts.length, 1, 'one halt in the audit log')
  t.match(halts[0], { actor: 'system', reason: /of 20 devices that tried v2 failed or rolled back/ })
  t.equal((await offerFor(instances[1], fleet[19], V2)).version, 'v2', 'a device already on v2 keeps it')
})
