import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { deviceId, poll } from './support/devices'
import { publishRelease } from './support/publish'
import { createToken, startServer } from './support/server'
import { FLEET_NO_DELTAS_ENV } from './support/env'

// Every route the server has, asked with no token and with each role's token. The table below is
// the access policy; a route the server has and the table lacks (or the reverse) fails the test,
// so a new route cannot arrive without someone deciding who may call it.

type Who = 'none' | 'releaser' | 'operator' | 'admin'
/** public: devices and probes, no token; any: any role's token; otherwise the roles admitted (admin always). */
type Access = 'public' | 'any' | 'releaser' | 'operator' | 'admin'

interface Probe {
  access: Access
  /** the request made; `:device` etc. are filled in below */
  url: string
  body?: unknown
  headers?: Record<string, string>
  /**
   * success: an admitted caller gets a 2xx. admitted: the answer for an admitted caller is neither
   * 401/403 nor a 5xx, for writes whose outcome depends on data (a 404 or 409 says the role passed).
   */
  expect: 'success' | 'admitted'
}

const DEVICE = deviceId(1)
const DEVICE_MAC = 'A0:00:00:00:00:01'

/** `challenge`: one the server gave DEVICE, so that the token route gets past it. */
function policy(sha256: string, challenge: string): Record<string, Probe> {
  const reason = 'roles test'
  return {
    'GET /healthz': { access: 'public', url: '/healthz', expect: 'success' },
    'GET /docs': { access: 'public', url: '/docs', expect: 'admitted' },
    'GET /docs/': { access: 'public', url: '/docs/', expect: 'success' },
    'GET /docs/static/index.html': { access: 'public', url: '/docs/static/index.html', expect: 'success' },
    'GET /docs/static/swagger-initializer.js': { access: 'public', url: '/docs/static/swagger-initializer.js', expect: 'success' },
    'GET /docs/*': { access: 'public', url: '/docs/static/nothing-here.css', expect: 'admitted' },
    'GET /docs/json': { access: 'public', url: '/docs/json', expect: 'success' },
    'GET /docs/yaml': { access: 'public', url: '/docs/yaml', expect: 'success' },
    'GET /v1/keys': { access: 'public', url: '/v1/keys', expect: 'success' },
    // The console's files are public; what they show comes from the operator API with the operator's token.
    'GET /console': { access: 'public', url: '/console', expect: 'admitted' },
    // /console/* (Fastify's route tree prints it as /console*): index.html and the files it loads.
    'GET /console*': { access: 'public', url: '/console/', expect: 'success' },
    'GET /v1/manifest': { access: 'public', url: `/v1/manifest?board=esp32cam&device=${DEVICE}&version=carpenter&sequence=1`, expect: 'success' },
    'GET /v1/arduino/:board': {
      access: 'public',
      url: '/v1/arduino/esp32cam',
      headers: { 'x-ESP32-STA-MAC': DEVICE_MAC, 'x-ESP32-version': 'carpenter', 'x-ESP32-free-space': '1966080' },
      expect: 'success',
    },
    'GET /v1/firmware/:file': { access: 'public', url: `/v1/firmware/${sha256}.bin`, expect: 'success' },
    // No patch to itself is ever built: a 404, answered to anyone.
    'GET /v1/delta/:base/:file': { access: 'public', url: `/v1/delta/${sha256}/${sha256}.patch`, expect: 'admitted' },
    'GET /firmware.json': { access: 'public', url: '/firmware.json', expect: 'success' },
    'GET /firmware.app.bin': { access: 'public', url: '/firmware.app.bin', expect: 'success' },
    // The release here has no factory image: 404 no_factory_image (test/first-flash.test.ts has them).
    'GET /firmware.bin': { access: 'public', url: '/firmware.bin', expect: 'admitted' },
    'GET /v1/web-install/:board/manifest.json': { access: 'public', url: '/v1/web-install/esp32cam/manifest.json', expect: 'admitted' },
    // A factory image by digest; the release here has none, so 404 (test/first-flash.test.ts serves one).
    'GET /v1/factory/:file': { access: 'public', url: `/v1/factory/${sha256}.bin`, expect: 'admitted' },
    // CORS preflights of what a browser installer on another origin reads.
    'OPTIONS /firmware.json': { access: 'public', url: '/firmware.json', expect: 'success' },
    'OPTIONS /firmware.bin': { access: 'public', url: '/firmware.bin', expect: 'success' },
    'OPTIONS /v1/firmware/:file': { access: 'public', url: `/v1/firmware/${sha256}.bin`, expect: 'success' },
    'OPTIONS /v1/web-install/:board/manifest.json': { access: 'public', url: '/v1/web-install/esp32cam/manifest.json', expect: 'success' },
    'OPTIONS /v1/factory/:file': { access: 'public', url: `/v1/factory/${sha256}.bin`, expect: 'success' },
    'POST /v1/devices/:device/reports': {
      access: 'public',
      url: `/v1/devices/${DEVICE}/reports`,
      body: { status: 'downloading', version: 'mason', sequence: 1 },
      expect: 'success',
    },
    'POST /v1/devices/:device/enroll': {
      access: 'public',
      url: `/v1/devices/${DEVICE}/enroll`,
      body: { public_key: 'not a key', board: 'esp32cam' },
      expect: 'admitted',
    },
    'GET /v1/devices/:device/challenge': { access: 'public', url: `/v1/devices/${DEVICE}/challenge`, expect: 'success' },
    'POST /v1/devices/:device/token': {
      access: 'public',
      url: `/v1/devices/${DEVICE}/token`,
      body: { challenge, signature: 'MEUCIQ==' },
      expect: 'admitted',
    },

    'GET /metrics': { access: 'operator', url: '/metrics', expect: 'success' },
    'GET /v1/boards': { access: 'any', url: '/v1/boards', expect: 'success' },
    'GET /v1/boards/:board': { access: 'any', url: '/v1/boards/esp32cam', expect: 'success' },
    'GET /v1/releases': { access: 'any', url: '/v1/releases?board=esp32cam', expect: 'success' },
    'GET /v1/releases/:board/:version': { access: 'any', url: '/v1/releases/esp32cam/mason', expect: 'success' },
    'GET /v1/rollouts/:board': { access: 'any', url: '/v1/rollouts/esp32cam', expect: 'success' },
    'GET /v1/whoami': { access: 'any', url: '/v1/whoami', expect: 'success' },

    'PUT /v1/artifacts/:sha256': {
      access: 'releaser',
      url: `/v1/artifacts/${'0'.repeat(64)}`,
      body: Buffer.from('not the bytes of that digest'),
      expect: 'admitted',
    },
    'POST /v1/artifacts/prune': { access: 'releaser', url: '/v1/artifacts/prune', body: { dry_run: true }, expect: 'success' },
    'POST /v1/releases': {
      access: 'releaser',
      url: '/v1/releases',
      body: {
        board: 'esp32cam', version: 'nectar', sequence: 9, sha256: 'f'.repeat(64), tag: 'prod-nectar', commit: 'c'.repeat(40),
        signature: 'MEUCIQ==', key_id: '0123456789abcdef',
      },
      expect: 'admitted',
    },

    'GET /v1/fleet/versions': { access: 'operator', url: '/v1/fleet/versions', expect: 'success' },
    'GET /v1/devices': { access: 'operator', url: '/v1/devices?limit=5', expect: 'success' },
    'GET /v1/fleet/legacy': { access: 'operator', url: '/v1/fleet/legacy', expect: 'success' },
    'GET /v1/devices/:device': { access: 'operator', url: `/v1/devices/${DEVICE}`, expect: 'success' },
    'GET /v1/releases/:board/:version/adoption': { access: 'operator', url: '/v1/releases/esp32cam/mason/adoption', expect: 'success' },
    'GET /v1/audit': { access: 'operator', url: '/v1/audit', expect: 'success' },
    'GET /v1/pins': { access: 'operator', url: '/v1/pins', expect: 'success' },
    'PUT /v1/boards/:board/delta': { access: 'operator', url: '/v1/boards/esp32cam/delta', body: { enabled: true }, expect: 'success' },
    'PUT /v1/pins': { access: 'operator', url: '/v1/pins', body: { devices: [DEVICE], board: 'esp32cam', version: 'mason', reason }, expect: 'admitted' },
    'DELETE /v1/pins/:device': { access: 'operator', url: `/v1/pins/${DEVICE}?reason=roles%20test`, expect: 'admitted' },
    'PUT /v1/rollouts/:board/:channel/percent': {
      access: 'operator',
      url: '/v1/rollouts/esp32cam/stable/percent',
      body: { percent: 100, reason },
      expect: 'admitted',
    },
    'POST /v1/rollouts/:board/:channel/pause': { access: 'operator', url: '/v1/rollouts/esp32cam/stable/pause', body: { reason }, expect: 'admitted' },
    'POST /v1/rollouts/:board/:channel/resume': { access: 'operator', url: '/v1/rollouts/esp32cam/stable/resume', body: { reason }, expect: 'admitted' },
    'POST /v1/rollouts/:board/:channel/rollback': {
      access: 'operator',
      url: '/v1/rollouts/esp32cam/stable/rollback',
      body: { to: 'nosuch', reason },
      expect: 'admitted',
    },
    'PUT /v1/rollouts/:board/:channel/policy': {
      access: 'operator',
      url: '/v1/rollouts/esp32cam/stable/policy',
      body: { default_percent: 100, reason },
      expect: 'admitted',
    },

    'GET /v1/device-keys': { access: 'operator', url: '/v1/device-keys?state=pending', expect: 'success' },
    'GET /v1/devices/:device/keys': { access: 'operator', url: `/v1/devices/${DEVICE}/keys`, expect: 'success' },
    'POST /v1/devices/:device/accept': { access: 'operator', url: `/v1/devices/${DEVICE}/accept`, body: { reason }, expect: 'admitted' },
    'POST /v1/devices/:device/reject': { access: 'operator', url: `/v1/devices/${DEVICE}/reject`, body: { reason }, expect: 'admitted' },
    'POST /v1/devices/:device/revoke': { access: 'operator', url: `/v1/devices/${DEVICE}/revoke`, body: { reason }, expect: 'admitted' },
    'GET /v1/device-allowlist': { access: 'operator', url: '/v1/device-allowlist', expect: 'success' },
    'POST /v1/device-allowlist/add': { access: 'operator', url: '/v1/device-allowlist/add', body: { devices: [DEVICE], reason }, expect: 'success' },
    'POST /v1/device-allowlist/remove': { access: 'operator', url: '/v1/device-allowlist/remove', body: { devices: [DEVICE], reason }, expect: 'success' },
    'GET /v1/enrollment-tokens': { access: 'operator', url: '/v1/enrollment-tokens', expect: 'success' },
    'POST /v1/enrollment-tokens': { access: 'operator', url: '/v1/enrollment-tokens', body: { name: 'roles-batch', reason }, expect: 'admitted' },
    'POST /v1/enrollment-tokens/:name/revoke': { access: 'operator', url: '/v1/enrollment-tokens/roles-batch/revoke', body: { reason }, expect: 'admitted' },

    'POST /v1/releases/import': {
      access: 'admin',
      url: '/v1/releases/import',
      body: { board: 'esp32cam', releases: [{ tag: 'prod-old', commit: 'a'.repeat(40), version: 'old', sequence: 1 }], dry_run: true },
      expect: 'admitted',
    },
  }
}

