import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { CONSOLE_DIR } from '../src/routes/console'
import { deviceId, poll } from './support/devices'
import { publishRelease } from './support/publish'
import { operatorToken } from './support/rollouts'
import { createToken, startServer } from './support/server'
import { call, getJson } from './support/http'
import { FLEET_ENV } from './support/env'

// What the console adds to the server: its files under /console/ with a strict CSP, and the
// operator API's additions it uses (whoami, device prefix search, audit filters, per-channel counts).

t.test('the console is served from the package under /console/ with a strict CSP', async (t) => {
  const server = await startServer(t)
  const bare = await fetch(`${server.url}/console`, { redirect: 'manual' })
  t.equal(bare.status, 301)
  t.equal(bare.headers.get('location'), '/console/')
  const page = await fetch(`${server.url}/console/`)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /text\/html/)
  const csp = page.headers.get('content-security-policy') ?? ''
  t.match(csp, /default-src 'none'/)
  t.match(csp, /script-src 'self'(;|$)/)
  t.match(csp, /style-src 'self'(;|$)/)
  t.match(csp, /form-action 'none'/)
  t.match(csp, /frame-ancestors 'none'/)
  t.match(csp, /require-trusted-types-for 'script'/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval|https?:/)
  t.equal(page.headers.get('x-content-type-options'), 'nosniff')
  t.equal(page.headers.get('referrer-policy'), 'no-referrer')
  const html = await page.text()
  t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script')
  const script = await fetch(`${server.url}/console/js/main.js`)
  t.equal(script.status, 200)
  t.match(script.headers.get('content-type'), /javascript/)
  t.match(script.headers.get('content-security-policy'), /script-src 'self'/)
  t.equal((await fetch(`${server.url}/console/nothing.js`)).status, 404)
  t.equal((await fetch(`${server.url}/v1/keys`)).headers.get('content-security-policy'), null, 'the API answers are not the console’s')

  // Every file, as shipped: no markup assignment, no style attribute, no other origin.
  const files = fs.readdirSync(CONSOLE_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(js|html|css)$/.test(f))
  t.ok(files.length > 5)
  for (const f of files) {
    const text = fs.readFileSync(path.join(CONSOLE_DIR, f), 'utf8')
    t.notMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, `${f}: no markup from strings`)
    t.notMatch(text, /\sstyle=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, `${f}: no inline style, no other origin`)
  }
})

t.test('GET /v1/whoami names the token and its role, for any role', async (t) => {
  const server = await startServer(t)
  for (const role of ['releaser', 'operator', 'admin'] as const) {
    const token = await createToken(server.dataDir, role, `who-${role}`)
    t.same((await getJson(server, '/v1/whoami', token)).body, { name: `who-${role}`, role })
  }
  const none = await fetch(`${server.url}/v1/whoami`)
  t.equal(none.status, 401)
  t.match(await none.json(), { error: 'unauthorized' })
  t.equal((await getJson(server, '/v1/whoami', 'otg_not-a-token')).status, 401)
})

t.test('GET /v1/devices?prefix= finds devices by the start of their id, in keyset pages', async (t) => {
  const server = await startServer(t, FLEET_ENV)
  const operator = await operatorToken(server)
  for (let i = 0; i < 40; i++) await poll(server, { device: deviceId(i, 0xab), version: 'v1', sequence: 1 })
  for (let i = 0; i < 5; i++) await poll(server, { device: deviceId(i, 0xcd), version: 'v1', sequence: 1 })
  type Page = { devices: Array<{ device: string }>; next_cursor: string | null }
  const ids = (p: Page) => p.devices.map((d) => d.device)

  const one = await getJson<Page>(server, `/v1/devices?prefix=${encodeURIComponent('AB:00:00:00:00:1F')}`, operator)
  t.same(ids(one.body), [deviceId(31, 0xab)], 'a whole id, typed as a MAC, finds that device')
  const cd = await getJson<Page>(server, '/v1/devices?prefix=cd', operator)
  t.same(ids(cd.body), [0, 1, 2, 3, 4].map((i) => deviceId(i, 0xcd)))
  t.equal(cd.body.next_cursor, null)

  const walked: string[] = []
  let cursor: string | null = null
  do {
    const page: { body: Page } = await getJson<Page>(server, `/v1/devices?prefix=ab0000000&limit=7${cursor ? `&cursor=${cursor}` : ''}`, operator)
    walked.push(...ids(page.body))
    cursor = page.body.next_cursor
  } while (cursor)
  t.same(walked, Array.from({ length: 40 }, (_, i) => deviceId(i, 0xab)), 'pages of a prefix meet each of its devices once, in order')
  t.same(ids((await getJson<Page>(server, '/v1/devices?prefix=ab000000001&version=v1', operator)).body), Array.from({ length: 16 }, (_, i) => deviceId(16 + i, 0xab)))
  t.same(ids((await getJson<Page>(server, '/v1/devices?prefix=ef', operator)).body), [])

  for (const bad of ['xyz', 'ab:cd:ef:01:23:45:67', '']) {
    const res = await getJson(server, `/v1/devices?prefix=${encodeURIComponent(bad)}`, operator)
    t.equal(res.status, 400, `prefix ${JSON.stringify(bad)}`)
    t.equal(res.body.error, 'bad_request')
  }
})

