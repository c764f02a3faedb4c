import t from 'tap'
import { freePort } from './support/built-server'
import { deviceId, poll, report } from './support/devices'
import { publishRelease } from './support/publish'
import { cli, createToken, startServer } from './support/server'
import { FLEET_NO_DELTAS_ENV, UNPROVEN_FLEET_NO_DELTAS_ENV } from './support/env'

// The fleet commands tried as a new user would: a fresh server, a few devices, the tool's own output.

t.test('fleet versions, fleet devices, device show, release adoption on a fresh server with a few devices', async (t) => {
  const server = await startServer(t, UNPROVEN_FLEET_NO_DELTAS_ENV)
  await publishRelease(server, { version: 'mason', sequence: 1 })
  await publishRelease(server, { version: 'leafcutter', sequence: 2 })
  const token = await createToken(server.dataDir, 'operator')
  const env = { OTA_SERVER: server.url, OTA_TOKEN: token }
  for (let i = 0; i < 5; i++) await poll(server, { device: deviceId(i), version: i < 3 ? 'mason' : 'leafcutter', sequence: i < 3 ? 1 : 2 })
  await report(server, deviceId(0), { status: 'installed', version: 'leafcutter', sequence: 2 })
  await poll(server, { device: deviceId(0), version: 'mason', sequence: 1 })

  const versions = await cli(['fleet', 'versions'], env)
  t.equal(versions.code, 0, versions.stderr)
  t.equal(
    versions.stdout,
    [
      'BOARD     CHANNEL  VERSION     SEQUENCE  DEVICES  VERIFIED',
      'esp32cam  stable   leafcutter  2         2        0',
      'esp32cam  stable   mason       1         3        0',
      '5 devices, 0 verified (device credentials off: all count), 0 not seen for 26h',
      '',
    ].join('\n'),
    'an aligned table, newest first, and a summary'
  )

  const asJson = await cli(['fleet', 'versions', '--json', '--board', 'esp32cam', '--stale-after', '7d'], env)
  t.equal(asJson.code, 0)
  t.match(JSON.parse(asJson.stdout), { total: 5, stale: 0, stale_after: '7d', versions: [{ version: 'leafcutter', devices: 2 }, { version: 'mason', devices: 3 }] })

  const devices = await cli(['fleet', 'devices', '--version', 'mason', '--limit', '2'], env)
  t.equal(devices.code, 0, devices.stderr)
  const lines = devices.stdout.trim().split('\n')
  t.match(lines[0], /^DEVICE\s+BOARD\s+CHANNEL\s+VERSION\s+SEQUENCE\s+LAST_SEEN\s+POLLS\s+VERIFIED\s+ADDRESS\s+NOTE$/)
  t.match(lines[1], new RegExp(`^${deviceId(0)}\\s+esp32cam\\s+stable\\s+mason\\s+1\\s+\\d{4}-`))
  t.equal(lines[3], '2 devices (more follow: --all, or a larger --limit)')
  const all = await cli(['fleet', 'devices', '--all', '--json'], env)
  t.equal((JSON.parse(all.stdout) as { devices: unknown[] }).devices.length, 5)

  const show = await cli(['device', 'show', deviceId(0).match(/../g)!.join(':')], env)
  t.equal(show.code, 0, show.stderr)
  t.match(show.stdout, new RegExp(`^device\\s+${deviceId(0)}$`, 'm'))
  t.match(show.stdout, /^leafcutter\s+2\s+rolled_back\s+mason\s.*\strue$/m, 'the silent rollback shows in the updates table')
  t.match(show.stdout, /reports \(newest first\)\nAT\s+STATUS.*\n\S+\s+installed\s+leafcutter/)

  const adoption = await cli(['release', 'adoption', 'esp32cam', 'leafcutter'], env)
  t.equal(adoption.code, 0, adoption.stderr)
  t.match(adoption.stdout, /^esp32cam leafcutter \(sequence 2, channel stable\)$/m)
  t.match(adoption.stdout, /^installed\s+1$/m)
  t.match(adoption.stdout, /^rolled_back\s+1$/m)
  t.match(adoption.stdout, /^running\s+2$/m)
})

