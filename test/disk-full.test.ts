import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { startBuiltServer } from './support/built-server'
import { deviceId, poll } from './support/devices'
import { buildEspImage } from './support/esp-image-builder'
import { publishRelease, publisherOf } from './support/publish'
import { createToken, tempDir, type TestContext } from './support/server'
import { STEADY_ENV } from './support/env'
import { getJson } from './support/http'

// A disk that fills up, for real: the data folder on a small tmpfs, filled to the last byte. Uploads
// are refused with 507, polls keep their manifest, tokens keep working, /healthz says why, and all of
// it comes back by itself once space is freed.

const MOUNT_BYTES = 16 * 1024 * 1024

/** A tmpfs of `bytes` mounted on a fresh folder, unmounted at teardown; undefined where mounting is not permitted. */
function mountTmpfs(t: TestContext, bytes: number): string | undefined {
  const dir = tempDir(t, 'ota-gate-diskfull-')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch {
    return undefined
  }
  t.teardown(() => execFileSync('umount', ['-l', dir]))
  return dir
}

const probe: TestContext & { done(): void } = (() => {
  const teardowns: Array<() => unknown> = []
  return { teardown: (fn: () => unknown) => void teardowns.push(fn), done: () => teardowns.reverse().forEach((fn) => fn()) }
})()
const canMount = mountTmpfs(probe, 1024 * 1024) !== undefined
probe.done()

/** Writes a file until the disk refuses; returns its path. */
function fillDisk(dir: string): string {
  const file = path.join(dir, 'filler')
  const fd = fs.openSync(file, 'w')
  const chunk = Buffer.alloc(64 * 1024, 0x55)
  try {
    for (;;) fs.writeSync(fd, chunk)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  }
  // Whatever is left is smaller than a chunk: take it byte by byte.
  try {
    for (;;) fs.writeSync(fd, chunk, 0, 512)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    fs.closeSync(fd)
  }
  return file
}

const put = (url: string, token: string, bytes: Buffer) =>
  fetch(`${url}/v1/artifacts/${createHash('sha256').update(bytes).digest('hex')}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  })

const scrapeFailures = async (url: string, token: string) => {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()
  return Number(/^ota_checkin_failures_total\{kind="manifest"\} (\d+)/m.exec(text)?.[1] ?? 0)
}

const skip = !canMount && 'mounting a tmpfs is not permitted here (needs root): the disk-full behaviour is not exercised'

t.test('disk full: 507 on upload, polls still answered, /healthz 503, and back by itself', { skip }, async (t) => {
  const mount = mountTmpfs(t, MOUNT_BYTES)
  if (!mount) throw new Error('the tmpfs mounted a moment ago no longer mounts')
  const dataDir = path.join(mount, 'data')
  const server = await startBuiltServer(t, dataDir, { ...STEADY_ENV, OTA_MIN_FREE_BYTES: String(1024 * 1024) })
  const target = { url: server.url, dataDir }
  await publishRelease(target, { version: 'mason', sequence: 3 })
  const releaser = (await publisherOf(target)).token
  const operator = await createToken(dataDir, 'operator')
  const url = (n: number) => `/v1/manifest?board=esp32cam&device=${deviceId(n)}&version=old&sequence=1`
  t.equal((await fetch(`${server.url}${url(0)}`)).status, 200, 'a poll before the disk fills')

  const filler = fillDisk(mount)
  t.teardown(() => fs.rmSync(filler, { force: true }))

  const health = await fetch(`${server.url}/healthz`)
  const healthBody = (await health.json()) as { error: string; message: string }
  t.equal(health.status, 503, '/healthz: 503 while the data folder is under OTA_MIN_FREE_BYTES')
  t.equal(healthBody.error, 'insufficient_storage')
  t.match(healthBody.message, /OTA_MIN_FREE_BYTES/, 'with the reason')

  // Upload: refused with 507, nothing half-written left behind.
  const image = buildEspImage({ version: 'carpenter', seed: 4, size: 400_000 })
  const upload = await put(server.url, releaser, image)
  const uploadBody = (await upload.json()) as { error: string }
  t.equal(upload.status, 507, 'an upload that runs out of space: 507')
  t.equal(uploadBody.error, 'insufficient_storage')
  t.same(fs.readdirSync(path.join(dataDir, 'tmp')), [], 'no partial file in tmp/')
  const sha = createHash('sha256').update(image).digest('hex')
  t.notOk(fs.existsSync(path.join(dataDir, 'artifacts', sha.slice(0, 2), `${sha}.bin`)), 'and none in the store')
  // The server's log reaches us through its stdout pipe, a moment after the answer.
  const diskFullLines = () => server.lines().filter((l) => l.level === 50 && /disk full/.test(String(l.msg)))
  for (let i = 0; diskFullLines().length === 0 && i < 100; i++) await new Promise((r) => setTimeout(r, 50))
  t.ok(diskFullLines().length >= 1, 'logged at error level')

  // Polls of new devices: each answered with its manifest, although their check-ins cannot all be written.
  let n = 1
  let failures = 0
  for (; n <= 400 && failures === 0; n++) {
    const res = await fetch(`${server.url}${url(n)}`)
    const body = (await res.json()) as { version?: string }
    if (res.status !== 200 || body.version !== 'mason') {
      t.fail(`poll ${n} answered ${res.status} ${JSON.stringify(body)}`)
      break
    }
    if (n % 20 === 0) failures = await scrapeFailures(server.url, operator)
  }
  failures = await scrapeFailures(server.url, operator)
  t.ok(failures > 0, `every poll got its manifest; ${failures} check-ins could not be written, counted in /metrics`)
  t.ok(server.lines().some((l) => l.level === 50 && /check-in not recorded/.test(String(l.msg))), 'each logged at error level')
  const fleetWhileFull = await getJson(server, '/v1/fleet/versions', operator)
  t.equal(fleetWhileFull.status, 200, 'a token still works while the disk is full')

  // Space freed: everything works again without a restart.
  fs.rmSync(filler)
  t.equal((await fetch(`${server.url}/healthz`)).status, 200, '/healthz 200 again')
  t.equal((await put(server.url, releaser, image)).status, 201, 'the upload goes through')
  const later = deviceId(9999)
  t.equal(await poll(server, { device: later, version: 'old', sequence: 1 }), 200)
  const seen = await getJson(server, `/v1/devices/${later}`, operator)
  t.equal(seen.status, 200, 'and check-ins are recorded again')
  t.equal(server.lines().filter((l) => Number(l.level) >= 60).length, 0, 'nothing fatal')
})
