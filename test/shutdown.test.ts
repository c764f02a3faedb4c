import http from 'node:http'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import { startBuiltServer } from './support/built-server'
import { storeArtifacts } from './support/stored-artifacts'
import { STEADY_ENV } from './support/env'
import { until } from './support/wait'

// SIGTERM (systemd's stop) and SIGINT (Ctrl-C) drain the server: no new requests, in-flight
// downloads finish, then the process exits 0. The server runs as production runs it: dist/server.js.

/** Starts a download and stops reading after its first chunk; resolves once bytes are flowing. */
function startSlowDownload(url: string) {
  return new Promise<{ res: http.IncomingMessage; first: Buffer }>((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.once('data', (first: Buffer) => {
        res.pause()
        resolve({ res, first })
      })
    })
    req.on('error', reject)
  })
}

/** A new connection's fate: `answered <status>`, or the connect error's code once the server stops listening. */
function connect(url: string): Promise<string> {
  return new Promise<string>((resolve) => {
    const req = http.get(`${url}/healthz`, { agent: false }, (r) => {
      r.resume()
      resolve(`answered ${r.statusCode}`)
    })
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
}

function readRest(res: http.IncomingMessage, first: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks = [first]
    res.on('data', (c: Buffer) => chunks.push(c))
    res.on('end', () => resolve(Buffer.concat(chunks)))
    res.on('error', reject)
    res.resume()
  })
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal}: an in-flight download completes, new connections are refused, exit 0`, async (t) => {
    // Larger than loopback's socket buffers, so the response is truly still being sent.
    const bytes = randomBytes(12 * 1024 * 1024)
    const stored = await storeArtifacts(t, [bytes])
    const server = await startBuiltServer(t, stored.dir, { ...STEADY_ENV, OTA_SHUTDOWN_GRACE_MS: '30000' })
    const url = `${server.url}/v1/firmware/${stored.shas[0]}.bin`

    const { res, first } = await startSlowDownload(url)
    t.equal(res.statusCode, 200)
    const stopping = server.kill(signal)
    let exitedEarly = false
    void server.exited.then(() => (exitedEarly = true))
    t.ok(await until(async () => (await connect(server.url)) === 'ECONNREFUSED'), 'a new connection is not accepted while draining')
    t.notOk(exitedEarly, 'the process waits for the download')

    const body = await readRest(res, first)
    t.equal(body.length, bytes.length, 'the whole binary arrived')
    t.equal(createHash('sha256').update(body).digest('hex'), stored.shas[0], 'byte-identical')
    t.equal(await stopping, 0, 'then the process exits 0')
  })
}

t.test('SIGTERM: requests pipelined on a keep-alive connection while draining do not hold the stop', async (t) => {
  const bytes = randomBytes(12 * 1024 * 1024)
  const stored = await storeArtifacts(t, [bytes])
  const server = await startBuiltServer(t, stored.dir, { ...STEADY_ENV, OTA_SHUTDOWN_GRACE_MS: '60000' })
  const { port } = new URL(server.url)

  // A keep-alive connection, used once before the stop.
  const client = net.connect(Number(port), '127.0.0.1')
  let received = ''
  const closed = new Promise<void>((resolve) => client.on('close', () => resolve()))
  client.on('data', (d: Buffer) => (received += d.toString('latin1')))
  client.on('error', () => undefined)
  const request = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`
  client.write(request)
  while (!received.includes('"ok"')) await new Promise((resolve) => setTimeout(resolve, 20))

  // A real download holds the stop while it runs.
  const { res, first } = await startSlowDownload(`${server.url}/v1/firmware/${stored.shas[0]}.bin`)
  const stopping = server.kill('SIGTERM')
  t.ok(await until(async () => (await connect(server.url)) === 'ECONNREFUSED'), 'draining has begun')
  // Five requests pipelined in one write during the drain: the first is answered with
  // Connection: close and the connection ends; the four behind it are never answered.
  client.write(request.repeat(5))
  await closed
  t.equal(received.match(/HTTP\/1\.1 200/g)?.length, 2, 'the first pipelined request is answered, then the connection closes')
  t.match(received, /connection: close/i)

  const body = await readRest(res, first)
  t.equal(body.length, bytes.length, 'the download completes')
  const downloaded = Date.now()
  t.equal(await stopping, 0, 'the process exits 0')
  const after = Date.now() - downloaded
  t.ok(after < 2000, `and stops ${after} ms after the download, not at the grace period`)
})