t.test('refusals: the server message and a non-zero exit', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const releaser = await createToken(server.dataDir, 'releaser')

  const badToken = await cli(['fleet', 'versions', '--server', server.url, '--token', 'otg_not-a-real-token'], {})
  t.equal(badToken.code, 1)
  t.equal(badToken.stdout, '')
  t.match(badToken.stderr, /^ota-gate fleet versions: the token is unknown or revoked \(401 unauthorized\)\n$/)

  const wrongRole = await cli(['fleet', 'devices'], { OTA_SERVER: server.url, OTA_TOKEN: releaser })
  t.equal(wrongRole.code, 1)
  t.match(
    wrongRole.stderr,
    /needs role operator or admin; the token "releaser" has role releaser: create one with `ota-gate token create --role operator --name NAME` .*\(403 forbidden\)/
  )

  const operator = await createToken(server.dataDir, 'operator')
  const env = { OTA_SERVER: server.url, OTA_TOKEN: operator }
  const missing = await cli(['device', 'show', 'aabbccddeeff'], env)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /no device aabbccddeeff has polled this server \(404 device_not_found\)/)
  const badDuration = await cli(['fleet', 'devices', '--stale', 'yesterday'], env)
  t.equal(badDuration.code, 2, 'a usage error, found before asking the server')
  t.match(badDuration.stderr, /--stale must be a duration like 90m, 24h or 7d/)
  const noRelease = await cli(['release', 'adoption', 'esp32cam', 'nosuch'], env)
  t.equal(noRelease.code, 1)
  t.match(noRelease.stderr, /release_not_found/)

  const noServer = await cli(['fleet', 'versions'], { OTA_TOKEN: operator })
  t.equal(noServer.code, 2, 'no server named: a usage error')
  t.match(noServer.stderr, /--server URL or OTA_SERVER/)
  const noToken = await cli(['fleet', 'versions', '--server', server.url], {})
  t.equal(noToken.code, 2)
  t.match(noToken.stderr, /--token TOKEN or OTA_TOKEN/)

  // A port nothing listens on: the error says which server could not be reached.
  const closed = await freePort()
  const unreachable = await cli(['fleet', 'versions', '--server', `http://127.0.0.1:${closed}`, '--token', operator], {})
  t.equal(unreachable.code, 1)
  t.match(unreachable.stderr, new RegExp(`cannot reach the server at http://127\\.0\\.0\\.1:${closed}: ECONNREFUSED`))
})

t.test('rough edges: device show names its rollout in words, a bad MAC or board is said plainly, unpin says what it removed', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  await publishRelease(server, { version: 'mason', sequence: 1 })
  await publishRelease(server, { version: 'leafcutter', sequence: 2, rolloutPercent: 100 })
  const operator = await createToken(server.dataDir, 'operator', 'ops-dana')
  const env = { OTA_SERVER: server.url, OTA_TOKEN: operator }
  await poll(server, { device: deviceId(1), version: 'mason', sequence: 1 })

  const show = await cli(['device', 'show', deviceId(1)], env)
  t.equal(show.code, 0, show.stderr)
  t.notMatch(show.stdout, /\[object Object\]/)
  t.match(show.stdout, /^rollout\s+target leafcutter \(sequence 2, by rollout\); in the newest release's rollout; not pinned$/m)

  const pinned = await cli(['rollout', 'pin', '--device', deviceId(1), '--board', 'esp32cam', '--version', 'mason', '--reason', 'lab'], env)
  t.equal(pinned.code, 0, pinned.stderr)
  const showPinned = await cli(['device', 'show', deviceId(1)], env)
  t.match(showPinned.stdout, /^rollout\s+target mason \(sequence 1, by pinned, downgrade allowed\); .*; pinned to mason by ops-dana at \S+ \(lab\)$/m)

  const unpin = await cli(['rollout', 'unpin', '--device', deviceId(1)], env)
  t.equal(unpin.code, 0, unpin.stderr)
  t.match(unpin.stdout, new RegExp(`^unpinned ${deviceId(1)}: it was held on esp32cam mason \\(sequence 1\\) by ops-dana since \\S+; it follows its channel's rollout again\\n$`))
  const again = await cli(['rollout', 'unpin', '--device', deviceId(1)], env)
  t.equal(again.code, 1)
  t.match(again.stderr, /device \S+ is not pinned, so there is nothing to unpin \(404 pin_not_found\): `ota-gate rollout pins` lists the pinned devices/)
  t.notMatch(again.stderr, /GET \/v1\/pins/)

  const nonsense = await cli(['device', 'show', 'nonsense'], env)
  t.equal(nonsense.code, 2)
  t.match(nonsense.stderr, /"nonsense" is not a device MAC: give 12 hex digits \(AABBCCDDEEFF\) or six pairs/)
  t.notMatch(nonsense.stderr, /\^|\[0-9/, 'no regular expression')
  const api = await fetch(`${server.url}/v1/devices/nonsense`, { headers: { authorization: `Bearer ${operator}` } })
  t.match(await api.json(), { error: 'bad_request', message: 'params device must be a device MAC: AABBCCDDEEFF, aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff' }, 'the API says it in words too')

  const nope = await cli(['fleet', 'versions', '--board', 'nope'], env)
  t.equal(nope.code, 1, 'a board that does not exist is a refusal, as rollout status says')
  t.match(nope.stderr, /board nope is not known \(known: .*\): add it with `ota-gate board add nope .*` \(404 board_not_found\)/)
  const stale = await cli(['fleet', 'devices', '--stale', '3'], env)
  t.equal(stale.code, 2)
  t.match(stale.stderr, /^ota-gate fleet devices: --stale must be a duration like 90m, 24h or 7d .*not "3"/)
  t.notMatch(stale.stderr, /not_seen_within/)
})
