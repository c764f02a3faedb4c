import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { loadConfig } from '../src/config'
import { buildEspImage } from './support/esp-image-builder'
import { startServer } from './support/server'
import { storeArtifacts } from './support/stored-artifacts'
import { STEADY_ENV } from './support/env'
import { until } from './support/wait'

// Server timeouts for slow devices: a download that takes its time is never cut, while a client
// that opens a connection and never finishes its request headers is disconnected.

const CHUNK = 64 * 1024
const image = buildEspImage({ size: 200_000, version: 'slow' })

/** GETs `url` and reads the answer at about 20 KB/s: after each piece, it waits as long as such a link takes to carry it. */
function readAt20KBps(url: string, headers: Record<string, string>): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        res.pause()
        setTimeout(() => res.resume(), chunk.length / 20)
      })
      res.on('end', () => resolve(Buffer.concat(chunks)))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

// Each test runs its own server and spends most of its time waiting on a slow reader, a trickle or
// a server timeout: they run side by side (in a parent of their own, so that the other files of
// their test group, in the same process, do not).
t.test('server timeouts and connection limits', { jobs: 3 }, async (t) => {
  t.test('timeouts: a slow reader is not cut; a client that never finishes its headers is', async (t) => {
    t.equal(loadConfig({}).OTA_HEADERS_TIMEOUT_MS, 15_000, 'production default: 15 s for headers')
    const seeded = await storeArtifacts(t, [image])
    // A 1 s headers timeout, so that the test need not wait 15 s; the download below takes longer.
    const server = await startServer(t, { ...STEADY_ENV, OTA_HEADERS_TIMEOUT_MS: '1000' }, { dataDir: seeded.dir })
    t.equal(server.app.server.headersTimeout, 1000)

    const started = Date.now()
    const slow = await readAt20KBps(`${server.url}/v1/firmware/${seeded.shas[0]}.bin`, { Range: 'bytes=0-65535', 'User-Agent': 'ESP32 HTTP Client/1.0' })
    t.ok(Date.now() - started >= 3000, `read over ${Date.now() - started} ms`)
    t.same(slow, image.subarray(0, CHUNK), 'all 64 KiB arrived')

    const stalled = net.connect(server.port, '127.0.0.1')
    const opened = Date.now()
    const received: Buffer[] = []
    stalled.on('data', (d: Buffer) => received.push(d))
    stalled.write(`GET /v1/firmware/${seeded.shas[0]}.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n`)
    const closedAfter = await new Promise<number>((resolve) => {
      const bound = setTimeout(() => resolve(Infinity), 5000)
      stalled.on('close', () => {
        clearTimeout(bound)
        resolve(Date.now() - opened)
      })
    })
    stalled.destroy()
    t.ok(closedAfter >= 900 && closedAfter < 3000, `closed ${closedAfter} ms after incomplete headers`)
    t.match(Buffer.concat(received).toString(), /^HTTP\/1\.1 408/, 'with 408 Request Timeout')
  })


  /** Opens a raw connection; resolves with everything the server sent once it closes it, and when. */
  function rawConnection(port: number) {
    const socket = net.connect(port, '127.0.0.1')
    const opened = Date.now()
    const received: Buffer[] = []
    socket.on('data', (d: Buffer) => received.push(d))
    socket.on('error', () => undefined)
    const closed = new Promise<{ after: number; text: string }>((resolve) =>
      socket.on('close', () => resolve({ after: Date.now() - opened, text: Buffer.concat(received).toString('latin1') }))
    )
    return { socket, closed }
  }

  t.test('a request body that trickles in is cut after OTA_BODY_TIMEOUT_MS; downloads keep their time', async (t) => {
    const seeded = await storeArtifacts(t, [image])
    const server = await startServer(t, { ...STEADY_ENV, OTA_HEADERS_TIMEOUT_MS: '500', OTA_BODY_TIMEOUT_MS: '1500' }, { dataDir: seeded.dir })

    const { socket, closed } = rawConnection(server.port)
    socket.write('POST /v1/devices/aabbccddeeff/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{')
    // One byte every 100 ms: the headers were on time, the body never will be.
    const trickle = setInterval(() => socket.writable && socket.write(' '), 100)
    const { after, text } = await closed
    clearInterval(trickle)
    t.ok(after >= 1400 && after < 4000, `cut ${after} ms after the request began`)
    t.match(text, /^HTTP\/1\.1 408 /, '408')
    const [head, body] = text.split('\r\n\r\n')
    t.match(head, new RegExp(`content-length: ${Buffer.byteLength(body)}\\r?$`, 'im'), 'with a Content-Length')
    t.equal((JSON.parse(body) as { error: string }).error, 'request_timeout', "in the contract's JSON form")

    // A download that takes longer than the body timeout is not cut: only receiving counts.
    const started = Date.now()
    const res = await readAt20KBps(`${server.url}/v1/firmware/${seeded.shas[0]}.bin`, { Range: 'bytes=0-65535' })
    t.ok(Date.now() - started > 1500, `the download took ${Date.now() - started} ms`)
    t.same(res, image.subarray(0, CHUNK), 'and arrived whole')
  })

  t.test('OTA_MAX_CONNECTIONS caps open connections; a slot freed is a slot taken', async (t) => {
    const seeded = await storeArtifacts(t, [image])
    const server = await startServer(t, { ...STEADY_ENV, OTA_MAX_CONNECTIONS: '3' }, { dataDir: seeded.dir })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 3 })
    t.teardown(() => agent.destroy())
    const get = (path: string) =>
      new Promise<number>((resolve, reject) => {
        http.get(`${server.url}${path}`, { agent }, (r) => r.resume().on('end', () => resolve(r.statusCode ?? 0))).on('error', reject)
      })
    // Three keep-alive connections held open by the agent.
    t.same(await Promise.all([get('/healthz'), get('/healthz'), get('/healthz')]), [200, 200, 200])
    t.equal(server.app.server.maxConnections, 3)

    const fourth = rawConnection(server.port)
    fourth.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    const refused = await fourth.closed
    t.equal(refused.text, '', 'a fourth connection is closed without an answer')

    agent.destroy()
    const open = () => new Promise<number>((resolve) => server.app.server.getConnections((_err, n) => resolve(n)))
    t.ok(await until(async () => (await open()) === 0), 'the server sees the others close')
    const fifth = rawConnection(server.port)
    fifth.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    t.match((await fifth.closed).text, /^HTTP\/1\.1 200 /, 'once the others close, a new connection is served')
  })
})