t.test('GET /v1/audit filters by action, actor and device; fleet versions count per channel', async (t) => {
  const server = await startServer(t, FLEET_ENV)
  const alice = await operatorToken(server, 'ops-alice')
  const bob = await operatorToken(server, 'ops-bob')
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2, rolloutPercent: 10 })
  for (let i = 0; i < 3; i++) await poll(server, { device: deviceId(i), version: 'v1', sequence: 1 })
  await poll(server, { device: deviceId(9), channel: 'beta', version: 'v1', sequence: 1 })
  t.equal((await call(server, 'POST', '/v1/rollouts/esp32cam/stable/pause', alice, { reason: 'weekend' })).status, 200)
  t.equal((await call(server, 'POST', '/v1/rollouts/esp32cam/stable/resume', bob, { reason: 'monday' })).status, 200)
  t.equal((await call(server, 'PUT', '/v1/pins', bob, { devices: [deviceId(1)], board: 'esp32cam', version: 'v1', reason: 'lab' })).status, 200)

  type Audit = { entries: Array<{ action: string; actor: string; device: string | null }> }
  const pauses = await getJson<Audit>(server, '/v1/audit?action=pause', alice)
  t.match(pauses.body.entries, [{ action: 'pause', actor: 'ops-alice' }])
  t.equal(pauses.body.entries.length, 1)
  const byBob = await getJson<Audit>(server, '/v1/audit?actor=ops-bob', alice)
  t.same(byBob.body.entries.map((e) => e.action), ['pin', 'resume'])
  t.equal((await call(server, 'PUT', '/v1/pins', bob, { devices: [deviceId(2), deviceId(3)], board: 'esp32cam', version: 'v1', reason: 'lab' })).status, 200)
  const aboutDevice = await getJson<Audit>(server, `/v1/audit?device=${deviceId(1).toUpperCase()}`, alice)
  t.same(aboutDevice.body.entries.map((e) => [e.action, e.device]), [['pin', deviceId(1)]])
  const inAGroup = await getJson<Audit>(server, `/v1/audit?device=${deviceId(3)}`, alice)
  t.same(inAGroup.body.entries.map((e) => [e.action, e.device]), [['pin', null]], 'a pin of several devices is about each of them')
  t.same((await getJson<Audit>(server, `/v1/audit?device=${deviceId(0)}`, alice)).body.entries, [])
  t.same((await getJson<Audit>(server, '/v1/audit?action=halt', alice)).body.entries, [])
  const bad = await getJson(server, '/v1/audit?action=explode', alice)
  t.equal(bad.status, 400)
  t.equal(bad.body.error, 'bad_request')

  const fleet = await getJson<{ total: number; stale: number; channels: unknown[] }>(server, '/v1/fleet/versions', alice)
  t.equal(fleet.body.total, 4)
  t.equal(fleet.body.stale, 0)
  t.same(fleet.body.channels, [
    { board: 'esp32cam', channel: 'beta', devices: 1, stale: 0 },
    { board: 'esp32cam', channel: 'stable', devices: 3, stale: 0 },
  ], 'devices and stale devices per channel')
})
