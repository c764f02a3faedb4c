// GET /metrics: Prometheus text that moves as devices poll and download.
import http from 'node:http'
import t from 'tap'
import { httpUpdate } from './support/http-update'
import { publishRelease } from './support/publish'
import { buildApp, cli, createToken, startServer, type TestApp } from './support/server'
import { call, type Target } from './support/http'
import { until } from './support/wait'

type Labels = Record<string, string>

/** One sample of the exposition text: `name{a="x",b="y"} 12`; 0 when no such series was written yet. */
function sample(text: string, name: string, labels: Labels = {}): number {
  const wanted = Object.entries(labels).sort().map(([k, v]) => `${k}="${v}"`).join(',')
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = (m[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []
    if (have.sort().join(',') === wanted) return Number(m[3])
  }
  return 0
}

const operators = new WeakMap<Target, Promise<string>>()

/** GET /metrics with an operator token of that server (made on first use). */
async function scrape(server: Target & Pick<TestApp, 'dataDir'>): Promise<string> {
  let token = operators.get(server)
  if (!token) operators.set(server, (token = createToken(server.dataDir, 'operator', 'prometheus')))
  const headers = { authorization: `Bearer ${await token}` }
  const [status, text] =
    server.url === undefined
      ? await server.app.inject({ method: 'GET', url: '/metrics', headers }).then((r) => [r.statusCode, r.body] as const)
      : await fetch(`${server.url}/metrics`, { headers }).then(async (r) => [r.status, await r.text()] as const)
  if (status !== 200) throw new Error(`/metrics answered ${status}`)
  return text
}

async function drain(res: Response | Promise<Response>): Promise<number> {
  const r = await res
  await r.arrayBuffer()
  return r.status
}

/** GETs a binary, reads its first chunk, then hangs up as a device losing Wi-Fi would. */
function hangUpAfterFirstChunk(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      res.once('data', () => {
        res.pause()
        req.destroy()
        resolve(res.statusCode ?? 0)
      })
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET') reject(err)
    })
  })
}

