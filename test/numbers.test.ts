import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { databasePath, openDatabase } from '../src/db/open'
import { migrate, readMigrations } from '../src/db/migrate'
import { deviceId, poll } from './support/devices'
import { publishRelease } from './support/publish'
import { createToken, startServer, tempDir } from './support/server'
import { STEADY_ENV } from './support/env'
import { getJson } from './support/http'

// Numbers come in as whole numbers in plain decimal, within range, on every route: a query string,
// an Arduino header, a JSON body. Before, `sequence=1e309` stored Infinity and broke the fleet
// views until someone edited the database (issue 13).

const NOT_CANONICAL = ['1e309', '0x10', '+1', ' 1', '4294967295.0', 'Infinity', '-Infinity', 'NaN', '1e3', '01', '-0', '1_000', '']

t.test('query strings, headers and bodies: non-canonical or non-finite numbers are 400 naming the field', async (t) => {
  const server = await startServer(t, STEADY_ENV)
  await publishRelease(server, { version: 'mason', sequence: 3 })
  const operator = await createToken(server.dataDir, 'operator')
  const device = deviceId(1)
  t.equal(await poll(server, { device, version: 'old', sequence: 1 }), 200, 'a device exists to report for')

  const refused = async (what: string, res: Response, field: string) => {
    const body = (await res.json()) as { error: string; message: string }
    t.equal(res.status, 400, `${what}: 400`)
    t.equal(body.error, 'bad_request', `${what}: stable code`)
    t.match(body.message, field, `${what}: names ${field}`)
  }
  for (const value of NOT_CANONICAL) {
    const v = encodeURIComponent(value)
    await refused(`sequence=${JSON.stringify(value)}`, await fetch(`${server.url}/v1/manifest?board=esp32cam&device=${device}&version=old&sequence=${v}`), 'sequence')
    // HTTP itself strips the spaces around a header value (RFC 9110 OWS): " 1" arrives as "1".
    if (value.trim() === value) await refused(
      `x-ESP32-free-space: ${JSON.stringify(value)}`,
      await fetch(`${server.url}/v1/arduino/esp32cam`, { headers: { 'x-ESP32-STA-MAC': device, 'x-ESP32-version': 'old', 'x-ESP32-free-space': value } }),
      'x-esp32-free-space'
    )
    const auth = { authorization: `Bearer ${operator}` }
    await refused(`/v1/devices limit=${JSON.stringify(value)}`, await fetch(`${server.url}/v1/devices?limit=${v}`, { headers: auth }), 'limit')
    await refused(`/v1/audit limit=${JSON.stringify(value)}`, await fetch(`${server.url}/v1/audit?limit=${v}`, { headers: auth }), 'limit')
    await refused(
      `report sequence "${value}"`,
      await fetch(`${server.url}/v1/devices/${device}/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'failed', version: 'old', sequence: value }),
      }),
      'sequence'
    )
  }
  // JSON's own numbers: 1e309 parses to Infinity, 1e20 is beyond any sequence.
  for (const raw of ['1e309', '-1e309', '1e20', '1.5', '4294967296']) {
    await refused(
      `report sequence ${raw}`,
      await fetch(`${server.url}/v1/devices/${device}/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"status":"failed","version":"old","sequence":${raw}}`,
      }),
      'sequence'
    )
  }
  // A fractional percentage stays fine; a non-finite or exponent one is refused.
  const pct = (percent: string) =>
    fetch(`${server.url}/v1/rollouts/esp32cam/stable/percent`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: `{"percent":${percent}}`,
    })
  t.equal((await pct('12.5')).status, 200, 'percent 12.5 is taken')
  await refused('percent 1e309', await pct('1e309'), 'percent')
  await refused('percent "1e2"', await pct('"1e2"'), 'percent')
  t.equal((await pct('100')).status, 200, 'percent 100 is taken')

  // The canonical forms still work, at the edges of their range.
  t.equal(await poll(server, { device, version: 'old', sequence: 4294967295 }), 200, 'sequence 4294967295')
  t.equal(await poll(server, { device, version: 'old', sequence: 0 }), 200, 'sequence 0')
  const ard = await fetch(`${server.url}/v1/arduino/esp32cam`, {
    headers: { 'x-ESP32-STA-MAC': device, 'x-ESP32-version': 'mason', 'x-ESP32-free-space': '1966080' },
  })
  t.equal(ard.status, 304, 'x-ESP32-free-space: 1966080')
  t.equal((await getJson(server, '/v1/devices?limit=500', operator)).status, 200, 'limit=500')

  // Nothing of the refused requests reached the database: the views answer, with finite numbers.
  const list = await getJson<{ devices: Array<{ sequence: number; free_space: number | null }> }>(server, '/v1/devices', operator)
  t.equal(list.status, 200)
  t.same(list.body.devices.map((d) => [d.sequence, d.free_space]), [[3, 1966080]])
  t.equal((await getJson(server, '/v1/fleet/versions', operator)).status, 200)
  t.equal((await getJson(server, `/v1/devices/${device}`, operator)).status, 200)
})

t.test('the database refuses out-of-range numbers whoever writes them', async (t) => {
  const dir = tempDir(t)
  const db = openDatabase(dir)
  t.teardown(() => db.close())
  const insert = db.prepare(
    `INSERT INTO devices (device, board, channel, version, sequence, free_space, first_seen, last_seen) VALUES (?, 'esp32cam', 'stable', 'v', ?, ?, 0, 0)`
  )
  for (const [sequence, freeSpace] of [
    [Infinity, null],
    [-1, null],
    [4294967296, null],
    [2.5, null],
    [1, Infinity],
    [1, -5],
  ] as const) {
    t.throws(() => insert.run(deviceId(7), sequence, freeSpace), /whole numbers/, `sequence ${sequence}, free_space ${freeSpace}`)
  }
  insert.run(deviceId(7), 5, 1000)
  t.throws(() => db.prepare('UPDATE devices SET sequence = ?').run(Infinity), /whole numbers/, 'an update too')
  t.throws(
    () => db.prepare(`INSERT INTO reports (device, status, version, sequence, at) VALUES (?, 'failed', 'v', ?, 0)`).run(deviceId(7), Infinity),
    /whole number/
  )
  t.throws(
    () => db.prepare(`INSERT INTO device_history (device, board, channel, version, sequence, at) VALUES (?, 'b', 'c', 'v', ?, 0)`).run(deviceId(7), 1e300),
    /whole number/
  )
})

t.test('migration 004 repairs a database that stored Infinity; the fleet views answer again', async (t) => {
  const dir = tempDir(t)
  // The schema as it was before 004, written the way the old server wrote a sequence=1e309 poll.
  const before = new BetterSqlite3(databasePath(dir))
  migrate(before, readMigrations().filter((m) => m.version < 4))
  const device = deviceId(42)
  before
    .prepare(
      `INSERT INTO devices (device, board, channel, version, sequence, free_space, first_seen, last_seen) VALUES (?, 'esp32cam', 'stable', 'evil', ?, ?, 1, 1)`
    )
    .run(device, Infinity, Infinity)
  before
    .prepare(`INSERT INTO device_history (device, board, channel, version, sequence, at) VALUES (?, 'esp32cam', 'stable', 'evil', ?, 1)`)
    .run(device, Infinity)
  before.prepare(`INSERT INTO reports (device, status, version, sequence, at) VALUES (?, 'failed', 'evil', ?, 1)`).run(device, -Infinity)
  t.equal(
    (before.prepare('SELECT typeof(sequence) AS t FROM fleet_versions').get() as { t: string }).t,
    'real',
    'the count row holds Infinity too'
  )
  before.close()

  // The server's start applies 004.
  const server = await startServer(t, STEADY_ENV, { dataDir: dir })
  const operator = await createToken(dir, 'operator')
  const list = await getJson<{ devices: Array<{ device: string; sequence: number; free_space: number | null }> }>(server, '/v1/devices', operator)
  t.equal(list.status, 200, 'GET /v1/devices answers')
  t.same(list.body.devices, [{ ...list.body.devices[0], device, sequence: 0, free_space: null }], 'the sequence reads 0, the free space unknown')
  const versions = await getJson<{ total: number; versions: Array<{ sequence: number; devices: number }> }>(server, '/v1/fleet/versions', operator)
  t.equal(versions.status, 200, 'GET /v1/fleet/versions answers')
  t.same(versions.body.versions.map((v) => [v.sequence, v.devices]), [[0, 1]], 'counted once, at sequence 0')
  const view = await getJson<{ history: Array<{ sequence: number }>; reports: Array<{ sequence: number }> }>(server, `/v1/devices/${device}`, operator)
  t.equal(view.status, 200, "the device's view answers")
  t.same([view.body.history[0].sequence, view.body.reports[0].sequence], [0, 0])
  // The device's next poll puts its real sequence back, and the counts follow.
  t.equal(await poll(server, { device, version: 'evil', sequence: 9 }), 404, 'polls (no release yet)')
  const after = await getJson<{ versions: Array<{ sequence: number; devices: number }> }>(server, '/v1/fleet/versions', operator)
  t.same(after.body.versions.map((v) => [v.sequence, v.devices]), [[9, 1]])
})
