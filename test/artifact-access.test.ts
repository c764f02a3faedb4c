import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { databasePath } from '../src/db/open'
import { buildEspImage } from './support/esp-image-builder'
import { publishRelease, publisherOf } from './support/publish'
import { cli, createToken, startServer } from './support/server'
import { STEADY_ENV } from './support/env'

// Devices are served only binaries that a release names. An upload waiting for its release (or
// never released) is read only with a releaser token, and `ota-gate artifacts prune` removes the
// ones never released.

const sha = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex')

t.test('unreleased uploads: 404 to devices, served to releasers, pruned when old', async (t) => {
  const server = await startServer(t, STEADY_ENV)
  const released = await publishRelease(server, { version: 'mason', sequence: 3 })
  const { token: releaser } = await publisherOf(server)
  const operator = await createToken(server.dataDir, 'operator')
  const upload = buildEspImage({ version: 'carpenter', seed: 4 })
  const put = await fetch(`${server.url}/v1/artifacts/${sha(upload)}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${releaser}`, 'content-type': 'application/octet-stream' },
    body: upload,
  })
  t.equal(put.status, 201, 'uploaded, not released')
  const file = (digest: string) => `${server.url}/v1/firmware/${digest}.bin`
  const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

  const anon = await fetch(file(sha(upload)))
  t.equal(anon.status, 404, 'a device asking for the unreleased upload: 404')
  t.match(((await anon.json()) as { message: string }).message, /releaser token/)
  t.equal((await fetch(file(sha(upload)), { method: 'HEAD' })).status, 404, 'HEAD too')
  t.equal((await fetch(file(sha(upload)), { headers: { range: 'bytes=0-9' } })).status, 404, 'and a range of it')
  const byReleaser = await fetch(file(sha(upload)), as(releaser))
  t.equal(byReleaser.status, 200, 'a releaser reads it')
  t.same(Buffer.from(await byReleaser.arrayBuffer()), upload, 'byte for byte')
  t.equal((await fetch(file(sha(upload)), as(operator))).status, 403, 'an operator token is not enough')
  t.equal((await fetch(file(sha(upload)), as('otg_made_up'))).status, 401, 'a made-up token: 401')
  const device = await fetch(file(released.sha256))
  t.equal(device.status, 200, 'a released binary is served to anyone')
  t.same(Buffer.from(await device.arrayBuffer()), released.image)

  const env = { OTA_SERVER: server.url, OTA_TOKEN: releaser }
  const fresh = await cli(['artifacts', 'prune'], env)
  t.equal(fresh.code, 0)
  t.match(fresh.lastLine, /^deleted 0 unreleased upload\(s\) older than 7d/, 'a fresh upload is kept (default 7d)')

  // The upload as if made eight days ago.
  const db = new BetterSqlite3(databasePath(server.dataDir))
  db.prepare('UPDATE artifacts SET created_at = ? WHERE sha256 = ?').run(Date.now() - 8 * 86_400_000, sha(upload))
  db.prepare('UPDATE artifacts SET created_at = ? WHERE sha256 = ?').run(Date.now() - 8 * 86_400_000, released.sha256)
  db.close()

  const dry = await cli(['artifacts', 'prune', '--dry-run', '--json'], env)
  t.equal(dry.code, 0)
  const listed = JSON.parse(dry.stdout) as { dry_run: boolean; removed: Array<{ sha256: string; size: number }> }
  t.same(listed.removed.map((a) => [a.sha256, a.size]), [[sha(upload), upload.length]], 'dry run: lists the old upload, never a released binary')
  const stored = path.join(server.dataDir, 'artifacts', sha(upload).slice(0, 2), `${sha(upload)}.bin`)
  t.ok(fs.existsSync(stored), 'and deletes nothing')

  const pruned = await cli(['artifacts', 'prune', '--older-than', '7d'], env)
  t.equal(pruned.code, 0)
  t.match(pruned.lastLine, new RegExp(`^deleted 1 unreleased upload\\(s\\) older than 7d, ${upload.length} bytes`))
  t.match(pruned.stdout, sha(upload), 'naming it')
  t.notOk(fs.existsSync(stored), 'its file is gone')
  t.equal((await fetch(file(sha(upload)), as(releaser))).status, 404, 'and so is its row')
  t.equal((await fetch(file(released.sha256))).status, 200, 'the released binary stays')

  t.equal((await cli(['artifacts', 'prune', '--older-than', 'soon'], env)).code, 2, 'a bad duration is a usage error')
  const operatorPrune = await cli(['artifacts', 'prune'], { OTA_SERVER: server.url, OTA_TOKEN: operator })
  t.equal(operatorPrune.code, 1, 'an operator may not prune')
  t.match(operatorPrune.stderr, /releaser/)
})
