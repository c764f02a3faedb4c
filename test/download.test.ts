import { execFile, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { buildEspImage } from './support/esp-image-builder'
import { startServer, tempDir } from './support/server'
import { startBuiltServer } from './support/built-server'
import { sha256, storeArtifacts } from './support/stored-artifacts'
import { STEADY_ENV } from './support/env'
import { until } from './support/wait'

// GET/HEAD /v1/firmware/:sha256.bin over real HTTP: the way ESP-IDF's partial download and curl
// resume a broken transfer, the edges of the contract, the memory cache against the disk, and
// clients hanging up. Binaries are put into the data folder before the server starts.

const CHUNK = 64 * 1024

type Env = Record<string, string>

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  /** true when the client hung up after `cutAfter` body bytes */
  cut: boolean
}

/**
 * One request with node:http, so that the headers are exactly what a device sends. `cutAfter`
 * destroys the socket once that many body bytes have arrived, as a device losing its link would.
 */
function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; agent?: http.Agent | false; cutAfter?: number } = {}
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: { 'User-Agent': 'ESP32 HTTP Client/1.0', ...opts.headers }, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = []
        let received = 0
        const answer = (cut: boolean) => ({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), cut })
        res.on('error', () => undefined) // after our own hang-up
        res.on('data', (chunk: Buffer) => {
          if (opts.cutAfter !== undefined && received + chunk.length >= opts.cutAfter) {
            chunks.push(chunk.subarray(0, opts.cutAfter - received))
            req.destroy()
            resolve(answer(true))
            return
          }
          chunks.push(chunk)
          received += chunk.length
        })
        res.on('end', () => resolve(answer(false)))
      }
    )
    req.on('error', reject)
    req.end()
  })
}

/** Every 206 states exactly what it carries, and nothing is chunked. */
function check206(t: Test, a: Answer, start: number, askedEnd: number, total: number): void {
  const end = Math.min(askedEnd, total - 1)
  t.equal(a.status, 206, `bytes=${start}-${askedEnd}: 206`)
  t.equal(a.headers['content-range'], `bytes ${start}-${end}/${total}`, 'Content-Range')
  t.equal(a.headers['content-length'], String(end - start + 1), 'Content-Length')
  t.equal(a.headers['transfer-encoding'], undefined, 'not chunked')
  if (!a.cut) t.equal(a.body.length, end - start + 1, 'the body is as long as Content-Length says')
}

const image = buildEspImage({ size: 1_500_000, version: 'mason' })

t.test('ESP-IDF partial download: HEAD, 64 KiB ranges, a broken chunk resumed, the last asking one byte too many', async (t) => {
  for (const env of [{}, { OTA_CACHE_BYTES: '0' }] as Env[]) {
    await t.test(`OTA_CACHE_BYTES=${env.OTA_CACHE_BYTES ?? 'default'}`, async (t) => {
      const seeded = await storeArtifacts(t, [image])
      const server = await startServer(t, { ...STEADY_ENV, ...env }, { dataDir: seeded.dir })
      const url = `${server.url}/v1/firmware/${seeded.shas[0]}.bin`
      // esp_http_client keeps one connection open across the chunks
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      t.teardown(() => agent.destroy())

      const head = await request(url, { method: 'HEAD', agent })
      t.equal(head.status, 200)
      t.equal(head.body.length, 0)
      const total = Number(head.headers['content-length'])
      t.equal(total, image.length, 'HEAD gives the size')

      const parts: Buffer[] = []
      let offset = 0
      let index = 0
      let lastAsked = ''
      while (offset < total) {
        const boundary = offset + CHUNK
        const askedEnd = boundary - 1 >= total - 1 ? total : boundary - 1
        if (index === 3) {
          // The link breaks 20,000 bytes into this chunk.
          const broken = await request(url, { headers: { Range: `bytes=${offset}-${askedEnd}` }, cutAfter: 20_000 })
          check206(t, broken, offset, askedEnd, total)
          parts.push(broken.body)
          offset += broken.body.length
          // esp_https_ota (v5.5+) resumes from the first missing byte with an open range; this
          // client reads to the end of its chunk and hangs up.
          const resumed = await request(url, { headers: { Range: `bytes=${offset}-` }, cutAfter: boundary - offset })
          check206(t, resumed, offset, total - 1, total)
          t.equal(resumed.headers['content-length'], String(total - offset), 'the open range runs to the end')
          parts.push(resumed.body)
          offset = boundary
        } else {
          lastAsked = `bytes=${offset}-${askedEnd}`
          const chunk = await request(url, { headers: { Range: lastAsked }, agent })
          check206(t, chunk, offset, askedEnd, total)
          parts.push(chunk.body)
          offset += chunk.body.length
        }
        index++
      }
      t.equal(lastAsked, `bytes=${Math.floor((total - 1) / CHUNK) * CHUNK}-${total}`, 'the last chunk asked one byte past the end')
      const assembled = Buffer.concat(parts)
      t.equal(assembled.length, image.length)
      t.equal(sha256(assembled), seeded.shas[0], 'reassembled byte-identical')
    })
  }
})

