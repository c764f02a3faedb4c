// GET /metrics: Prometheus text that moves as devices poll and download.
import http from 'node:http'
import t from 'tap'
import { httpUpdate } from './support/http-update'
import { publishRelease } from './support/publish'
import { cli, createToken, startServer, type RunningServer } from './support/server'

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

const operators = new WeakMap<RunningServer, Promise<string>>()

/** GET /metrics with an operator token of that server (made on first use). */
async function scrape(server: RunningServer): Promise<string> {
  let token = operators.get(server)
  if (!token) operators.set(server, (token = createToken(server.dataDir, 'operator', 'prometheus')))
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${await token}` } })
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  return res.text()
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

t.test('/metrics answers Prometheus text with this app\'s metrics', async (t) => {
  const server = await startServer(t)
  t.equal((await fetch(`${server.url}/metrics`)).status, 401, 'no token: 401')
  const releaser = await createToken(server.dataDir, 'releaser')
  t.equal((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${releaser}` } })).status, 403, 'a releaser token: 403')
  const open = await startServer(t, { OTA_METRICS_PUBLIC: 'true' })
  t.equal((await fetch(`${open.url}/metrics`)).status, 200, 'OTA_METRICS_PUBLIC=true: no token needed')
  const operator = await createToken(server.dataDir, 'operator')
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${operator}` } })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await res.text()
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
  t.equal(await hangUpAfterFirstChunk(`${server.url}/v1/firmware/${big.sha256}.bin`), 200, 'a device hangs up after the first chunk')
  await sleep(300)

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
  const a = await startServer(t)
  const b = await startServer(t)
  t.equal(await drain(fetch(`${a.url}/firmware.json`)), 404, 'no release yet, still a check-in')
  t.equal(sample(await scrape(a), 'ota_checkins_total', { kind: 'legacy' }), 1)
  t.equal(sample(await scrape(b), 'ota_checkins_total', { kind: 'legacy' }), 0, 'the other server counted nothing')
})