t.test('/metrics answers Prometheus text with this app\'s metrics', async (t) => {
  const server = await buildApp(t)
  t.equal((await server.app.inject({ url: '/metrics' })).statusCode, 401, 'no token: 401')
  const releaser = await createToken(server.dataDir, 'releaser')
  t.equal((await call(server, 'GET', '/metrics', releaser)).status, 403, 'a releaser token: 403')
  const open = await buildApp(t, { OTA_METRICS_PUBLIC: 'true' })
  t.equal((await open.app.inject({ url: '/metrics' })).statusCode, 200, 'OTA_METRICS_PUBLIC=true: no token needed')
  const operator = await createToken(server.dataDir, 'operator')
  const res = await server.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${operator}` } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = res.body
  for (const [name, type] of [
    ['ota_checkins_total', 'counter'],
    ['ota_downloads_started_total', 'counter'],
    ['ota_downloads_completed_total', 'counter'],
    ['ota_download_bytes_total', 'counter'],
    ['ota_http_request_duration_seconds', 'histogram'],
    ['ota_releases', 'gauge'],
    ['ota_devices', 'gauge'],
    ['process_cpu_seconds_total', 'counter'],
  ]) {
    t.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `${name} is a ${type}`)
  }
})

t.test('check-ins, downloads, releases, devices and request durations move with the traffic', async (t) => {
  const server = await startServer(t)
  const old = await publishRelease(server, { version: 'mason', sequence: 1 })
  const target = await publishRelease(server, { version: 'mellifera', sequence: 2, imageSize: 1_500_000 })
  const size = target.image.length
  const before = await scrape(server)
  t.equal(sample(before, 'ota_releases', { board: 'esp32cam', channel: 'stable' }), 2, 'releases per board and channel')
  t.equal(sample(before, 'ota_checkins_total', { kind: 'manifest' }), 0)

  // Two devices poll the manifest twice each; the field fleet polls firmware.json once; an Arduino
  // device on the old release polls and gets the new binary.
  for (const device of ['0b0000000001', '0b0000000002']) {
    for (let i = 0; i < 2; i++) {
      t.equal(await drain(fetch(`${server.url}/v1/manifest?board=esp32cam&device=${device}&version=mason&sequence=1`)), 200)
    }
  }
  t.equal(await drain(fetch(`${server.url}/firmware.json`)), 200)
  t.equal(await drain(fetch(`${server.url}/firmware.app.bin`)), 200, 'the field fleet downloads its binary')
  const arduino = await httpUpdate(server, '/v1/arduino/esp32cam', { mac: '0B:00:00:00:00:03', version: 'mason', md5: old.md5 })
  t.equal(arduino.status, 200, 'the Arduino device is sent the new release')
  t.equal(arduino.body.length, size)

  // Downloads from the firmware route: whole, one range, a HEAD (not a download), a hang-up. The
  // hang-up needs a binary larger than what loopback's socket buffers take in at once (some 4 MiB),
  // else the server has handed over the whole answer before the device leaves: a board with room for one.
  const added = await cli(['board', 'add', 'bigboard', '--chip', 'esp32', '--slot-size', String(16 * 1024 * 1024)], { OTA_DATA_DIR: server.dataDir })
  t.equal(added.code, 0, added.stderr)
  const big = await publishRelease(server, { board: 'bigboard', version: 'hoplite', sequence: 1, imageSize: 12 * 1024 * 1024 })
  const binary = `/v1/firmware/${target.sha256}.bin`
  t.equal(await drain(fetch(server.url + binary)), 200)
  t.equal(await drain(fetch(server.url + binary, { headers: { range: 'bytes=0-99' } })), 206)
  t.equal(await drain(fetch(server.url + binary, { method: 'HEAD' })), 200)
  // The server's side of the hang-up: its answer closes (where the download is counted or not).
  let hungUp = false
  server.app.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url?.includes(big.sha256)) res.once('close', () => (hungUp = true))
  })
  t.equal(await hangUpAfterFirstChunk(`${server.url}/v1/firmware/${big.sha256}.bin`), 200, 'a device hangs up after the first chunk')
  t.ok(await until(() => hungUp), 'the server has seen the device leave')

  const after = await scrape(server)
  t.equal(sample(after, 'ota_checkins_total', { kind: 'manifest' }), 4, 'manifest check-ins')
  t.equal(sample(after, 'ota_checkins_total', { kind: 'legacy' }), 1, 'legacy check-ins')
  t.equal(sample(after, 'ota_checkins_total', { kind: 'arduino' }), 1, 'arduino check-ins')

  const firmware = { route: '/v1/firmware/:file' }
  t.equal(sample(after, 'ota_downloads_started_total', firmware), 3, 'whole, range and the hang-up started')
  t.equal(sample(after, 'ota_downloads_completed_total', firmware), 2, 'the hang-up did not complete')
  t.equal(sample(after, 'ota_download_bytes_total', firmware), size + 100, 'bytes of the completed answers')
  const arduinoRoute = { route: '/v1/arduino/:board' }
  t.equal(sample(after, 'ota_downloads_started_total', arduinoRoute), 1)
  t.equal(sample(after, 'ota_downloads_completed_total', arduinoRoute), 1)
  t.equal(sample(after, 'ota_download_bytes_total', arduinoRoute), size)

  const legacyRoute = { route: '/firmware.app.bin' }
  t.equal(sample(after, 'ota_downloads_completed_total', legacyRoute), 1)
  t.equal(sample(after, 'ota_download_bytes_total', legacyRoute), size)

  t.equal(sample(after, 'ota_devices', { board: 'esp32cam', channel: 'stable', version: 'mason' }), 3, 'devices per running version')

  const polls = { method: 'GET', route: '/v1/manifest', status_code: '200' }
  t.equal(sample(after, 'ota_http_request_duration_seconds_count', polls), 4, 'requests by route pattern and status')
  t.equal(sample(after, 'ota_http_request_duration_seconds_bucket', { ...polls, le: '+Inf' }), 4)
  t.ok(sample(after, 'ota_http_request_duration_seconds_sum', polls) > 0)
  t.notMatch(after, /device=|0b0000000001|[0-9a-f]{64}/, 'no raw URL becomes a label')

  t.equal(await drain(fetch(`${server.url}/no/such/page`)), 404)
  const unmatched = await scrape(server)
  t.equal(sample(unmatched, 'ota_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' }), 1, 'unrouted requests share one label')
})

t.test('each app instance has its own registry', async (t) => {
  const a = await buildApp(t)
  const b = await buildApp(t)
  t.equal((await a.app.inject({ url: '/firmware.json' })).statusCode, 404, 'no release yet, still a check-in')
  t.equal(sample(await scrape(a), 'ota_checkins_total', { kind: 'legacy' }), 1)
  t.equal(sample(await scrape(b), 'ota_checkins_total', { kind: 'legacy' }), 0, 'the other server counted nothing')
})
