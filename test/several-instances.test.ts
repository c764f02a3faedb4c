import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import t, { type Test } from 'tap'
import { freePort, startBuiltServer, type BuiltServer } from './support/built-server'
import { deviceId, inParallel } from './support/devices'
import { UNPROVEN_FLEET_ENV } from './support/env'
import { nginxMissing, nginxPrefix, startNginx } from './support/nginx'
import { systemClock } from '../src/clock'
import { openPostgres } from '../src/db/postgres'
import { createPostgresRepositories } from '../src/repositories/postgres'
import { postgres } from './support/postgres'
import { postgresPublisher, publishRelease, publisherOf, type Publisher } from './support/publish'
import { call } from './support/http'
import { createToken, tempDir, type RunningServer, type TestContext } from './support/server'

// Three ota-gate processes (dist/server.js, as production runs) on one database behind a real nginx
// upstream: a change made through one instance is what the others offer within the bound, and an
// instance killed in the middle of a burst of polls costs no poll and no acknowledged check-in.
//
// Run twice: on PostgreSQL (each instance its own data folder, one OTA_DATABASE_URL, one
// OTA_SERVER_KEY), where the change feed carries a change to every instance within a second; and
// on one SQLite data folder (three processes on one host), whose caches re-read SQLite's generation
// counter at most every second, so the bound there is that second plus a poll.

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
t.teardown(() => agent.destroy())

interface Answer {
  status: number
  body: Buffer
}

