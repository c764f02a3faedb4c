import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { deviceId, FLEET_ENV } from './support/devices'
import { publishRelease } from './support/publish'
import { call, offerFor, operatorToken } from './support/rollouts'
import { startServer } from './support/server'

t.test('two servers on one database: a change made through one reaches the other’s devices within a second', async (t) => {
  const a = await startServer(t, FLEET_ENV)
  const b = await startServer(t, FLEET_ENV, a.dataDir)
  const ops = await operatorToken(a)
  await publishRelease(a, { version: 'v1', sequence: 1 })
  await publishRelease(a, { version: 'v2', sequence: 2, rolloutPercent: 0 })
  const device = deviceId(1)
  const onV1 = { version: 'v1', sequence: 1 }
  await sleep(1100)
  t.match(await offerFor(b, device, onV1), { version: 'v1' }, 'the other server sees the new release at 0%')

  t.equal((await call(a, 'PUT', '/v1/rollouts/esp32cam/stable/percent', ops, { percent: 100 })).status, 200)
  t.match(await offerFor(a, device, onV1), { version: 'v2' }, 'the server that made the change follows it at once')
  await sleep(1100)
  t.match(await offerFor(b, device, onV1), { version: 'v2' }, 'the other within a second')

  t.equal((await call(a, 'PUT', '/v1/pins', ops, { devices: [device], board: 'esp32cam', version: 'v1' })).status, 200)
  await sleep(1100)
  t.match(await offerFor(b, device, onV1), { version: 'v1' }, 'pins too')
})
