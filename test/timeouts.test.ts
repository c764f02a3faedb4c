import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { loadConfig } from '../src/config'
import { buildEspImage } from './support/esp-image-builder'
import { startServer } from './support/server'
import { STEADY_ENV, storeArtifacts } from './support/stored-artifacts'

// Server timeouts for slow devices: a download that takes its time is never cut, while a client
// that opens a connection and never finishes its request headers is disconnected.

const CHUNK = 64 * 1024
const image = buildEspImage({ size: 200_000, version: 'slow' })

t.test('timeouts: a slow reader is not cut; a client that never finishes its headers is', async (t) => {
  t.equal(loadConfig({}).OTA_HEADERS_TIMEOUT_MS, 15_000, 'production default: 15 s for headers')
  const seeded = await storeArtifacts(t, [image])
  // A 1 s headers timeout, so that the test need not wait 15 s; the download below takes longer.
  const server = await startServer(t, { ...STEADY_ENV, OTA_HEADERS_TIMEOUT_MS: '1000' }, seeded.dir)
  t.equal(server.app.server.headersTimeout, 1000)

  const started = Date.now()
  const slow = await new Promise<Buffer>((resolve, reject) => {
    const req = http.get(
      `${server.url}/v1/firmware/${seeded.shas[0]}.bin`,
      { headers: { Range: 'bytes=0-65535', 'User-Agent': 'ESP32 HTTP Client/1.0' }, agent: false },
      (res) => {
        const chunks: Buffer[] = []
        // About 20 KB/s: after each piece, wait as long as it takes such a link to carry it.
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk)
          res.pause()
          setTimeout(() => res.resume(), chunk.length / 20)
        })
        res.on('end', () => resolve(Buffer.concat(chunks)))
        res.on('error', reject)
      }
    )
    req.on('error', reject)
  })
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

