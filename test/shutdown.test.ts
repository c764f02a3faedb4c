import http from 'node:http'
import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import { startBuiltServer } from './support/built-server'
import { STEADY_ENV, storeArtifacts } from './support/stored-artifacts'

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
    await new Promise((resolve) => setTimeout(resolve, 500))
    t.notOk(exitedEarly, 'the process waits for the download')

    const refused = await new Promise<string>((resolve) => {
      const req = http.get(`${server.url}/healthz`, { agent: false }, (r) => resolve(`answered ${r.statusCode}`))
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    })
    t.equal(refused, 'ECONNREFUSED', 'a new connection is not accepted while draining')

    const body = await readRest(res, first)
    t.equal(body.length, bytes.length, 'the whole binary arrived')
    t.equal(createHash('sha256').update(body).digest('hex'), stored.shas[0], 'byte-identical')
    t.equal(await stopping, 0, 'then the process exits 0')
  })
}
