import { spawn, execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { Static } from '@sinclair/typebox'
import type { LegacyResponse, VersionsResponse } from '../src/schemas/fleet'
import { freePort } from './support/built-server'
import { buildEspImage } from './support/esp-image-builder'
import { checkFieldResponse, fieldWouldFlash, parseFieldManifest } from './support/field-firmware'
import { makeFirmwareRepo } from './support/git-repo'
import { cli, createToken, startServer, tempDir, type TestContext } from './support/server'
import { rawGet } from './support/raw-http'

// The cut-over replayed as a team would do it: the fleet in the field polls a real nginx serving
// the static firmware.json and firmware.app.bin; `ledger import --current-json … --current-bin …`
// records that release with its binary; nginx is pointed at ota-gate for the two paths (README,
// "Moving from static files to ota-gate", step 3) and reloaded; the same clients poll again.

const run = promisify(execFile)

function findNginx(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']
  return dirs.map((d) => path.join(d, 'nginx')).find((f) => fs.existsSync(f))
}
const nginx = findNginx()

/** One field client: its own loopback address and the firmware's user agent, Connection: close. */
interface FieldClient {
  address: string
  userAgent: string
}

/** A GET from the field client's own address and user agent, on a connection of its own. */
const fieldGet = (port: number, client: FieldClient, urlPath: string) =>
  rawGet(port, urlPath, { 'user-agent': client.userAgent, connection: 'close' }, client.address)

/** nginx's configuration: the two root paths as static files, or passed to ota-gate. */
function nginxConf(prefix: string, port: number, locations: string): string {
  const tmp = path.join(prefix, 'tmp')
  return `worker_processes 1;
daemon off;
pid ${path.join(prefix, 'nginx.pid')};
error_log ${path.join(prefix, 'error.log')} warn;
events { worker_connections 256; }
http {
  types { application/json json; application/octet-stream bin; }
  access_log off;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  server {
    listen 127.0.0.1:${port};
${locations}
  }
}
`
}

const staticLocations = (root: string) => `
    location = /firmware.json { root ${root}; }
    location = /firmware.app.bin { root ${root}; }`

const proxyLocations = (backend: number) => `
    proxy_http_version 1.1;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $remote_addr;
    location = /firmware.json {
        proxy_pass http://127.0.0.1:${backend};
    }
    location = /firmware.app.bin {
        proxy_pass http://127.0.0.1:${backend};
        proxy_buffering off;
        proxy_read_timeout 300s;
        send_timeout 300s;
    }`

/** The worker processes of an nginx master, from /proc (this test runs on Linux, where nginx is). */
function workersOf(master: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^[0-9]+$/.test(d))
    .filter((d) => {
      try {
        // The parent pid is the second field after the parenthesised command name.
        return Number(fs.readFileSync(`/proc/${d}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]) === master
      } catch {
        return false
      }
    })
    .map(Number)
}

async function startNginx(t: TestContext, prefix: string, port: number, locations: string): Promise<{ reload(locations: string): Promise<void> }> {
  fs.mkdirSync(path.join(prefix, 'tmp'), { recursive: true, mode: 0o755 })
  const conf = path.join(prefix, 'nginx.conf')
  fs.writeFileSync(conf, nginxConf(prefix, port, locations))
  const args = ['-p', prefix + '/', '-c', conf, '-e', path.join(prefix, 'error.log')]
  const child = spawn(nginx as string, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    child.kill('SIGTERM')
    await exited
  })
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => resolve(res.resume() !== undefined)).on('error', () => resolve(false))
    })
    if (up) break
    if (i > 200) throw new Error(`nginx did not start: ${fs.readFileSync(path.join(prefix, 'error.log'), 'utf8')}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    // Done once the workers of the old configuration have exited: until then a new connection may
    // still be accepted by one of them and served the static files.
    async reload(next) {
      const oldWorkers = workersOf(child.pid as number)
      fs.writeFileSync(conf, nginxConf(prefix, port, next))
      await run(nginx as string, [...args, '-s', 'reload'])
      for (let i = 0; oldWorkers.some((pid) => fs.existsSync(`/proc/${pid}`)); i++) {
        if (i > 200) throw new Error('the old nginx workers did not exit after the reload')
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  }
}

const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex')

t.test('cut-over: the field fleet gets the same firmware.json and binary from nginx before and from ota-gate after, and fleet legacy lists it', {
  skip: nginx ? false : 'nginx is not installed (apt-get install nginx-light)',
}, async (t) => {
  // The firmware repository of the old process: four releases on production, carpenter served today.
  const repo = makeFirmwareRepo(t)
  ;['mason', 'leafcutter', 'bumble', 'carpenter'].forEach((bee, i) => {
    repo.releaseCommit(bee, i + 1)
    repo.promote()
    repo.tag(`prod-${bee}`)
  })
  // The static files as the old process wrote them.
  const site = tempDir(t, 'ota-gate-static-')
  fs.chmodSync(site, 0o755)
  const bin = buildEspImage({ version: 'carpenter', seed: 4, size: 300_000 })
  const staticJson = `{"version":"carpenter","sequence":4,"app_md5":"${md5(bin)}","app_size":${bin.length},"allow_downgrade":false}`
  fs.writeFileSync(path.join(site, 'firmware.json'), staticJson)
  fs.writeFileSync(path.join(site, 'firmware.app.bin'), bin)
  for (const f of ['firmware.json', 'firmware.app.bin']) fs.chmodSync(path.join(site, f), 0o644)

  const server = await startServer(t, { OTA_TRUST_PROXY: '127.0.0.1', OTA_DEVICE_RATE_LIMIT: '0' })
  const prefix = tempDir(t, 'ota-gate-nginx-')
  fs.chmodSync(prefix, 0o755)
  const port = await freePort()
  const front = await startNginx(t, prefix, port, staticLocations(site))

  const fleet: FieldClient[] = [
    { address: '127.0.0.2', userAgent: 'hivehive-ota/1.0' },
    { address: '127.0.0.3', userAgent: 'hivehive-ota/1.0' },
    { address: '127.0.0.3', userAgent: 'hivehive-ota/0.9' },
  ]
  const seen = async () =>
    Promise.all(
      fleet.map(async (c) => {
        const json = await fieldGet(port, c, '/firmware.json')
        const binary = await fieldGet(port, c, '/firmware.app.bin')
        return { json, binary }
      })
    )

  const before = await seen()
  for (const b of before) {
    t.equal(b.json.status, 200)
    t.equal(b.json.body.toString(), staticJson, 'nginx serves the static file')
    t.same(b.binary.body, bin)
  }

  // The cut-over: the history and the release served today, with its binary.
  const imported = await cli(
    ['ledger', 'import', '--board', 'esp32cam', '--repo', repo.dir, '--current-json', path.join(site, 'firmware.json'), '--current-bin', path.join(site, 'firmware.app.bin')],
    { OTA_DATA_DIR: server.dataDir }
  )
  t.equal(imported.code, 0, imported.stderr)
  t.match(imported.stdout, /imported 4 historical release\(s\) of board esp32cam/)
  t.match(imported.stdout, /imported the release served today, carpenter \(sequence 4\) with its binary [0-9a-f]{12}…; provenance verified \(tag prod-carpenter, commit [0-9a-f]{12}\)/)
  t.match(imported.stdout, `/firmware.json answers from now on: ${staticJson}`)

  await front.reload(proxyLocations(server.port))
  // A reload takes effect once the old worker has gone: ota-gate answers with Cache-Control: no-cache.
  // Asked with HEAD of the binary, which counts neither as a poll nor as a download.
  const switched = () =>
    new Promise<boolean>((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port, path: '/firmware.app.bin', method: 'HEAD', agent: false }, (res) => {
          res.resume()
          resolve(res.headers['cache-control'] === 'no-cache')
        })
        .on('error', reject)
        .end()
    })
  for (let i = 0; !(await switched()); i++) {
    if (i > 200) throw new Error('nginx did not switch to ota-gate')
    await new Promise((r) => setTimeout(r, 50))
  }

  const after = await seen()
  after.forEach((a, i) => {
    const b = before[i]
    t.equal(a.json.status, 200, `client ${i}: 200 from ota-gate`)
    checkFieldResponse(a.json.headers, a.json.body)
    t.same(parseFieldManifest(a.json.body), parseFieldManifest(b.json.body), `client ${i}: the same fields, in the same order`)
    t.equal(a.json.body.toString(), b.json.body.toString(), `client ${i}: the same bytes`)
    t.notOk(fieldWouldFlash(parseFieldManifest(a.json.body), { version: 'carpenter', sequence: 4 }), 'no device is offered an update')
    t.equal(a.binary.status, 200)
    t.same(a.binary.body, b.binary.body, `client ${i}: the same binary`)
  })

  const operator = await createToken(server.dataDir, 'operator')
  const env = { OTA_SERVER: server.url, OTA_TOKEN: operator }
  const legacy = await cli(['fleet', 'legacy', '--json'], env)
  t.equal(legacy.code, 0, legacy.stderr)
  const body = JSON.parse(legacy.stdout) as Static<typeof LegacyResponse>
  t.match(body.field_fleet, { label: 'field fleet (unidentified)', board: 'esp32cam', channel: 'stable', clients: 3, addresses: 2, stale: 0 })
  t.same(
    body.clients.map((c) => [c.address, c.user_agent, c.polls, c.downloads.map((d) => [d.version, d.downloads])]).sort(),
    fleet.map((c) => [c.address, c.userAgent, 1, [['carpenter', 1]]]).sort(),
    "each client by its real address (nginx's X-Forwarded-For), with its polls since the cut-over and the release it downloaded"
  )
  t.same(body.releases, [{ version: 'carpenter', sequence: 4, clients: 3, addresses: 2 }])

  const table = await cli(['fleet', 'legacy'], env)
  t.equal(table.code, 0, table.stderr)
  t.match(table.stdout, /^ADDRESS\s+USER_AGENT\s+FIRST_SEEN\s+LAST_SEEN\s+POLLS\s+DOWNLOADED\s+STALE$/m)
  t.match(table.stdout, /^127\.0\.0\.2\s+hivehive-ota\/1\.0\s+\S+\s+\S+\s+1\s+carpenter at \S+$/m)
  t.match(table.stdout, /^field fleet \(unidentified\): 3 client\(s\) at 2 address\(es\) polling \/firmware\.json \(esp32cam stable\), 0 not seen for 26h; counted by address and user agent, not devices/m)

  const versions = await cli(['fleet', 'versions', '--json'], env)
  const v = JSON.parse(versions.stdout) as Static<typeof VersionsResponse>
  t.equal(v.total, 0, 'the field fleet is never counted as devices')
  t.match(v.field_fleet, { clients: 3, addresses: 2 })
  const versionsText = await cli(['fleet', 'versions'], env)
  t.match(versionsText.stdout, /^0 devices, 0 verified \(only verified devices count\), 0 not seen for 26h\nfield fleet \(unidentified\): 3 client\(s\) at 2 address\(es\)/m)
  const adoption = await cli(['release', 'adoption', 'esp32cam', 'carpenter'], env)
  t.match(adoption.stdout, /^running\s+0$/m)
  t.match(adoption.stdout, /^field fleet \(unidentified\): 3 client\(s\) at 2 address\(es\) downloaded it from \/firmware\.app\.bin; counted by address and user agent, not devices$/m)
})
