import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import t from 'tap'
import { openDatabase } from '../src/db/open'
import { createToken, startServer, type RunningServer } from './support/server'
import { until } from './support/wait'

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex')
const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex')

function put(server: RunningServer, token: string | undefined, digest: string, body: Buffer, headers: Record<string, string> = {}) {
  return fetch(`${server.url}/v1/artifacts/${digest}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body,
  })
}

/** Every file under the data folder's artifacts and tmp directories. */
function storedFiles(dataDir: string): string[] {
  const found: string[] = []
  for (const top of ['artifacts', 'tmp']) {
    const root = path.join(dataDir, top)
    if (!fs.existsSync(root)) continue
    for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) found.push(path.join(entry.parentPath, entry.name))
    }
  }
  return found
}

/** Bytes of uploads in progress (the store's temporary files). */
function tmpBytes(dataDir: string): number {
  return storedFiles(dataDir)
    .filter((f) => f.startsWith(path.join(dataDir, 'tmp')))
    .reduce((n, f) => n + fs.statSync(f).size, 0)
}

function artifactRows(dataDir: string): number {
  const db = openDatabase(dataDir)
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM artifacts').get() as { n: number }).n
  } finally {
    db.close()
  }
}

t.test('upload: 201 when new, 200 when the same bytes come again; digests and size answered', async (t) => {
  const server = await startServer(t)
  const token = await createToken(server.dataDir, 'releaser')
  const bytes = crypto.randomBytes(200_000)
  const first = await put(server, token, sha256(bytes), bytes)
  t.equal(first.status, 201)
  t.same(await first.json(), { sha256: sha256(bytes), md5: md5(bytes), size: bytes.length })
  const again = await put(server, token, sha256(bytes), bytes)
  t.equal(again.status, 200)
  t.same(await again.json(), { sha256: sha256(bytes), md5: md5(bytes), size: bytes.length })
  const files = storedFiles(server.dataDir)
  t.equal(files.length, 1)
  t.ok(fs.readFileSync(files[0]).equals(bytes), 'the stored file is the bytes sent')
  t.equal(artifactRows(server.dataDir), 1)

  // Whatever the client calls the body: curl --data-binary says application/x-www-form-urlencoded.
  const other = crypto.randomBytes(1000)
  const form = await put(server, token, sha256(other), other, { 'content-type': 'application/x-www-form-urlencoded' })
  t.equal(form.status, 201)
})

t.test('bytes that do not hash to the digest in the path: 422 digest_mismatch, nothing kept', async (t) => {
  const server = await startServer(t)
  const token = await createToken(server.dataDir, 'releaser')
  const bytes = crypto.randomBytes(100_000)
  const claimed = sha256(Buffer.from('something else'))
  const res = await put(server, token, claimed, bytes)
  t.equal(res.status, 422)
  const body = (await res.json()) as { error: string; message: string }
  t.equal(body.error, 'digest_mismatch')
  t.match(body.message, new RegExp(`hash to ${sha256(bytes)}, not ${claimed}`))
  t.same(storedFiles(server.dataDir), [])
  t.equal(artifactRows(server.dataDir), 0)
})

t.test('a malformed digest in the path is 400', async (t) => {
  const server = await startServer(t)
  const token = await createToken(server.dataDir, 'releaser')
  for (const bad of ['ABC', 'f'.repeat(63), 'F'.repeat(64)]) {
    const res = await put(server, token, bad, Buffer.from('x'))
    t.equal(res.status, 400, bad)
    t.equal(((await res.json()) as { error: string }).error, 'bad_request')
  }
  t.equal((await put(server, token, sha256(Buffer.alloc(0)), Buffer.alloc(0))).status, 400, 'an empty body')
})

t.test('over OTA_MAX_ARTIFACT_BYTES: 413, from Content-Length or while streaming, nothing kept', async (t) => {
  const server = await startServer(t, { OTA_MAX_ARTIFACT_BYTES: '4096' })
  const token = await createToken(server.dataDir, 'releaser')
  const bytes = crypto.randomBytes(5000)
  const res = await put(server, token, sha256(bytes), bytes)
  t.equal(res.status, 413)
  t.equal(((await res.json()) as { error: string }).error, 'payload_too_large')

  // Chunked, no Content-Length: refused once the count passes the maximum.
  const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(`${server.url}/v1/artifacts/${sha256(bytes)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    })
    req.on('response', (r) => {
      let body = ''
      r.on('data', (c) => (body += c))
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.write(bytes.subarray(0, 3000))
    req.end(bytes.subarray(3000))
  })
  t.equal(chunked.status, 413)
  t.match(chunked.body, /4096-byte maximum/)
  t.same(storedFiles(server.dataDir), [])
  t.equal(artifactRows(server.dataDir), 0)
  const exact = crypto.randomBytes(4096)
  t.equal((await put(server, token, sha256(exact), exact)).status, 201, 'exactly the maximum is accepted')
})