const curl = spawnSync('curl', ['--version']).status === 0

t.test('curl -C - resumes a cut download byte-identical', { skip: !curl && 'curl is not installed' }, async (t) => {
  const run = promisify(execFile)
  const seeded = await storeArtifacts(t, [image])
  const server = await startServer(t, STEADY_ENV, { dataDir: seeded.dir })
  const url = `${server.url}/v1/firmware/${seeded.shas[0]}.bin`
  const file = path.join(tempDir(t), 'firmware.bin')
  const first = await run('curl', ['-sS', '--fail', '--range', '0-99999', '-o', file, '-w', '%{http_code}', url])
  t.equal(first.stdout, '206')
  t.equal(fs.statSync(file).size, 100_000, 'the first 100,000 bytes')
  const rest = await run('curl', ['-sS', '--fail', '-C', '-', '-o', file, '-w', '%{http_code} %{size_download}', url])
  t.equal(rest.stdout, `206 ${image.length - 100_000}`, 'curl asked for the rest only')
  t.equal(sha256(fs.readFileSync(file)), seeded.shas[0], 'byte-identical')
})

t.test('edges: 416, If-Range, HEAD, conditional GET, malformed and unknown digests', async (t) => {
  const seeded = await storeArtifacts(t, [image])
  const server = await startServer(t, STEADY_ENV, { dataDir: seeded.dir })
  const sha = seeded.shas[0]
  const url = `${server.url}/v1/firmware/${sha}.bin`

  const unsatisfiable = await request(url, { headers: { Range: `bytes=${image.length}-` } })
  t.equal(unsatisfiable.status, 416)
  t.equal(unsatisfiable.headers['content-range'], `bytes */${image.length}`)
  t.equal(unsatisfiable.headers['content-length'], String(unsatisfiable.body.length))
  t.equal(JSON.parse(unsatisfiable.body.toString()).error, 'range_not_satisfiable')
  t.equal(unsatisfiable.headers['cache-control'], undefined, 'an error is not cached for a year')

  const stale = await request(url, { headers: { Range: 'bytes=0-99', 'If-Range': `"${'0'.repeat(64)}"` } })
  t.equal(stale.status, 200, 'If-Range of other bytes: the whole file')
  t.equal(stale.headers['content-length'], String(image.length))
  t.equal(sha256(stale.body), sha)
  const current = await request(url, { headers: { Range: 'bytes=0-99', 'If-Range': `"${sha}"` } })
  check206(t, current, 0, 99, image.length)
  t.same(current.body, image.subarray(0, 100))

  const strip = (h: http.IncomingHttpHeaders) => {
    const { date: _d, connection: _c, 'keep-alive': _k, ...rest } = h
    return rest
  }
  const variants: Env[] = [{}, { Range: 'bytes=100-199' }, { Range: 'bytes=99999999-' }, { 'If-None-Match': `"${sha}"` }]
  for (const headers of variants) {
    const get = await request(url, { headers })
    const head = await request(url, { method: 'HEAD', headers })
    t.equal(head.status, get.status, `HEAD ${JSON.stringify(headers)}: same status`)
    t.same(strip(head.headers), strip(get.headers), 'same headers')
    t.equal(head.body.length, 0, 'no body')
  }
  const get = await request(url)
  t.equal(get.headers.etag, `"${sha}"`)
  t.equal(get.headers['accept-ranges'], 'bytes')
  t.equal(get.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.equal(get.headers['content-type'], 'application/octet-stream')
  t.ok(get.headers['last-modified'])
  t.equal(get.headers['transfer-encoding'], undefined)

  const notModified = await request(url, { headers: { 'If-None-Match': `"${sha}"` } })
  t.equal(notModified.status, 304)
  t.equal(notModified.body.length, 0)
  t.equal(notModified.headers['content-length'], String(image.length), '304 states the length a 200 would have')
  const wrongTag = await request(url, { headers: { 'If-Match': '"not-this"' } })
  t.equal(wrongTag.status, 412)
  t.equal(JSON.parse(wrongTag.body.toString()).error, 'precondition_failed')

  const missing = [
    ['xyz.bin', 'not hex'],
    [`${sha.toUpperCase()}.bin`, 'uppercase hex'],
    [`${sha.slice(1)}.bin`, '63 digits'],
    [`${sha}0.bin`, '65 digits'],
    [sha, 'no .bin'],
    [`${sha}.bin.bak`, 'another suffix'],
    [`${'0'.repeat(64)}.bin`, 'an unknown digest'],
  ]
  for (const [file, why] of missing) {
    for (const method of ['GET', 'HEAD']) {
      const a = await request(`${server.url}/v1/firmware/${file}`, { method })
      t.equal(a.status, 404, `${method} ${why}: 404`)
      t.equal(a.headers['content-type'], 'application/json; charset=utf-8')
      if (method === 'GET') {
        t.equal(a.headers['content-length'], String(a.body.length), 'with its Content-Length')
        const body = JSON.parse(a.body.toString())
        t.equal(body.error, 'not_found')
        t.match(body.message, why === 'an unknown digest' ? /no binary with SHA-256/ : /64 lowercase hex/)
      }
    }
  }
})

/** Flips one byte in the middle of a stored file, keeping its size. */
function corrupt(file: string): void {
  const bytes = fs.readFileSync(file)
  bytes[bytes.length >> 1] ^= 0xff
  fs.writeFileSync(file, bytes)
}

t.test('cache: memory and disk serve the same bytes; a binary larger than the cache is streamed from disk', async (t) => {
  const small = buildEspImage({ size: 200_000, version: 'small' })
  const cases: Array<{ env: Env; big: string; small: string }> = [
    { env: {}, big: 'memory', small: 'memory' },
    { env: { OTA_CACHE_BYTES: '0' }, big: 'disk', small: 'disk' },
    { env: { OTA_CACHE_BYTES: '1000000' }, big: 'disk', small: 'memory' },
  ]
  for (const c of cases) {
    await t.test(JSON.stringify(c.env), async (t) => {
      const seeded = await storeArtifacts(t, [image, small])
      const server = await startServer(t, { ...STEADY_ENV, ...c.env }, { dataDir: seeded.dir })
      for (const [sha, from] of [
        [seeded.shas[0], c.big],
        [seeded.shas[1], c.small],
      ]) {
        const url = `${server.url}/v1/firmware/${sha}.bin`
        const before = await request(url)
        t.equal(sha256(before.body), sha, 'the stored bytes')
        t.equal(before.headers['content-length'], String(before.body.length))
        // A byte changed on disk shows which source answers the next request.
        corrupt(seeded.fileOf(sha))
        const after = await request(url)
        const range = await request(url, { headers: { Range: 'bytes=1000-1999' } })
        if (from === 'memory') {
          t.equal(sha256(after.body), sha, `${after.body.length} bytes: served from memory`)
          t.same(range.body, before.body.subarray(1000, 2000), 'ranges too')
        } else {
          t.not(sha256(after.body), sha, `${after.body.length} bytes: streamed from disk`)
          t.equal(after.body.length, before.body.length)
        }
        t.equal(range.status, 206)
        t.equal(range.headers['content-length'], '1000')
      }
    })
  }

  await t.test('bytes that no longer match their digest are refused before any header', async (t) => {
    const seeded = await storeArtifacts(t, [image])
    corrupt(seeded.fileOf(seeded.shas[0]))
    const server = await startServer(t, STEADY_ENV, { dataDir: seeded.dir })
    const a = await request(`${server.url}/v1/firmware/${seeded.shas[0]}.bin`)
    t.equal(a.status, 500)
    t.equal(JSON.parse(a.body.toString()).error, 'internal_error')
    t.equal(a.headers['cache-control'], undefined, 'no immutable caching of a failure')
    t.equal(a.headers.etag, undefined)
  })

  await t.test('a missing file is a 500, never a short body under a promised length', async (t) => {
    const seeded = await storeArtifacts(t, [image])
    fs.rmSync(seeded.fileOf(seeded.shas[0]))
    const server = await startServer(t, { ...STEADY_ENV, OTA_CACHE_BYTES: '0' }, { dataDir: seeded.dir })
    const a = await request(`${server.url}/v1/firmware/${seeded.shas[0]}.bin`)
    t.equal(a.status, 500)
    t.equal(a.headers['content-length'], String(a.body.length))
    t.equal(a.headers['cache-control'], undefined)
  })
})

/** How many descriptors the process holds open on `file` (Linux). */
function openDescriptors(pid: number, file: string): number {
  const dir = `/proc/${pid}/fd`
  return fs.readdirSync(dir).filter((fd) => {
    try {
      return fs.readlinkSync(path.join(dir, fd)) === file
    } catch {
      return false
    }
  }).length
}

t.test('a client hanging up mid-download: no error logged, no descriptor left open, others served', async (t) => {
  // 12 MB: more than loopback socket buffers absorb, so the server is truly mid-response.
  const big = randomBytes(12 * 1024 * 1024)
  for (const env of [{ OTA_CACHE_BYTES: '0' }, {}] as Env[]) {
    await t.test(env.OTA_CACHE_BYTES === '0' ? 'streamed from disk' : 'sent from memory', async (t) => {
      const seeded = await storeArtifacts(t, [big])
      const sha = seeded.shas[0]
      const file = seeded.fileOf(sha)
      // transpile only: type-checking the entry point in the child would only slow its start
      const server = await startBuiltServer(t, seeded.dir, { ...STEADY_ENV, OTA_LOG_LEVEL: 'debug', ...env })
      const url = `${server.url}/v1/firmware/${sha}.bin`
      const procfs = fs.existsSync(`/proc/${server.pid}/fd`)

      // The client reads a little, then stops reading, then goes away.
      const quitter = await new Promise<{ req: http.ClientRequest; res: http.IncomingMessage }>((resolve, reject) => {
        const req = http.get(url, { agent: false }, (res) => {
          res.once('data', () => {
            res.pause()
            resolve({ req, res })
          })
        })
        req.on('error', reject)
      })
      quitter.res.on('error', () => undefined)
      quitter.req.on('error', () => undefined)
      if (procfs && env.OTA_CACHE_BYTES === '0') {
        t.ok(await until(() => openDescriptors(server.pid, file) === 1), 'the stalled download holds the file open')
      }

      const other = await request(url)
      t.equal(sha256(other.body), sha, 'another client downloads meanwhile')

      quitter.req.destroy()
      if (procfs) t.ok(await until(() => openDescriptors(server.pid, file) === 0, 3000), 'the file is closed after the hang-up')

      const after = await request(url, { headers: { Range: 'bytes=0-65535' } })
      t.same(after.body, big.subarray(0, CHUNK), 'and the server goes on serving')
      await server.kill('SIGTERM')

      const lines = server.lines()
      const loud = lines.filter((l) => Number(l.level) >= 40)
      t.same(loud, [], 'nothing logged at warn or above')
      const downloads = lines.filter((l) => l.msg === 'request' && typeof l.url === 'string' && l.url.startsWith('/v1/firmware/'))
      t.ok(downloads.length >= 2, 'the completed downloads are logged as requests')
      if (env.OTA_CACHE_BYTES === '0') {
        t.ok(
          lines.some((l) => l.msg === 'client closed the connection mid-response' && l.level === 20),
          'the hang-up is noted at debug level'
        )
      }
    })
  }
})
