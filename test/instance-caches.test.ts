import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { TestClock } from './support/clock'
import { releases, deltaPoll } from './support/delta'
import { deviceId, report } from './support/devices'
import { FLEET_ENV } from './support/env'
import { call } from './support/http'
import { postgres } from './support/postgres'
import { buildEspImage } from './support/esp-image-builder'
import { publisherOf, releaseRequest, sha256Of, uploadArtifact } from './support/publish'
import { createToken, startServer, tempDir } from './support/server'
import { until } from './support/wait'

// What an instance holds in memory besides the rollout plans — the delta patches it looked up and
// the binaries it found stored — follows an operator's action through another instance within a
// second, carried by the PostgreSQL change feed.

/** The bound for every instance to agree. */
const AGREE_MS = 1000
const DAY = 86_400_000

t.test('two instances on PostgreSQL: a patch switched off, a board’s deltas and a pruned upload reach the other within a second', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const clock = new TestClock()
  // Each instance its own data folder (its disk cache of binaries), one database, one server key.
  const serverKey = path.join(tempDir(t), 'server-key.pem')
  fs.writeFileSync(serverKey, crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const env = { ...FLEET_ENV, OTA_DATABASE_URL: await pg.createDatabase(), OTA_SERVER_KEY: serverKey, OTA_DELTA_FAILURE_LIMIT: '1', OTA_DEVICE_AUTH: 'off' }
  const a = await startServer(t, env, { clock })
  const b = await startServer(t, env, { clock })
  const operator = await createToken(a.dataDir, 'operator', 'ops')
  const { mason } = await releases(a, operator)
  let n = 0
  const offersDelta = async () => (await deltaPoll(b, deviceId(++n), mason)).manifest.delta !== undefined
  t.ok(await offersDelta(), 'the other instance offers the patch (and holds its row)')

  // Deltas off for the board, through the first instance.
  const setDelta = (enabled: boolean) => call(a, 'PUT', '/v1/boards/esp32cam/delta', operator, { enabled })
  t.equal((await setDelta(false)).status, 200)
  t.ok(await until(async () => !(await offersDelta()), AGREE_MS), 'deltas off for the board: the other instance stops offering within a second')
  t.equal((await setDelta(true)).status, 200)
  t.ok(await until(offersDelta, AGREE_MS), 'and on again')

  // A device the other instance offered the patch fails to apply it, and says so through the first:
  // past the limit (1) the patch is switched off for everyone.
  const failing = deviceId(++n)
  t.ok((await deltaPoll(b, failing, mason)).manifest.delta)
  t.equal((await report(a, failing, { status: 'delta_failed', version: 'carder', sequence: 2, detail: 'sha256_mismatch' })).status, 202)
  t.ok(await until(async () => !(await offersDelta()), AGREE_MS), 'the patch switched off through one instance: the other stops offering it within a second')

  // An upload through the other instance (its row held, its bytes in that instance's disk cache) is
  // pruned through the first: the other must not take it as stored any more.
  const publisher = await publisherOf(a)
  const image = buildEspImage({ version: 'weaver', seed: 7 })
  await uploadArtifact(b, publisher.token, image)
  // A first publish signed over other facts is refused after the image was read (copied to disk).
  const wrong = await call(b, 'POST', '/v1/releases', publisher.token, releaseRequest(publisher, { version: 'weaver', sequence: 3, image }, { sequence: 4 }))
  t.match(wrong, { status: 422 }, 'a release whose signature covers other facts is refused')
  clock.advance(8 * DAY)
  const pruned = await call<{ removed: Array<{ sha256: string }> }>(a, 'POST', '/v1/artifacts/prune', publisher.token, {})
  t.same(pruned.body.removed.map((r) => r.sha256), [sha256Of(image)], 'pruned through the first instance')
  const publish = () => call<{ error?: string }>(b, 'POST', '/v1/releases', publisher.token, releaseRequest(publisher, { version: 'weaver', sequence: 3, image }))
  let answer = { status: 0, body: {} as { error?: string } }
  // A refused publish writes nothing: tried again until refused, for at most the bound.
  t.ok(await until(async () => (answer = await publish()).status !== 201, AGREE_MS), 'the other instance no longer takes the binary as stored')
  t.match(answer, { status: 404, body: { error: 'artifact_not_found' } }, 'a release of it is refused: upload the binary first')
})
