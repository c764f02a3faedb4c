import t from 'tap'
import { deviceId } from './support/devices'
import { publishRelease } from './support/publish'
import { offerFor, operatorToken } from './support/rollouts'
import { TestClock } from './support/clock'
import { startServer } from './support/server'
import { call } from './support/http'
import { FLEET_NO_DELTAS_ENV } from './support/env'
import { eachBackend } from './support/backends'

// What each instance caches of rollouts is re-read once its generation check is a second old: the
// two servers share one clock, which the test moves by that second instead of sleeping through it.
const A_SECOND = 1000

eachBackend(t, 'two servers on one database: a change made through one reaches the other’s devices within a second', async (t, backend) => {
  const clock = new TestClock()
  const env = { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) }
  const a = await startServer(t, env, { clock })
  const b = await startServer(t, env, { dataDir: a.dataDir, clock })
  const ops = await operatorToken(a)
  await publishRelease(a, { version: 'v1', sequence: 1 })
  await publishRelease(a, { version: 'v2', sequence: 2, rolloutPercent: 0 })
  const device = deviceId(1)
  const onV1 = { version: 'v1', sequence: 1 }
  t.match(await offerFor(b, device, onV1), { version: 'v1' }, 'the other server sees the new release at 0%')

  t.equal((await call(a, 'PUT', '/v1/rollouts/esp32cam/stable/percent', ops, { percent: 100 })).status, 200)
  t.match(await offerFor(a, device, onV1), { version: 'v2' }, 'the server that made the change follows it at once')
  // On PostgreSQL the change feed may drop the other's cache before this poll: only SQLite is sure to lag.
  if (backend.name === 'sqlite') t.match(await offerFor(b, device, onV1), { version: 'v1' }, 'the other answers from what it read less than a second ago')
  clock.advance(A_SECOND)
  t.match(await offerFor(b, device, onV1), { version: 'v2' }, 'the other within a second')

  t.equal((await call(a, 'PUT', '/v1/pins', ops, { devices: [device], board: 'esp32cam', version: 'v1' })).status, 200)
  clock.advance(A_SECOND)
  t.match(await offerFor(b, device, onV1), { version: 'v1' }, 'pins too')
})
