// Protecting the device endpoints: load shedding (503 + Retry-After) when the event loop falls
// behind, a per-address rate limit (429 + Retry-After), and X-Forwarded-For believed only from
// the proxies named in OTA_TRUST_PROXY.
import t, { type Test } from 'tap'
import { startServer } from './support/server'
import { until } from './support/wait'

/** A device poll: the board exists but has no release, so a served poll answers 404 no_release. */
const POLL = '/v1/manifest?board=esp32cam&device=aabbccddeeff&version=mason&sequence=3'

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Blocks this process's event loop (the server runs in it) the way a CPU-bound stall would. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until) {
    // busy on purpose
  }
}

interface ErrorBody {
  error: string
  message: string
}

/** Whether a poll is served (404 no_release) rather than shed, within 6 s. */
async function servedNormally(url: string): Promise<boolean> {
  return until(async () => {
    const res = await fetch(url + POLL)
    await res.arrayBuffer()
    return res.status === 404
  }, 6000)
}

async function shedsUnderPressure(t: Test, env: Record<string, string>, reading: RegExp): Promise<void> {
  const server = await startServer(t, { ...env, OTA_OVERLOAD_RETRY_AFTER: '17' })
  // A server just started (or a busy machine) can sample over the threshold for a second: the
  // stall below must be what sheds, so the test starts from a server that serves.
  t.ok(await servedNormally(server.url), 'served normally before the stall')

  blockEventLoop(1500)
  // The load is sampled once a second: the stall shows within two samples.
  let shed: Response | undefined
  let health: Response | undefined
  for (let i = 0; i < 60 && !shed; i++) {
    const [poll, healthz] = await Promise.all([fetch(server.url + POLL), fetch(server.url + '/healthz')])
    if (poll.status === 503) {
      shed = poll
      health = healthz
    } else {
      await poll.arrayBuffer()
      await healthz.arrayBuffer()
      await sleep(50)
    }
  }
  if (!shed || !health) return void t.fail('no 503 within 3 s of a 1.5 s stall')
  t.equal(shed.headers.get('retry-after'), '17')
  t.match(shed.headers.get('content-type'), /^application\/json/)
  const body = (await shed.json()) as ErrorBody
  t.equal(body.error, 'overloaded')
  t.match(body.message, reading, 'the message says what tripped')
  t.match(body.message, /try again in 17 s/)
  t.equal(health.status, 200, '/healthz is not shed')
  t.same(await health.json(), { status: 'ok' })

  // Once the loop is idle again, the next samples lift the pressure.
  t.ok(await servedNormally(server.url), 'served normally again')
}

t.test('over the event-loop delay threshold, device endpoints answer 503 overloaded with Retry-After; /healthz keeps answering', (t) =>
  shedsUnderPressure(t, { OTA_OVERLOAD_EVENT_LOOP_DELAY_MS: '5' }, /event-loop delay \d+ ms/)
)

t.test('over the event-loop utilisation threshold, the same', (t) =>
  shedsUnderPressure(t, { OTA_OVERLOAD_EVENT_LOOP_DELAY_MS: '0', OTA_OVERLOAD_EVENT_LOOP_UTILIZATION: '0.5' }, /event-loop utilisation [01]\.\d\d/)
)

t.test('device endpoints are rate-limited per address, together; other endpoints are not', async (t) => {
  const server = await startServer(t, { OTA_DEVICE_RATE_LIMIT: '4' })
  const statuses: number[] = []
  for (const path of [POLL, POLL, '/firmware.json', '/v1/firmware/' + 'ab'.repeat(32) + '.bin']) {
    const res = await fetch(server.url + path)
    await res.arrayBuffer()
    statuses.push(res.status)
  }
  t.notOk(statuses.includes(429), `the first 4 device requests are served (${statuses.join(', ')})`)

  const over = await fetch(server.url + '/firmware.json')
  t.equal(over.status, 429, 'the 5th device request in the minute is refused')
  const retryAfter = Number(over.headers.get('retry-after'))
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After is the seconds left in the window (${retryAfter})`)
  const body = (await over.json()) as ErrorBody
  t.equal(body.error, 'rate_limited')
  t.match(body.message, /more than 4 requests a minute from 127\.0\.0\.1/)

  const report = await fetch(`${server.url}/v1/devices/aabbccddeeff/reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'downloading', version: 'mason', sequence: 3 }),
  })
  await report.arrayBuffer()
  t.equal(report.status, 429, 'reports share the budget')

  for (let i = 0; i < 6; i++) {
    const res = await fetch(server.url + '/healthz')
    await res.arrayBuffer()
    t.equal(res.status, 200, `/healthz is not limited (${i + 1})`)
  }
  const docs = await fetch(server.url + '/docs/json')
  await docs.arrayBuffer()
  t.equal(docs.status, 200, 'operator-facing endpoints are not limited')
})

t.test('X-Forwarded-For is believed only from OTA_TRUST_PROXY', async (t) => {
  const poll = (url: string, forwardedFor: string) => fetch(url + POLL, { headers: { 'x-forwarded-for': forwardedFor } })

  await t.test('from a trusted proxy, each forwarded client has its own budget', async (t) => {
    const server = await startServer(t, { OTA_DEVICE_RATE_LIMIT: '2', OTA_TRUST_PROXY: '127.0.0.1' })
    for (let i = 0; i < 2; i++) {
      const res = await poll(server.url, '203.0.113.7')
      await res.arrayBuffer()
      t.equal(res.status, 404, `client 203.0.113.7, request ${i + 1}: served`)
    }
    const over = await poll(server.url, '203.0.113.7')
    t.equal(over.status, 429)
    t.match(((await over.json()) as ErrorBody).message, /from 203\.0\.113\.7/, 'the client is the forwarded address')
    const other = await poll(server.url, '203.0.113.8')
    await other.arrayBuffer()
    t.equal(other.status, 404, 'another client behind the same proxy is served')
  })

  await t.test('from anyone else, the header is ignored: the budget is the connecting address', async (t) => {
    const server = await startServer(t, { OTA_DEVICE_RATE_LIMIT: '2', OTA_TRUST_PROXY: '10.20.30.40' })
    for (const forwarded of ['203.0.113.7', '203.0.113.8']) {
      const res = await poll(server.url, forwarded)
      await res.arrayBuffer()
      t.equal(res.status, 404)
    }
    const over = await poll(server.url, '203.0.113.9')
    t.equal(over.status, 429, 'a forged header does not buy a new budget')
    t.match(((await over.json()) as ErrorBody).message, /from 127\.0\.0\.1/)
  })
})
