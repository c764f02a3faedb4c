// End-to-end: the real ota-gate server on a loopback port, releases
// published through its HTTP API, and the C++ client (build/ota_host_client)
// updating a file-backed slot. A proxy of our own sits between them, so a
// test can cut a download mid-way, flip a byte of the binary, or re-sign a
// manifest with a key the device does not know; the server is never changed
// for a test.
//
// The server requires device credentials (OTA_DEVICE_AUTH=required): every
// device enrolls its own P-256 key (kept in a file per device, as NVS keeps it
// on an ESP32), with the batch's enrollment token unless a case says not, and
// sends its device token with each poll, download and report.
//
// Prints `ok - ...` / `not ok - ...` per case and, last, `N passed, M failed`.

import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const firmwareDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const projectRoot = path.resolve(firmwareDir, '..')
const buildDir = path.join(firmwareDir, 'build')
const clientBin = path.join(buildDir, 'ota_host_client')
const imageTool = path.join(buildDir, 'make_esp_image')
const serverJs = path.join(projectRoot, 'dist', 'server.js')
const cliJs = path.join(projectRoot, 'dist', 'cli', 'main.js')

const BOARD = 'esp32cam'
const HOUR = 3600
const CASE_TIMEOUT_MS = 60_000

// ---------------------------------------------------------------- processes

function run(cmd, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: stderr + String(err) }))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