/** "METHOD /path" of every route, read from Fastify's own route tree (HEAD mirrors GET and is left out). */
function routesOf(app: FastifyInstance): string[] {
  const routes: string[] = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│   |    )*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!m) continue
    const depth = m[1].length / 4
    stack.length = depth
    const full = (stack[depth - 1] ?? '') + m[2]
    stack[depth] = full
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') routes.push(`${method} ${full}`)
  }
  return routes.sort()
}

function admitted(access: Access, who: Who): boolean {
  if (access === 'public') return true
  if (who === 'none') return false
  if (access === 'any' || who === 'admin') return true
  return access === who
}

t.test('every route answers each caller as the access policy says', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const { sha256 } = await publishRelease(server, { version: 'mason', sequence: 1 })
  t.equal(await poll(server, { device: DEVICE, version: 'carpenter', sequence: 1 }), 200)
  const tokens: Record<Who, string | undefined> = {
    none: undefined,
    releaser: await createToken(server.dataDir, 'releaser', 'roles-releaser'),
    operator: await createToken(server.dataDir, 'operator', 'roles-operator'),
    admin: await createToken(server.dataDir, 'admin', 'roles-admin'),
  }
  const challenge = (await (await fetch(`${server.url}/v1/devices/${DEVICE}/challenge`)).json()) as { challenge: string }
  const table = policy(sha256, challenge.challenge)
  t.same(routesOf(server.app), Object.keys(table).sort(), 'the policy names exactly the routes the server has')

  for (const [route, probe] of Object.entries(table)) {
    const method = route.split(' ')[0]
    for (const who of ['none', 'releaser', 'operator', 'admin'] as const) {
      const headers: Record<string, string> = { ...probe.headers }
      if (tokens[who]) headers.authorization = `Bearer ${tokens[who]}`
      let body: string | Buffer | undefined
      if (Buffer.isBuffer(probe.body)) {
        headers['content-type'] = 'application/octet-stream'
        body = probe.body
      } else if (probe.body !== undefined) {
        headers['content-type'] = 'application/json'
        body = JSON.stringify(probe.body)
      }
      const res = await fetch(server.url + probe.url, { method, headers, body })
      await res.arrayBuffer()
      const label = `${route} as ${who}: ${res.status}`
      if (!admitted(probe.access, who)) {
        t.equal(res.status, who === 'none' ? 401 : 403, label)
      } else if (probe.expect === 'success') {
        t.ok(res.status >= 200 && res.status < 300, label)
      } else {
        t.ok(res.status !== 401 && res.status !== 403 && res.status < 500, label)
      }
    }
  }
})

t.test('the token is checked before anything else: no token with a bad request is still 401', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const operator = await createToken(server.dataDir, 'operator')
  const bad = `${server.url}/v1/devices?limit=0`
  const anonymous = await fetch(bad)
  t.equal(anonymous.status, 401, 'the query is not even read')
  const withToken = await fetch(bad, { headers: { authorization: `Bearer ${operator}` } })
  t.equal(withToken.status, 400, 'with a token, the bad query is named')
  const upload = await fetch(`${server.url}/v1/artifacts/${'0'.repeat(64)}`, { method: 'PUT', body: Buffer.alloc(1024) })
  t.equal(upload.status, 401, 'an upload without a token is refused before its body is stored')
})