function get(base: string, urlPath: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}${urlPath}`, { agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

/** A manifest poll of a device running v1 (recording its check-in): status and offered version. */
async function poll(base: string, device: string): Promise<{ status: number; version?: string; sha256?: string }> {
  const res = await get(base, `/v1/manifest?board=esp32cam&device=${device}&version=v1&sequence=1`)
  if (res.status !== 200) return { status: res.status }
  const m = JSON.parse(res.body.toString()) as { version: string; sha256: string }
  return { status: 200, version: m.version, sha256: m.sha256 }
}

function upstreamConf(port: number, instances: number[]): string {
  return `
  upstream ota_gate_instances {
${instances.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_connect_timeout 1s;
    proxy_next_upstream error timeout;
    location / { proxy_pass http://ota_gate_instances; }
  }`
}

/** Where the instances keep their data, and how a test makes the tokens and keys an operator would. */
interface Backend {
  /** the data folder and settings of instance `i` */
  instance(i: number): { dataDir: string; env: Record<string, string> }
  publisher(): Promise<Publisher>
  operatorToken(): Promise<string>
  /** what the other instances must offer within, after a change answered by one */
  agreeMs: number
}

/** Three processes on one SQLite data folder: the CLI makes tokens and keys there. */
function sqliteBackend(t: TestContext): Backend {
  const dataDir = tempDir(t)
  const target = { url: '', dataDir }
  return {
    instance: () => ({ dataDir, env: {} }),
    publisher: () => publisherOf(target),
    operatorToken: () => createToken(dataDir, 'operator', 'ops-alice'),
    // SQLite's generation re-read interval, and a poll.
    agreeMs: 1500,
  }
}

/** Instances with data folders of their own on one PostgreSQL database and one server key. */
async function postgresBackend(t: Test): Promise<Backend | undefined> {
  const pg = await postgres(t)
  if (!pg) return undefined
  const url = await pg.createDatabase()
  const keyFile = `${tempDir(t)}/server-key.pem`
  fs.writeFileSync(keyFile, crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  return {
    instance: () => ({ dataDir: tempDir(t), env: { OTA_DATABASE_URL: url, OTA_SERVER_KEY: keyFile } }),
    publisher: () => postgresPublisher(t, url),
    async operatorToken() {
      const pool = openPostgres({ url, pool: 1 })
      t.teardown(() => pool.end())
      return createPostgresRepositories(pool, systemClock).tokens.create('ops-alice', 'operator')
    },
    agreeMs: 1000,
  }
}

const viaHttp = (s: BuiltServer) => ({ url: s.url, dataDir: s.dataDir }) as RunningServer

async function severalInstances(t: Test, backend: Backend): Promise<void> {
  const nginxPort = await freePort()
  const front = `http://127.0.0.1:${nginxPort}`
  const settings = (i: number) => {
    const { dataDir, env } = backend.instance(i)
    return { dataDir, env: { ...UNPROVEN_FLEET_ENV, OTA_PUBLIC_URL: front, ...env } }
  }
  // One after the other: the first creates the database and the server key the others read.
  const instances: BuiltServer[] = []
  for (let i = 0; i < 3; i++) {
    const { dataDir, env } = settings(i)
    instances.push(await startBuiltServer(t, dataDir, env))
  }
  const [one, two, three] = instances
  const nginx = await startNginx(t, nginxPrefix(t), upstreamConf(nginxPort, instances.map((s) => Number(new URL(s.url).port))), nginxPort)

  // Published through the first; polled and downloaded through nginx.
  const publisher = await backend.publisher()
  await publishRelease(viaHttp(one), { version: 'v1', sequence: 1, publisher })
  const v2 = await publishRelease(viaHttp(one), { version: 'v2', sequence: 2, publisher })
  let n = 0
  const fresh = () => deviceId(++n, 0xc0)
  const offered = await poll(front, fresh())
  t.same(offered, { status: 200, version: 'v2', sha256: v2.sha256 }, `a device on v1 is offered v2 through nginx ${nginx.errors()}`)
  const manifest = JSON.parse((await get(front, `/v1/manifest?board=esp32cam`)).body.toString()) as { url: string }
  const binary = await get(front, new URL(manifest.url).pathname)
  t.equal(crypto.createHash('sha256').update(binary.body).digest('hex'), v2.sha256, 'and downloads it through nginx')
  for (const [i, instance] of instances.entries()) {
    const res = await get(instance.url, `/v1/firmware/${v2.sha256}.bin`)
    t.same([res.status, res.body.length], [200, v2.image.length], `instance ${i + 1} serves the binary`)
  }

  // Manifests from every instance verify under the one server key that /v1/keys names.
  const keys = JSON.parse((await get(front, '/v1/keys')).body.toString()) as { server: { public_key_pem: string } }
  for (const [i, instance] of instances.entries()) {
    const res = await fetch(`${instance.url}/v1/manifest?board=esp32cam`)
    const body = Buffer.from(await res.arrayBuffer())
    const signature = Buffer.from(res.headers.get('x-ota-signature') ?? '', 'base64')
    t.ok(crypto.verify('sha256', body, { key: keys.server.public_key_pem, dsaEncoding: 'der' }, signature), `instance ${i + 1}'s manifest verifies`)
  }

  // Paused through the second: the third offers what the pause means within the bound.
  const ops = await backend.operatorToken()
  t.equal((await call(viaHttp(two), 'POST', '/v1/rollouts/esp32cam/stable/pause', ops, { reason: 'field reports' })).status, 200)
  const paused = Date.now()
  let seen = -1
  while (Date.now() - paused < 5000) {
    if ((await poll(three.url, fresh())).version === 'v1') {
      seen = Date.now() - paused
      break
    }
  }
  t.ok(seen >= 0 && seen <= backend.agreeMs, `the third instance stops offering v2 to new devices within ${backend.agreeMs} ms (${seen} ms)`)

  // A burst of polls through nginx, each a new device; the first instance is killed a third of the way in.
  const devices = Array.from({ length: 600 }, () => fresh())
  const answers = new Map<string, number>()
  let done = 0
  let killed: Promise<number | null> | undefined
  await inParallel(devices, 24, async (device) => {
    const res = await poll(front, device).catch(() => ({ status: 0 }))
    answers.set(device, res.status)
    if (++done === 200) killed = one.kill('SIGKILL')
  })
  await killed
  const failed = [...answers].filter(([, status]) => status !== 200)
  t.equal(failed.length, 0, `0 failed polls of ${devices.length} (${failed.slice(0, 3).map(([d, s]) => `${d}: ${s}`).join(', ')})`)

  // Every acknowledged check-in is in the database, as the surviving instances see it.
  let lost = 0
  await inParallel(devices, 8, async (device) => {
    const res = await fetch(`${three.url}/v1/devices/${device}`, { headers: { authorization: `Bearer ${ops}` } })
    await res.arrayBuffer()
    if (answers.get(device) === 200 && res.status !== 200) lost++
  })
  const notRecorded = instances.flatMap((s) => s.lines()).filter((l) => String(l.msg).startsWith('check-in not recorded'))
  t.equal(lost, 0, '0 acknowledged check-ins lost')
  t.same(notRecorded.map((l) => (l.err as { message?: string } | undefined)?.message), [], 'no poll answered without its check-in recorded')

  // Restarted over the same database, it serves the same plan.
  const again = await startBuiltServer(t, one.dataDir, settings(0).env)
  for (const device of [devices[0], devices[599], fresh()]) {
    t.same(await poll(again.url, device), await poll(three.url, device), `device ${device}: the restarted instance offers what the others do`)
  }
}

t.test('three instances on PostgreSQL behind nginx: publish, pause seen everywhere within 1 s, kill -9 during a burst loses nothing', { skip: nginxMissing }, async (t) => {
  const backend = await postgresBackend(t)
  if (backend) await severalInstances(t, backend)
})

t.test('three instances on one SQLite data folder behind nginx: the same, within SQLite\'s re-read interval', { skip: nginxMissing }, async (t) => {
  await severalInstances(t, sqliteBackend(t))
})
