import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import t from 'tap'
import { loadConfig } from '../src/config'
import { freePort } from './support/built-server'
import { FLEET_ENV } from './support/env'
import { nginxMissing, nginxPrefix, startNginx, testNginxConf } from './support/nginx'
import { publishRelease } from './support/publish'
import { startServer, type RunningServer } from './support/server'

// OTA_DOWNLOAD_BASE_URL sends devices to a CDN or caching proxy for the immutable binaries; the
// nginx example in deploy/ is such a proxy, tested here as nginx runs it.

const DEPLOY_CONF = path.resolve(__dirname, '..', 'deploy', 'nginx', 'ota-gate-downloads.conf')

async function manifestOf(server: RunningServer): Promise<{ body: Buffer; json: Record<string, unknown>; signature: string }> {
  const res = await fetch(`${server.url}/v1/manifest?board=esp32cam&device=aabbccddeeff&version=old&sequence=1`)
  if (res.status !== 200) throw new Error(`the manifest answered ${res.status}: ${await res.text()}`)
  const body = Buffer.from(await res.arrayBuffer())
  return { body, json: JSON.parse(body.toString()) as Record<string, unknown>, signature: res.headers.get('x-ota-signature') ?? '' }
}

t.test('config: OTA_DOWNLOAD_BASE_URL is an http(s) URL without query or fragment, and short enough for a manifest', async (t) => {
  t.throws(() => loadConfig({ OTA_DOWNLOAD_BASE_URL: 'ftp://cdn.example.com' }), /OTA_DOWNLOAD_BASE_URL/)
  t.throws(() => loadConfig({ OTA_DOWNLOAD_BASE_URL: 'https://cdn.example.com/?x=1' }), /OTA_DOWNLOAD_BASE_URL/)
  t.equal(loadConfig({ OTA_DOWNLOAD_BASE_URL: 'https://cdn.example.com/ota/' }).OTA_DOWNLOAD_BASE_URL, 'https://cdn.example.com/ota/')
  await t.rejects(
    startServer(t, { OTA_DOWNLOAD_BASE_URL: `https://cdn.example.com/${'x'.repeat(120)}` }),
    /OTA_DOWNLOAD_BASE_URL is 144 characters/
  )
})

t.test('manifest: the binary URL has the download base, the rest of the answer is as before, and it verifies', async (t) => {
  const server = await startServer(t, { ...FLEET_ENV, OTA_PUBLIC_URL: 'https://ota.example.com', OTA_DOWNLOAD_BASE_URL: 'https://cdn.example.com/ota/' })
  const { sha256, md5, image } = await publishRelease(server, { version: 'v2', sequence: 2 })
  const m = await manifestOf(server)
  t.equal(m.json.url, `https://cdn.example.com/ota/v1/firmware/${sha256}.bin`, 'only the origin and prefix change')
  t.same([m.json.sha256, m.json.md5, m.json.size], [sha256, md5, image.length])
  const keys = (await (await fetch(`${server.url}/v1/keys`)).json()) as { server: { public_key_pem: string } }
  t.ok(crypto.verify('sha256', m.body, { key: keys.server.public_key_pem, dsaEncoding: 'der' }, Buffer.from(m.signature, 'base64')), 'signed over the body with that URL')
  // The path the URL names is served by ota-gate itself too (a CDN's origin).
  const direct = await fetch(`${server.url}/v1/firmware/${sha256}.bin`)
  t.same(Buffer.from(await direct.arrayBuffer()), image)

  const plain = await startServer(t, { ...FLEET_ENV, OTA_PUBLIC_URL: 'https://ota.example.com' })
  const p = await publishRelease(plain, { version: 'v2', sequence: 2 })
  t.equal((await manifestOf(plain)).json.url, `https://ota.example.com/v1/firmware/${p.sha256}.bin`, 'unset: as before')
})

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

/** deploy/nginx/ota-gate-downloads.conf with its placeholders pointed at this test's ports and folders. */
function downloadsConf(t: { ok(value: unknown, message: string): void }, prefix: string, ports: { nginx: number; backend: number }): string {
  let conf = fs.readFileSync(DEPLOY_CONF, 'utf8')
  const replace = (placeholder: string, replacement: string) => {
    t.ok(conf.includes(placeholder), `the config has the placeholder ${placeholder}`)
    conf = conf.split(placeholder).join(replacement)
  }
  replace('/var/cache/nginx/ota-gate', path.join(prefix, 'cache'))
  replace('server 127.0.0.1:8080;', `server 127.0.0.1:${ports.backend};`)
  replace('listen 80;', `listen 127.0.0.1:${ports.nginx};`)
  replace('listen [::]:80;', '')
  return conf
}

t.test('nginx: the deploy example caches binaries and answers ranges and If-Range from its cache, ota-gate gone', { skip: nginxMissing }, async (t) => {
  const nginxPort = await freePort()
  const base = `http://127.0.0.1:${nginxPort}`
  const server = await startServer(t, { ...FLEET_ENV, OTA_DOWNLOAD_BASE_URL: base })
  const { sha256, image } = await publishRelease(server, { version: 'v2', sequence: 2, imageSize: 300_000 })
  const url = (await manifestOf(server)).json.url as string
  t.equal(url, `${base}/v1/firmware/${sha256}.bin`, 'the manifest sends devices to the proxy')

  const prefix = nginxPrefix(t)
  const conf = downloadsConf(t, prefix, { nginx: nginxPort, backend: server.port })
  const checked = await testNginxConf(prefix, conf)
  t.equal(checked.code, 0, `nginx -t accepts it ${checked.code ? checked.output : ''}`)
  const nginx = await startNginx(t, prefix, conf, nginxPort)

  // A device's first (ranged) request: fetched whole from ota-gate, the range answered.
  const first = await get(url, { range: 'bytes=1000-1999' })
  t.equal(first.status, 206, nginx.errors())
  t.equal(first.headers['x-cache-status'], 'MISS')
  t.equal(first.headers['content-range'], `bytes 1000-1999/${image.length}`)
  t.same(first.body, image.subarray(1000, 2000))

  // ota-gate goes away: everything below comes from nginx's copy.
  await server.close()
  const resumed = await get(url, { range: `bytes=${image.length - 5000}-`, 'if-range': `"${sha256}"` })
  t.equal(resumed.status, 206, 'a resume with the right If-Range gets its range')
  t.equal(resumed.headers['x-cache-status'], 'HIT')
  t.equal(resumed.headers['content-length'], '5000')
  t.notOk(resumed.headers['transfer-encoding'], 'never chunked')
  t.same(resumed.body, image.subarray(image.length - 5000))

  const stale = await get(url, { range: 'bytes=0-99', 'if-range': '"0000"' })
  t.equal(stale.status, 200, 'an If-Range naming other bytes gets the whole binary')
  t.equal(stale.headers['content-length'], String(image.length))
  t.same(stale.body, image)

  const tail = await get(url, { range: 'bytes=-10' })
  t.same([tail.status, tail.body], [206, image.subarray(image.length - 10)], 'a suffix range')
  t.equal(tail.headers.etag, `"${sha256}"`, 'the ETag is ota-gate\'s')

  t.equal((await get(`${base}/v1/manifest?board=esp32cam`)).status, 404, 'only binaries are served by the proxy')
})
