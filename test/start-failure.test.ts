import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import t, { type Test } from 'tap'
import { databasePath } from '../src/db/open'
import { failedBuiltServerStart, freePort, startBuiltServer } from './support/built-server'
import { tempDir } from './support/server'

// A start that fails prints one line a person can act on and exits non-zero (systemd's
// Restart=on-failure needs the status). The server runs as production runs it: dist/server.js.

function oneLine(t: Test, stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '')
  t.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`)
  t.match(lines[0] ?? '', pattern)
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
}

t.test('port already taken: one line naming the address and OTA_PORT, exit 1', async (t) => {
  const port = await freePort()
  const taken = net.createServer()
  await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve))
  t.teardown(() => taken.close())
  const r = await failedBuiltServerStart({ OTA_DATA_DIR: tempDir(t), OTA_PORT: String(port) })
  t.equal(r.code, 1)
  oneLine(t, r.stderr, new RegExp(`^ota-gate: cannot start: 127\\.0\\.0\\.1:${port} is already in use .*OTA_PORT`))
})

t.test('bad configuration: one line naming every bad variable, exit 1', async (t) => {
  const r = await failedBuiltServerStart({ OTA_DATA_DIR: tempDir(t), OTA_PORT: 'eighty', OTA_LOG_FORMAT: 'fancy' })
  t.equal(r.code, 1)
  oneLine(t, r.stderr, /^ota-gate: cannot start: invalid configuration: .*OTA_PORT="eighty".*OTA_LOG_FORMAT="fancy"/)
})

t.test('unreadable database: one line naming the file, exit 1', async (t) => {
  const dir = tempDir(t)
  fs.writeFileSync(databasePath(dir), 'this is not an SQLite database, it is a text file that someone copied here by mistake'.repeat(20))
  const r = await failedBuiltServerStart({ OTA_DATA_DIR: dir, OTA_PORT: String(await freePort()) })
  t.equal(r.code, 1)
  oneLine(t, r.stderr, new RegExp(`^ota-gate: cannot start: ${databasePath(dir).replace(/[.]/g, '\\.')} is not a readable SQLite database`))
})

t.test('a data folder that is a file: one line, exit 1', async (t) => {
  const file = path.join(tempDir(t), 'not-a-folder')
  fs.writeFileSync(file, 'x')
  const r = await failedBuiltServerStart({ OTA_DATA_DIR: file, OTA_PORT: String(await freePort()) })
  t.equal(r.code, 1)
  oneLine(t, r.stderr, /^ota-gate: cannot start: /)
})

t.test('OTA_LOG_FORMAT=pretty: readable lines for a person; JSON by default', async (t) => {
  const pretty = await startBuiltServer(t, tempDir(t), { OTA_LOG_FORMAT: 'pretty', OTA_LOG_LEVEL: 'info' })
  await fetch(`${pretty.url}/healthz`)
  t.match(pretty.output(), /INFO.*manifest signing key loaded/)
  t.equal(pretty.lines().length, 0, 'no JSON line')
  const json = await startBuiltServer(t, tempDir(t), { OTA_LOG_LEVEL: 'info' })
  t.ok(json.lines().some((l) => l.msg === 'manifest signing key loaded'), 'JSON lines by default')
})
