import http from 'node:http'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import type { Static } from '@sinclair/typebox'
import { databasePath } from '../src/db/open'
import { completesDownload } from '../src/fleet/legacy-downloads'
import type { LegacyResponse } from '../src/schemas/fleet'
import { publishRelease } from './support/publish'
import { createToken, startServer, type RunningServer } from './support/server'
import { getJson } from './support/http'
import { FLEET_ENV } from './support/env'

// GET /v1/fleet/legacy: the field fleet by address and user agent. What counts as a download is a
// binary sent to its last byte (whole, or a resumed range); the real address is the one a trusted
// proxy forwards.

type Legacy = Static<typeof LegacyResponse>

/** A request as a field client behind the proxy at 127.0.0.1 makes it. */
function request(
  server: RunningServer,
  urlPath: string,
  options: { forwardedFor: string; userAgent?: string; method?: string; range?: string }
): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'user-agent': options.userAgent ?? 'hivehive-ota/1.0', 'x-forwarded-for': options.forwardedFor }
    if (options.range) headers.range = options.range
    const req = http.request({ host: '127.0.0.1', port: server.port, path: urlPath, method: options.method ?? 'GET', agent: false, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('completesDownload: whole, or a range reaching the last byte; never HEAD, a middle piece or a 304', async (t) => {
  t.ok(completesDownload('GET', 200, undefined, 1000))
  t.ok(completesDownload('GET', 206, 'bytes 500-999/1000', 1000))
  t.notOk(completesDownload('GET', 206, 'bytes 0-499/1000', 1000))
  t.notOk(completesDownload('HEAD', 200, undefined, 1000))
  t.notOk(completesDownload('GET', 304, undefined, 1000))
  t.notOk(completesDownload('GET', 206, 'bytes 500-999/2000', 1000))
})

t.test('fleet legacy: clients by forwarded address and user agent, their polls and downloads, per-release counts, stale ones', async (t) => {
  const server = await startServer(t, { ...FLEET_ENV, OTA_TRUST_PROXY: '127.0.0.1' })
  await publishRelease(server, { version: 'mason', sequence: 1, imageSize: 200_000 })
  const token = await createToken(server.dataDir, 'operator')

  t.equal(await request(server, '/firmware.json', { forwardedFor: '203.0.113.5' }), 200)
  t.equal(await request(server, '/firmware.app.bin', { forwardedFor: '203.0.113.5' }), 200, 'a whole download')
  t.equal(await request(server, '/firmware.json', { forwardedFor: '203.0.113.6' }), 200)
  t.equal(await request(server, '/firmware.app.bin', { forwardedFor: '203.0.113.6', range: 'bytes=0-999' }), 206, 'a first piece')
  t.equal(await request(server, '/firmware.app.bin', { forwardedFor: '203.0.113.6', method: 'HEAD' }), 200)
  t.equal(await request(server, '/firmware.json', { forwardedFor: '203.0.113.7', userAgent: 'curl/8' }), 200)
  t.equal(await request(server, '/firmware.app.bin', { forwardedFor: '203.0.113.7', userAgent: 'curl/8', range: 'bytes=100-199' }), 206, 'a piece from the middle')

  let body = (await getJson<Legacy>(server, '/v1/fleet/legacy', token)).body
  const downloadsOf = (b: Legacy, address: string) => b.clients.find((c) => c.address === address)?.downloads.map((d) => d.version)
  t.same(downloadsOf(body, '203.0.113.5'), ['mason'])
  t.same(downloadsOf(body, '203.0.113.6'), [], 'a piece from the start and a HEAD are not a download')
  t.same(downloadsOf(body, '203.0.113.7'), [], 'nor a piece from the middle')
  t.notOk(body.clients.some((c) => c.address.startsWith('127.')), "the proxy's own address is never shown")

  // The rest of the interrupted download, resumed to the last byte: now it counts.
  t.equal(await request(server, '/firmware.app.bin', { forwardedFor: '203.0.113.6', range: 'bytes=1000-' }), 206)
  // 203.0.113.7 was last seen long ago.
  const db = new BetterSqlite3(databasePath(server.dataDir))
  db.prepare('UPDATE legacy_clients SET last_seen = ? WHERE address = ?').run(Date.now() - 3 * 86_400_000, '203.0.113.7')
  db.close()

  body = (await getJson<Legacy>(server, '/v1/fleet/legacy', token)).body
  t.same(downloadsOf(body, '203.0.113.6'), ['mason'], 'a resumed download that reached the end counts')
  t.match(body.field_fleet, { label: 'field fleet (unidentified)', clients: 3, addresses: 3, stale: 1, polls: 3 })
  t.same(body.releases, [{ version: 'mason', sequence: 1, clients: 2, addresses: 2 }])
  t.same(body.clients.map((c) => [c.address, c.stale]), [['203.0.113.6', false], ['203.0.113.5', false], ['203.0.113.7', true]], 'most recently seen first')
  t.equal(body.stale_after, '26h')
  const week = (await getJson<Legacy>(server, '/v1/fleet/legacy?stale_after=7d&limit=1', token)).body
  t.equal(week.field_fleet.stale, 0)
  t.equal(week.clients.length, 1)
  t.equal(week.more, true)
  const bad = await getJson<{ error: string; message: string }>(server, '/v1/fleet/legacy?stale_after=soon', token)
  t.equal(bad.status, 400)
  t.match(bad.body.message, /stale_after must be a duration like 90m/)

  const adoption = (await getJson<Record<string, unknown>>(server, '/v1/releases/esp32cam/mason/adoption', token)).body
  t.match(adoption, { running: 0, field_fleet: { label: 'field fleet (unidentified)', downloaded_clients: 2, downloaded_addresses: 2 } })
})