t.test('a client that disconnects mid-upload leaves no artifact, no row and no temporary file', async (t) => {
  const server = await startServer(t)
  const token = await createToken(server.dataDir, 'releaser')
  const bytes = crypto.randomBytes(2 * 1024 * 1024)
  const req = http.request(`${server.url}/v1/artifacts/${sha256(bytes)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
  })
  req.on('error', () => undefined)
  req.on('response', () => t.fail('the server answered a request whose body never completed'))
  req.write(bytes.subarray(0, bytes.length / 2))
  await until(() => tmpBytes(server.dataDir) > 0)
  t.ok(tmpBytes(server.dataDir) > 0, 'the upload was being written when the client went away')
  req.destroy()
  // The server notices the reset asynchronously; wait until its cleanup is done.
  await until(() => storedFiles(server.dataDir).length === 0, 5000)
  t.same(storedFiles(server.dataDir), [], 'no artifact and no tmp leftovers')
  t.equal(artifactRows(server.dataDir), 0)
  // The same upload, complete, still works afterwards.
  t.equal((await put(server, token, sha256(bytes), bytes)).status, 201)
})

t.test('a 10 MB upload is written to disk as it arrives, not buffered in memory first', async (t) => {
  const server = await startServer(t)
  const token = await createToken(server.dataDir, 'releaser')
  const size = 10 * 1024 * 1024
  const bytes = crypto.randomBytes(size)
  const req = http.request(`${server.url}/v1/artifacts/${sha256(bytes)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(size) },
  })
  const status = new Promise<number>((resolve, reject) => {
    req.on('response', (r) => {
      r.resume()
      resolve(r.statusCode ?? 0)
    })
    req.on('error', reject)
  })
  req.write(bytes.subarray(0, size / 2))
  // Half the body sent and the request still open: a buffering server would have written nothing yet.
  await until(() => tmpBytes(server.dataDir) >= 4 * 1024 * 1024)
  t.ok(tmpBytes(server.dataDir) >= 4 * 1024 * 1024, `${tmpBytes(server.dataDir)} bytes on disk before the body was complete`)
  req.end(bytes.subarray(size / 2))
  t.equal(await status, 201)
  t.equal(fs.statSync(storedFiles(server.dataDir)[0]).size, size)
})

t.test('uploads need a releaser (or admin) token', async (t) => {
  const server = await startServer(t)
  const bytes = Buffer.from('firmware')
  const none = await put(server, undefined, sha256(bytes), bytes)
  t.equal(none.status, 401)
  t.equal(((await none.json()) as { error: string }).error, 'unauthorized')
  const operator = await createToken(server.dataDir, 'operator')
  const forbidden = await put(server, operator, sha256(bytes), bytes)
  t.equal(forbidden.status, 403)
  t.equal(((await forbidden.json()) as { error: string }).error, 'forbidden')
  const admin = await createToken(server.dataDir, 'admin')
  t.equal((await put(server, admin, sha256(bytes), bytes)).status, 201)
  t.equal(artifactRows(server.dataDir), 1, 'only the admin upload was kept')
})