async function runOk(cmd, args, options = {}) {
  const r = await run(cmd, args, options)
  if (r.code !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`)
  return r
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function request(port, method, urlPath, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, agent: false }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const buf = Buffer.concat(chunks)
        let json
        try {
          json = JSON.parse(buf.toString('utf8'))
        } catch {
          json = undefined
        }
        resolve({ status: res.statusCode, headers: res.headers, body: buf, json })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------- the proxy

// Forwards each connection to the server. Per request kind (manifest or
// firmware) a test may install a rule that rewrites the response stream.
class Proxy {
  constructor(upstreamPort) {
    this.upstreamPort = upstreamPort
    // Per download kind ('firmware' or 'delta'): { cutAfter: N } or { flipAt: K }, applied to the next response that fits.
    this.rules = { firmware: null, delta: null }
    this.manifestRule = null   // { key: KeyObject, keyId: string }: re-sign the manifest body
    this.rewriteTarget = null  // (target) => target: forward a different request than the device sent
    this.log = []              // { kind, path, range, bearer }
    this.sockets = new Set()
    this.server = net.createServer((client) => this.handle(client))
  }

  listen() {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve(this.server.address().port)))
  }

  close() {
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  firmwareRequests() {
    return this.log.filter((e) => e.kind === 'firmware')
  }

  requestsOf(kind) {
    return this.log.filter((e) => e.kind === kind)
  }

  handle(client) {
    this.sockets.add(client)
    client.on('close', () => this.sockets.delete(client))
    client.on('error', () => {})
    let head = Buffer.alloc(0)
    const onData = (data) => {
      head = Buffer.concat([head, data])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      client.off('data', onData)
      let text = head.subarray(0, end).toString('latin1')
      const [method, sent = '', version] = text.split('\r\n')[0].split(' ')
      const target = this.rewriteTarget ? this.rewriteTarget(sent) : sent
      if (target !== sent) {
        text = [`${method} ${target} ${version}`, ...text.split('\r\n').slice(1)].join('\r\n')
        head = Buffer.concat([Buffer.from(text, 'latin1'), head.subarray(end)])
      }
      const range = /\r\nrange:\s*([^\r\n]*)/i.exec(text)?.[1] ?? null
      const kind = target.startsWith('/v1/firmware/')
        ? 'firmware'
        : target.startsWith('/v1/delta/')
          ? 'delta'
          : target.startsWith('/v1/manifest')
            ? 'manifest'
            : 'other'
      const bearer = /\r\nauthorization:\s*Bearer \S/i.test(text)
      this.log.push({ kind, path: target, range, bearer })
      const upstream = net.connect(this.upstreamPort, '127.0.0.1')
      this.sockets.add(upstream)
      upstream.on('close', () => this.sockets.delete(upstream))
      upstream.on('error', () => client.destroy())
      upstream.write(head)
      client.pipe(upstream)
      this.respond(kind, upstream, client)
    }
    client.on('data', onData)
  }

  respond(kind, upstream, client) {
    if (kind === 'manifest' && this.manifestRule) {
      const rule = this.manifestRule
      const chunks = []
      upstream.on('data', (c) => chunks.push(c))
      upstream.on('end', () => client.end(resignManifest(Buffer.concat(chunks), rule)))
      return
    }
    const rule = this.rules[kind]
    if (!rule) {
      upstream.pipe(client)
      return
    }
    let headBuf = Buffer.alloc(0)
    let bodyOffset = -1 // -1 until the response head has passed
    let active = false
    let cut = false
    upstream.on('data', (data) => {
      if (cut) return // nothing past the cut reaches the device
      if (bodyOffset < 0) {
        headBuf = Buffer.concat([headBuf, data])
        const end = headBuf.indexOf('\r\n\r\n')
        if (end < 0) return
        const headText = headBuf.subarray(0, end).toString('latin1')
        const start = Number(/\r\ncontent-range:\s*bytes (\d+)-/i.exec(headText)?.[1] ?? (/^HTTP\/1\.1 200/.test(headText) ? 0 : -1))
        // Cuts and flips apply once, to the first response that starts at byte 0.
        active = this.rules[kind] === rule && start === 0
        if (active) this.rules[kind] = null
        client.write(headBuf.subarray(0, end + 4))
        data = headBuf.subarray(end + 4)
        bodyOffset = 0
      }
      if (!active) {
        client.write(data)
        bodyOffset += data.length
        return
      }
      if (rule.cutAfter !== undefined) {
        const room = rule.cutAfter - bodyOffset
        if (data.length >= room) {
          cut = true
          client.write(data.subarray(0, room), () => {
            rule.delivered = rule.cutAfter
            client.destroy()
            upstream.destroy()
          })
          return
        }
      } else if (rule.flipAt !== undefined && rule.flipAt >= bodyOffset && rule.flipAt < bodyOffset + data.length) {
        data = Buffer.from(data)
        data[rule.flipAt - bodyOffset] ^= 0x01
        rule.flipped = true
      }
      client.write(data)
      bodyOffset += data.length
    })
    upstream.on('end', () => cut || client.end())
  }
}

// Replaces X-OTA-Signature and X-OTA-Key-Id with a signature by another key
// over the same body bytes: what an attacker who does not hold the server's
// key could serve.
function resignManifest(raw, rule) {
  const end = raw.indexOf('\r\n\r\n')
  const body = raw.subarray(end + 4)
  const signature = crypto.sign('sha256', body, rule.key).toString('base64')
  const lines = raw
    .subarray(0, end)
    .toString('latin1')
    .split('\r\n')
    .filter((l) => !/^x-ota-(signature|key-id):/i.test(l))
  lines.push(`X-OTA-Signature: ${signature}`, `X-OTA-Key-Id: ${rule.keyId}`)
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body])
}

// ---------------------------------------------------------------- keys and releases

function newKey() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const der = publicKey.export({ type: 'spki', format: 'der' })
  return {
    privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: crypto.createHash('sha256').update(der).digest('hex').slice(0, 16),
  }
}

function statement(r) {
  return (
    'ota-gate release v1\n' +
    `board: ${r.board}\nversion: ${r.version}\nsequence: ${r.sequence}\nsize: ${r.size}\n` +
    `sha256: ${r.sha256}\ntag: ${r.tag}\ncommit: ${r.commit}\n`
  )
}

// ---------------------------------------------------------------- the harness

class Harness {
  async setUp() {
    for (const f of [clientBin, imageTool]) {
      if (!fs.existsSync(f)) throw new Error(`${f} is missing: run make -C firmware first`)
    }
    if (!fs.existsSync(serverJs) || !fs.existsSync(cliJs)) {
      const built = await run('npm', ['run', '-s', 'build'], { cwd: projectRoot })
      if (built.code !== 0 || !fs.existsSync(serverJs)) {
        throw new Error(`the server is not built and \`npm run -s build\` failed: ${built.stderr.trim() || built.stdout.trim()}`)
      }
    }
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-gate-fw-e2e-'))
    this.dataDir = path.join(this.dir, 'data')
    fs.mkdirSync(this.dataDir)
    this.env = { ...process.env, OTA_DATA_DIR: this.dataDir, OTA_LOG_LEVEL: 'warn' }

    this.releaseKey = newKey()   // pinned on the device
    this.rogueReleaseKey = newKey() // trusted by the server, not pinned on the device
    for (const [name, key] of [['release-a', this.releaseKey], ['release-b', this.rogueReleaseKey]]) {
      const file = path.join(this.dir, `${name}.pub`)
      fs.writeFileSync(file, key.publicPem)
      this.releaseKeyFiles ??= []
      this.releaseKeyFiles.push(file)
      await runOk(process.execPath, [cliJs, 'keys', 'trust', file, '--name', name], { cwd: projectRoot, env: this.env })
    }
    this.releaserToken = await this.token('releaser', 'fw-e2e-releaser')
    this.operatorToken = await this.token('operator', 'fw-e2e-operator')

    this.serverPort = await freePort()
    this.proxy = new Proxy(this.serverPort)
    this.proxyPort = await this.proxy.listen()
    this.serverLog = path.join(this.dir, 'server.log')
    const log = fs.openSync(this.serverLog, 'a')
    this.server = spawn(process.execPath, [serverJs], {
      cwd: projectRoot,
      env: {
        ...this.env,
        OTA_HOST: '127.0.0.1',
        OTA_PORT: String(this.serverPort),
        // Binary URLs in manifests point at the proxy, so downloads pass through it.
        OTA_PUBLIC_URL: `http://127.0.0.1:${this.proxyPort}`,
        OTA_SHUTDOWN_GRACE_MS: '500',
        // Load shedding answers device routes 503 while the event loop lags; on a busy test
        // machine that would fail the client for the machine's sake, so it is off here.
        OTA_OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
        OTA_DEVICE_AUTH: 'required',
      },
      stdio: ['ignore', log, log],
    })
    fs.closeSync(log)
    this.serverExit = new Promise((resolve) => this.server.on('exit', (code) => resolve(code)))
    await this.waitForServer()

    const keys = await request(this.serverPort, 'GET', '/v1/keys')
    if (keys.status !== 200 || !keys.json?.server?.public_key_pem) {
      throw new Error(`GET /v1/keys answered ${keys.status}: ${keys.body.toString().slice(0, 200)}`)
    }
    this.serverKeyFile = path.join(this.dir, 'server.pub')
    fs.writeFileSync(this.serverKeyFile, keys.json.server.public_key_pem)
    this.serverKeyId = keys.json.server.key_id

    this.keysDir = path.join(this.dir, 'device-keys')
    fs.mkdirSync(this.keysDir)
    const batch = await this.operator('POST', '/v1/enrollment-tokens', { name: 'fw-e2e-batch' })
    if (batch.status !== 201) throw new Error(`POST /v1/enrollment-tokens answered ${batch.status}: ${batch.body}`)
    this.enrollmentToken = batch.json.token

    this.stable = await this.publish({ version: 'mason', sequence: 10, size: 150_016, key: this.releaseKey })
    this.beta = await this.publish({ version: 'leafcutter', sequence: 11, size: 20_016, key: this.rogueReleaseKey, channel: 'beta' })
  }

  operator(method, urlPath, body) {
    const headers = { authorization: `Bearer ${this.operatorToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }
    return request(this.serverPort, method, urlPath, { headers, body: body ? JSON.stringify(body) : undefined })
  }

  keyFile(mac) {
    return path.join(this.keysDir, `${mac.replace(/[:-]/g, '').toLowerCase()}.der`)
  }

  async token(role, name) {
    const r = await runOk(process.execPath, [cliJs, 'token', 'create', '--role', role, '--name', name], { cwd: projectRoot, env: this.env })
    const lines = r.stdout.trim().split('\n')
    return lines[lines.length - 1].trim()
  }

  async waitForServer() {
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      if (this.server.exitCode !== null) break
      try {
        // Ready means the device-facing routes answer too: load shedding may say 503 for a
        // moment after start. No device is named, so no check-in is recorded.
        const health = await request(this.serverPort, 'GET', '/healthz')
        const manifest = await request(this.serverPort, 'GET', `/v1/manifest?board=${BOARD}`)
        if (health.status === 200 && manifest.status !== 503) return
      } catch {
        // not listening yet
      }
      await sleep(100)
    }
    throw new Error(`the server did not come up on port ${this.serverPort}:\n${this.serverLogTail()}`)
  }

  serverLogTail() {
    try {
      return fs.readFileSync(this.serverLog, 'utf8').split('\n').slice(-20).join('\n')
    } catch {
      return '(no server log)'
    }
  }

  async publish({ version, sequence, size, key, channel, seed = sequence }) {
    const file = path.join(this.dir, `${version}.bin`)
    await runOk(imageTool, ['--size', String(size), '--version', version, '--out', file, '--seed', String(seed)])
    const bytes = fs.readFileSync(file)
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex')
    const auth = { authorization: `Bearer ${this.releaserToken}` }
    const put = await request(this.serverPort, 'PUT', `/v1/artifacts/${sha256}`, {
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: bytes,
    })
    if (put.status !== 201 && put.status !== 200) throw new Error(`PUT /v1/artifacts answered ${put.status}: ${put.body}`)
    const release = {
      board: BOARD,
      version,
      sequence,
      size: bytes.length,
      sha256,
      tag: `prod-${version}`,
      commit: crypto.randomBytes(20).toString('hex'),
    }
    const signature = crypto.sign('sha256', Buffer.from(statement(release), 'utf8'), key.privateKey).toString('base64')
    const { size: _size, ...fields } = release
    const post = await request(this.serverPort, 'POST', '/v1/releases', {
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ ...fields, signature, key_id: key.keyId, ...(channel ? { channel } : {}) }),
    })
    if (post.status !== 201) throw new Error(`POST /v1/releases answered ${post.status}: ${post.body}`)
    return { ...release, bytes, channel: channel ?? 'stable' }
  }

  // Runs the C++ client as a device with its own slot directory.
  // By default the device pins release key A only; B is trusted by the server but not by it.
  // `running`: the image file the device runs (its kept digest beside it, in running + '.sha256'): delta-capable.
  // Its key lives in keys/<mac>.der across runs; `credentials: false` runs it without any.
  async device({ mac, version = 'carder', sequence = 5, channel = 'stable', serverKey, releaseKeys, clockOffset = 0, chunk = 4096, booted = false, running, enrollment = true, credentials = true }) {
    const slot = fs.mkdtempSync(path.join(this.dir, 'slot-'))
    const args = [
      '--server', `http://127.0.0.1:${this.proxyPort}`,
      '--board', BOARD, '--channel', channel, '--device', mac,
      '--version', version, '--sequence', String(sequence),
      '--server-key', serverKey ?? this.serverKeyFile,
      ...(releaseKeys ?? this.releaseKeyFiles.slice(0, 1)).flatMap((f) => ['--release-key', f]),
      '--slot', slot, '--chunk', String(chunk), '--retries', '3', '--retry-delay-ms', '20',
      '--clock-offset', String(clockOffset),
    ]
    if (credentials) args.push('--key-file', this.keyFile(mac))
    if (credentials && enrollment) args.push('--enrollment-token', this.enrollmentToken)
    if (booted) args.push('--report-booted')
    if (running) args.push('--running', running)
    const r = await run(clientBin, args)
    const out = Object.fromEntries(
      r.stdout.split('\n').filter((l) => l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)])
    )
    return { ...out, code: r.code, stderr: r.stderr, slot }
  }

  // A device token for a device that has run (and enrolled) at least once: the challenge signed
  // with the key in its key file, as the client does.
  async deviceToken(mac) {
    const device = mac.replace(/[:-]/g, '').toLowerCase()
    const key = crypto.createPrivateKey({ key: fs.readFileSync(this.keyFile(mac)), format: 'der', type: 'sec1' })
    const c = await request(this.serverPort, 'GET', `/v1/devices/${device}/challenge`)
    if (c.status !== 200) throw new Error(`GET challenge answered ${c.status}: ${c.body}`)
    const statement = `ota-gate device token v1\ndevice: ${device}\nchallenge: ${c.json.challenge}\n`
    const signature = crypto.sign('sha256', Buffer.from(statement), key).toString('base64')
    const t = await request(this.serverPort, 'POST', `/v1/devices/${device}/token`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ challenge: c.json.challenge, signature }),
    })
    if (t.status !== 200 || typeof t.json?.token !== 'string') throw new Error(`POST token answered ${t.status}: ${t.body}`)
    return t.json.token
  }

  // Polls the manifest as a delta-capable device would (with its device token) until the server offers
  // a patch (it builds them in a worker after a publish), straight to the server so the proxy log stays the device's.
  async waitForDelta({ mac, version, sequence, channel, running }) {
    const query = `board=${BOARD}&device=${mac}&version=${version}&sequence=${sequence}&channel=${channel}&delta=esp_delta_ota&running=${running}`
    const headers = { authorization: `Bearer ${await this.deviceToken(mac)}` }
    const deadline = Date.now() + 30_000
    let last
    while (Date.now() < deadline) {
      last = await request(this.serverPort, 'GET', `/v1/manifest?${query}`, { headers })
      if (last.status === 200 && last.json?.delta) return last.json.delta
      await sleep(200)
    }
    throw new Error(`no delta offered within 30 s; last manifest ${last?.status}: ${last?.body.toString().slice(0, 300)}`)
  }

  async reports(mac) {
    const r = await request(this.serverPort, 'GET', `/v1/devices/${mac}`, { headers: { authorization: `Bearer ${this.operatorToken}` } })
    if (r.status !== 200) throw new Error(`GET /v1/devices/${mac} answered ${r.status}: ${r.body}`)
    const reports = r.json?.reports ?? r.json?.device?.reports
    if (!Array.isArray(reports)) throw new Error(`GET /v1/devices/${mac} has no reports array: ${r.body.toString().slice(0, 300)}`)
    return reports
  }

  async tearDown() {
    await this.proxy?.close()
    if (this.server && this.server.exitCode === null) {
      this.server.kill('SIGTERM')
      const stopped = await Promise.race([this.serverExit, sleep(5000).then(() => 'timeout')])
      if (stopped === 'timeout') this.server.kill('SIGKILL')
    }
    if (this.dir && !process.env.OTA_E2E_KEEP) fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------- assertions

// A case that cannot run in this checkout says why instead of passing.
class Skip extends Error {}

function expect(cond, message) {
  if (!cond) throw new Error(message)
}

function expectResult(r, result) {
  expect(
    r.result === result,
    `expected result ${result}, got ${r.result ?? '(none)'} (exit ${r.code}, last HTTP status ${r.http_status ?? '-'}) ${r.stderr.trim()}`
  )
}

function expectNothingBootable(r) {
  expect(!fs.existsSync(path.join(r.slot, 'otadata')), 'the slot was marked bootable')
}

function expectInstalled(r, release) {
  expectResult(r, 'ok')
  expect(fs.existsSync(path.join(r.slot, 'otadata')), 'the slot was not marked bootable')
  const slot = fs.readFileSync(path.join(r.slot, 'slot.bin'))
  expect(slot.equals(release.bytes), `slot.bin (${slot.length} bytes) differs from the published binary (${release.bytes.length} bytes)`)
}

// ---------------------------------------------------------------- delta updates

// How many devices reported a failed apply of the patch from `base` to `target`, as operators see it.
async function patchFailures(h, target, base) {
  const view = await h.operator('GET', `/v1/releases/${BOARD}/${target.version}`)
  if (view.status !== 200) throw new Error(`GET release ${target.version} answered ${view.status}: ${view.body}`)
  const patch = (view.json.delta?.patches ?? []).find((p) => p.base_sha256 === base.sha256)
  if (!patch) throw new Error(`release ${target.version} lists no patch from ${base.sha256}: ${view.body.toString().slice(0, 300)}`)
  return patch.failures
}

// The server side of delta updates serves /v1/delta/...; without it in the built server
// the delta cases cannot run and say so.
function requireDeltaServer() {
  const routes = path.join(projectRoot, 'dist', 'routes')
  const files = fs.existsSync(routes) ? fs.readdirSync(routes, { recursive: true }).filter((f) => String(f).endsWith('.js')) : []
  if (!files.some((f) => fs.readFileSync(path.join(routes, String(f)), 'utf8').includes('/v1/delta'))) {
    throw new Skip('the built server has no /v1/delta route yet (server side of issue 19)')
  }
}

// A simulated reboot into the slot: the new image and its kept digest become the running ones.
function rebootInto(slot, running) {
  fs.renameSync(path.join(slot, 'slot.bin'), running)
  fs.renameSync(path.join(slot, 'slot.bin.sha256'), `${running}.sha256`)
}

function manifestQueries(h, since) {
  return h.proxy.requestsOf('manifest').slice(since).map((e) => e.path)
}

// ---------------------------------------------------------------- the cases

const cases = [
  ['the update is applied and the slot is byte-identical to the published binary', async (h) => {
    const r = await h.device({ mac: 'A4:CF:12:00:00:01', chunk: 16384 })
    expectInstalled(r, h.stable)
    expect(r.decision === 'update', `decision ${r.decision}`)
    expect(Number(r.requests) === Math.ceil(h.stable.size / 16384), `expected ${Math.ceil(h.stable.size / 16384)} range requests, made ${r.requests}`)
    const booted = await h.device({ mac: 'A4:CF:12:00:00:01', version: 'mason', sequence: 10, booted: true })
    expectResult(booted, 'ok')
  }],

  ['after the update the device stays on the same version', async (h) => {
    const before = h.proxy.firmwareRequests().length
    const r = await h.device({ mac: 'A4:CF:12:00:00:01', version: 'mason', sequence: 10 })
    expectResult(r, 'no_update')
    expect(r.decision === 'same_version', `decision ${r.decision}`)
    expect(h.proxy.firmwareRequests().length === before, 'the binary was requested')
  }],

  ['a connection cut mid-download resumes from the last byte written and completes', async (h) => {
    const rule = { cutAfter: 10_000 }
    h.proxy.rules.firmware = rule
    const before = h.proxy.firmwareRequests().length
    const r = await h.device({ mac: 'A4:CF:12:00:00:02', chunk: 65536 })
    expectInstalled(r, h.stable)
    expect(rule.delivered === 10_000, 'the proxy did not cut the connection')
    expect(Number(r.retries) >= 1, `retries ${r.retries}`)
    const ranges = h.proxy.firmwareRequests().slice(before).map((e) => e.range)
    expect(ranges[0] === 'bytes=0-65535', `first range ${ranges[0]}`)
    expect(ranges[1] === 'bytes=10000-75535', `resumed with ${ranges[1]}, expected bytes=10000-75535`)
  }],

  ['a tampered binary is refused and nothing is marked bootable', async (h) => {
    const rule = { flipAt: 1000 }
    h.proxy.rules.firmware = rule
    const r = await h.device({ mac: 'A4:CF:12:00:00:03' })
    expect(rule.flipped, 'the proxy did not flip a byte')
    expectResult(r, 'sha256_mismatch')
    expectNothingBootable(r)
    expect(!fs.existsSync(path.join(r.slot, 'slot.bin')), 'the tampered image was left in the slot')
  }],

  ['a manifest signed by an unknown key is refused before any download', async (h) => {
    const attacker = newKey()
    const before = h.proxy.firmwareRequests().length
    h.proxy.manifestRule = { key: attacker.privateKey, keyId: attacker.keyId }
    try {
      const r = await h.device({ mac: 'A4:CF:12:00:00:04' })
      expectResult(r, 'unknown_server_key')
      expectNothingBootable(r)
      // The same forgery claiming the server's key id fails the signature check itself.
      h.proxy.manifestRule = { key: attacker.privateKey, keyId: h.serverKeyId }
      const claimed = await h.device({ mac: 'A4:CF:12:00:00:04' })
      expectResult(claimed, 'manifest_signature_invalid')
      expectNothingBootable(claimed)
    } finally {
      h.proxy.manifestRule = null
    }
    expect(h.proxy.firmwareRequests().length === before, 'the binary was requested')
  }],

  ['a manifest validly signed for another channel is refused', async (h) => {
    // Replays the server's own, correctly signed beta manifest to a device on stable.
    h.proxy.rewriteTarget = (target) => target.replace('channel=stable', 'channel=beta')
    try {
      const r = await h.device({ mac: 'A4:CF:12:00:00:0A' })
      expectResult(r, 'channel_mismatch')
      expectNothingBootable(r)
    } finally {
      h.proxy.rewriteTarget = null
    }
  }],

  ['a device pinning another server key refuses the real server', async (h) => {
    const other = newKey()
    const file = path.join(h.dir, 'other-server.pub')
    fs.writeFileSync(file, other.publicPem)
    const r = await h.device({ mac: 'A4:CF:12:00:00:05', serverKey: file })
    expectResult(r, 'unknown_server_key')
    expectNothingBootable(r)
  }],

  ['a release signed by a key the device does not pin is refused', async (h) => {
    const before = h.proxy.firmwareRequests().length
    const r = await h.device({ mac: 'A4:CF:12:00:00:06', channel: 'beta' })
    expectResult(r, 'unknown_release_key')
    expectNothingBootable(r)
    expect(h.proxy.firmwareRequests().length === before, 'the binary was requested')
  }],

  ['a device pinning both release keys (a rotation) accepts a release signed by either', async (h) => {
    const r = await h.device({ mac: 'A4:CF:12:00:00:0B', channel: 'beta', releaseKeys: h.releaseKeyFiles })
    expectInstalled(r, h.beta)
  }],

  ['an expired manifest is refused', async (h) => {
    // The device's clock runs eight days ahead of the server's: past the default seven-day validity.
    const r = await h.device({ mac: 'A4:CF:12:00:00:07', clockOffset: 8 * 24 * HOUR })
    expectResult(r, 'manifest_expired')
    expectNothingBootable(r)
  }],

  ['a downgrade without allow_downgrade is not installed', async (h) => {
    const before = h.proxy.firmwareRequests().length
    const r = await h.device({ mac: 'A4:CF:12:00:00:08', version: 'osmia', sequence: 50 })
    expectResult(r, 'no_update')
    expect(r.decision === 'not_newer', `decision ${r.decision}`)
    expectNothingBootable(r)
    expect(h.proxy.firmwareRequests().length === before, 'the binary was requested')
  }],

  ['a device on sequence 0 never updates', async (h) => {
    const before = h.proxy.firmwareRequests().length
    const r = await h.device({ mac: 'A4:CF:12:00:00:09', version: 'dev-build', sequence: 0 })
    expectResult(r, 'no_update')
    expect(r.decision === 'hand_built', `decision ${r.decision}`)
    expectNothingBootable(r)
    expect(h.proxy.firmwareRequests().length === before, 'the binary was requested')
  }],

  ['a device enrolls with the batch\'s token, keeps its key across runs, and its word counts', async (h) => {
    // a4cf12000001 ran three times above (update, booted, no update) from the same key file.
    const keys = await h.operator('GET', '/v1/devices/a4cf12000001/keys')
    expect(keys.status === 200, `GET keys answered ${keys.status}`)
    expect(keys.json.keys.length === 1, `expected one key, the server has ${keys.json.keys.length}: the key was not kept`)
    expect(keys.json.keys[0].state === 'accepted' && keys.json.keys[0].decided_by === 'enrollment:fw-e2e-batch', `key: ${JSON.stringify(keys.json.keys[0])}`)
    const der = fs.readFileSync(h.keyFile('A4:CF:12:00:00:01'))
    const publicDer = crypto.createPublicKey(crypto.createPrivateKey({ key: der, format: 'der', type: 'sec1' })).export({ type: 'spki', format: 'der' })
    const keyId = crypto.createHash('sha256').update(publicDer).digest('hex').slice(0, 16)
    expect(keyId === keys.json.keys[0].key_id, `the key file holds key ${keyId}, the server accepted ${keys.json.keys[0].key_id}`)
    const view = await h.operator('GET', '/v1/devices/a4cf12000001')
    expect(view.json.verified === true, `the device is not verified: ${view.body.toString().slice(0, 200)}`)
  }],

  ['a device without an enrollment token waits for an operator, then updates once accepted', async (h) => {
    const pending = await h.device({ mac: 'A4:CF:12:00:00:0C', enrollment: false })
    expectResult(pending, 'device_pending')
    expectNothingBootable(pending)
    const accepted = await h.operator('POST', '/v1/devices/a4cf1200000c/accept', { reason: 'e2e' })
    expect(accepted.status === 200, `accept answered ${accepted.status}: ${accepted.body}`)
    const r = await h.device({ mac: 'A4:CF:12:00:00:0C', enrollment: false })
    expectInstalled(r, h.stable)
    expect(r.credentials === 'ok', `credentials ${r.credentials}`)
  }],

  ['a device without credentials is refused by a server that requires them', async (h) => {
    const r = await h.device({ mac: 'A4:CF:12:00:00:0D', credentials: false })
    expectResult(r, 'unauthorized')
    expect(r.http_status === '401', `last HTTP status ${r.http_status}`)
    expectNothingBootable(r)
  }],

  ['a revoked device gets nothing more', async (h) => {
    const revoked = await h.operator('POST', '/v1/devices/a4cf1200000c/revoke', { reason: 'e2e' })
    expect(revoked.status === 200, `revoke answered ${revoked.status}: ${revoked.body}`)
    const r = await h.device({ mac: 'A4:CF:12:00:00:0C', enrollment: false })
    expectResult(r, 'device_rejected')
    expectNothingBootable(r)
  }],

  ['the server sees the client reports', async (h) => {
    const ok = await h.reports('a4cf12000001')
    expect(ok.every((r) => r.verified === true), `reports not verified: ${JSON.stringify(ok)}`)
    const statuses = ok.map((r) => r.status)
    for (const s of ['downloading', 'downloaded', 'installed', 'booted']) {
      expect(statuses.includes(s), `no ${s} report for the updated device; got ${JSON.stringify(statuses)}`)
    }
    expect(ok.every((r) => r.version === 'mason' && Number(r.sequence) === 10), `reports name another release: ${JSON.stringify(ok)}`)
    const bad = await h.reports('a4cf12000003')
    const failed = bad.find((r) => r.status === 'failed')
    expect(failed, `no failed report for the tampered download; got ${JSON.stringify(bad)}`)
    expect(failed.detail === 'sha256_mismatch', `failed report detail ${failed.detail}`)
  }],

  ['a device that kept no digest of its image asks for no delta and takes the full image', async (h) => {
    const running = path.join(h.dir, 'no-digest-running.bin')
    fs.writeFileSync(running, h.stable.bytes.subarray(0, 4096))
    const since = h.proxy.requestsOf('manifest').length
    const r = await h.device({ mac: 'A4:CF:12:00:00:D0', running })
    expectInstalled(r, h.stable)
    expect(r.delta === 'none', `delta ${r.delta}`)
    const queries = manifestQueries(h, since)
    expect(queries.length === 1 && !queries[0].includes('delta='), `manifest queries ${JSON.stringify(queries)}`)
    expect(fs.readFileSync(path.join(r.slot, 'slot.bin.sha256'), 'utf8').trim() === h.stable.sha256, 'the new image digest was not kept')
  }],

  ['a device updates by delta from the image it runs and ends byte-identical to the full image', async (h) => {
    requireDeltaServer()
    const mac = 'A4:CF:12:00:00:D1'
    const running = path.join(h.dir, 'd1-running.bin')
    const base = await h.publish({ version: 'petrel', sequence: 60, size: 300_016, key: h.releaseKey, channel: 'canary', seed: 60 })
    // First a full install of the base, whose digest the device keeps; then a reboot into it.
    const first = await h.device({ mac, channel: 'canary', running })
    expectInstalled(first, base)
    expect(first.delta === 'none', `first install delta ${first.delta}`)
    rebootInto(first.slot, running)
    expect(fs.readFileSync(`${running}.sha256`, 'utf8').trim() === base.sha256, 'the kept digest is not the base image')

    // The next release differs from the base in its version label (and so its checksum and hash) only.
    const target = await h.publish({ version: 'prion', sequence: 61, size: 300_016, key: h.releaseKey, channel: 'canary', seed: 60 })
    const offer = await h.waitForDelta({ mac, version: 'petrel', sequence: 60, channel: 'canary', running: base.sha256 })
    expect(offer.format === 'esp_delta_ota' && offer.base_sha256 === base.sha256, `offer ${JSON.stringify(offer)}`)
    expect(offer.size < target.size / 2, `a ${offer.size}-byte patch for a ${target.size}-byte image`)
    console.log(`  # the server offers a ${offer.size}-byte patch for the ${target.size}-byte image`)

    const since = h.proxy.log.length
    const sinceManifest = h.proxy.requestsOf('manifest').length
    const r = await h.device({ mac, version: 'petrel', sequence: 60, channel: 'canary', running })
    expectInstalled(r, target)
    expect(r.delta === 'ok', `delta ${r.delta}`)
    expect(Number(r.patch_bytes) === offer.size, `patch bytes ${r.patch_bytes}, offered ${offer.size}`)
    expect(Number(r.bytes) === 0, `the full image was downloaded too (${r.bytes} bytes)`)
    const kinds = h.proxy.log.slice(since).map((e) => e.kind)
    expect(!kinds.includes('firmware') && kinds.includes('delta'), `requests ${JSON.stringify(kinds)}`)
    // Only getting a token (challenge, token) goes without one.
    const bare = h.proxy.log.slice(since).filter((e) => !e.bearer && !/\/(challenge|token)$/.test(e.path))
    expect(bare.length === 0, `requests without the device token: ${JSON.stringify(bare)}`)
    const query = manifestQueries(h, sinceManifest)[0] ?? ''
    expect(query.includes(`&delta=esp_delta_ota&running=${base.sha256}`), `manifest query ${query}`)
    expect(fs.readFileSync(path.join(r.slot, 'slot.bin.sha256'), 'utf8').trim() === target.sha256, 'the new digest was not kept')
    const statuses = (await h.reports(mac.replaceAll(':', '').toLowerCase())).map((x) => x.status)
    expect(!statuses.includes('delta_failed') && statuses.includes('installed'), `reports ${JSON.stringify(statuses)}`)
    h.deltaCase = { base, target, running }
  }],

  ['a corrupted patch is refused and the device falls back to the full image, nothing bootable in between', async (h) => {
    requireDeltaServer()
    if (!h.deltaCase) throw new Error('the delta update case did not set up its releases')
    const { target, running } = h.deltaCase
    // Patch and full image both damaged: the rebuilt image must never have been made bootable.
    const patchRule = { flipAt: 300 }
    const imageRule = { flipAt: 1000 }
    h.proxy.rules.delta = patchRule
    h.proxy.rules.firmware = imageRule
    const both = await h.device({ mac: 'A4:CF:12:00:00:D2', version: 'petrel', sequence: 60, channel: 'canary', running })
    expect(patchRule.flipped && imageRule.flipped, 'the proxy did not damage both downloads')
    expectResult(both, 'sha256_mismatch')
    expect(both.delta !== 'ok' && both.delta !== 'none', `delta ${both.delta}`)
    expectNothingBootable(both)
    expect(!fs.existsSync(path.join(both.slot, 'slot.bin')), 'a damaged image was left in the slot')

    // Only the patch damaged: the full image installs.
    const failuresBefore = await patchFailures(h, target, h.deltaCase.base)
    const onlyPatch = { flipAt: 300 }
    h.proxy.rules.delta = onlyPatch
    const mac = 'A4:CF:12:00:00:D3'
    const r = await h.device({ mac, version: 'petrel', sequence: 60, channel: 'canary', running })
    expect(onlyPatch.flipped, 'the proxy did not damage the patch')
    expectInstalled(r, target)
    expect(r.delta !== 'ok' && r.delta !== 'none', `delta ${r.delta}`)
    expect(Number(r.bytes) === target.size, `full image bytes ${r.bytes}`)
    const statuses = (await h.reports(mac.replaceAll(':', '').toLowerCase())).map((x) => x.status)
    expect(statuses.filter((x) => x === 'installed').length === 1, `reports ${JSON.stringify(statuses)}`)
    // The server keeps a delta_failed with the patch (its failure count in the release view), not in the device's reports.
    const failuresAfter = await patchFailures(h, target, h.deltaCase.base)
    expect(failuresAfter === failuresBefore + 1, `patch failures ${failuresBefore} before the device's delta_failed report, ${failuresAfter} after`)
    console.log(`  # the damaged patch was abandoned as ${r.delta}`)
  }],
]

// ---------------------------------------------------------------- main

async function main() {
  const h = new Harness()
  let passed = 0
  let failed = 0
  // On an abrupt end (a signal, a closed stdout) the server and the temporary folder go too.
  const stopServer = () => {
    if (h.server?.exitCode === null) h.server.kill('SIGKILL')
    if (h.dir && !process.env.OTA_E2E_KEEP) fs.rmSync(h.dir, { recursive: true, force: true })
  }
  process.on('exit', stopServer)
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      stopServer()
      process.exit(1)
    })
  }
  try {
    try {
      await h.setUp()
    } catch (err) {
      console.log(`setup failed: ${err.message}`)
      for (const [name] of cases) console.log(`not ok - ${name} (setup failed)`)
      failed = cases.length
      return
    }
    for (const [name, body] of cases) {
      try {
        let timer
        const timeout = new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no verdict within ${CASE_TIMEOUT_MS / 1000} s`)), CASE_TIMEOUT_MS)
        })
        await Promise.race([body(h), timeout]).finally(() => clearTimeout(timer))
        passed++
        console.log(`ok - ${name}`)
      } catch (err) {
        if (err instanceof Skip) {
          console.log(`ok - ${name} # SKIP ${err.message}`)
          continue
        }
        failed++
        console.log(`not ok - ${name}\n  ${err.message}`)
      }
    }
  } finally {
    if (failed > 0 && h.serverLog) console.log(`server log (last lines):\n${h.serverLogTail()}`)
    await h.tearDown()
    console.log(`${passed} passed, ${failed} failed`)
    process.exitCode = failed === 0 ? 0 : 1
  }
}

await main()
