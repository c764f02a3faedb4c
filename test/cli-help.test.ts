import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { closest } from '../src/cli/flags'
import { cli, tempDir } from './support/server'

// Finding one's way in the command line: --version, help for one command or a group, --help
// anywhere, a suggestion for a mistyped flag or command, and exit 2 for every usage error.

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }

t.test('--version prints the package version', async (t) => {
  const r = await cli(['--version'], {})
  t.equal(r.code, 0)
  t.equal(r.stdout, `ota-gate ${pkg.version}\n`)
})

t.test('help COMMAND, COMMAND --help, and a group (token --help) show usage, exit 0', async (t) => {
  const help = await cli(['help', 'fleet', 'legacy'], {})
  t.equal(help.code, 0)
  t.match(help.stdout, /^usage: ota-gate fleet legacy \[--stale-after 26h\]/)
  const flag = await cli(['fleet', 'legacy', '--help'], {})
  t.equal(flag.code, 0)
  t.equal(flag.stdout, help.stdout, 'the same text either way')

  for (const argv of [['token', '--help'], ['help', 'token'], ['token', '-h']]) {
    const group = await cli(argv, {})
    t.equal(group.code, 0, `${argv.join(' ')}: ${group.stderr}`)
    t.match(group.stdout, /^commands of ota-gate token:\n/)
    for (const c of ['token create --role', 'token list', 'token revoke NAME']) t.match(group.stdout, `ota-gate ${c}`)
  }
  const all = await cli(['help'], {})
  t.equal(all.code, 0)
  t.match(all.stdout, /ota-gate fleet legacy/)
  t.match(all.stdout, /ota-gate db copy --to postgres:\/\/USER:PASSWORD@HOST:5432\/DB \[--json\]\n\s+copy the SQLite installation under OTA_DATA_DIR/)
  t.match(all.stdout, /Exit status: 0 done, 1 refused .*, 2 usage error or unreadable input/)
  const none = await cli([], {})
  t.equal(none.code, 2, 'no command at all is a usage error')
})

t.test('a mistyped flag or command gets the closest one; unexpected arguments are refused; all exit 2', async (t) => {
  const flag = await cli(['fleet', 'devices', '--stal', '24h'], {})
  t.equal(flag.code, 2)
  t.match(flag.stderr, /^ota-gate fleet devices: unknown flag --stal: did you mean --stale\?\nusage: ota-gate fleet devices /)
  const far = await cli(['fleet', 'devices', '--colour'], {})
  t.equal(far.code, 2)
  t.match(far.stderr, /unknown flag --colour\n/, 'nothing near: no suggestion')
  const value = await cli(['fleet', 'devices', '--stale'], {})
  t.equal(value.code, 2)
  t.match(value.stderr, /--stale needs a value/)
  const extra = await cli(['fleet', 'versions', 'esp32cam'], {})
  t.equal(extra.code, 2)
  t.match(extra.stderr, /unexpected argument "esp32cam": this command takes only flags/)
  const command = await cli(['fleet', 'version'], {})
  t.equal(command.code, 2)
  t.match(command.stderr, /unknown command "fleet version": did you mean "fleet versions"\?/)

  t.equal(closest('sequnce', ['sequence', 'skip', 'current-json']), 'sequence')
  t.equal(closest('current-bn', ['current-json', 'current-bin']), 'current-bin')
  t.equal(closest('zzz', ['sequence', 'skip']), undefined)
})

t.test('a file a flag names that cannot be read is a usage error naming the flag', async (t) => {
  const dir = tempDir(t)
  const missing = await cli(['release', 'verify', '--board', 'esp32cam', '--file', 'nope.bin', '--chip', 'esp32', '--slot-size', '1966080'], {}, dir)
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--file nope\.bin: no such file/)
  const folder = await cli(['release', 'verify', '--board', 'esp32cam', '--file', dir, '--chip', 'esp32', '--slot-size', '1966080'], {}, dir)
  t.equal(folder.code, 2)
  t.match(folder.stderr, /is a folder, not a file/)
})

t.test('one exit-code rule: every file named on the command line that cannot be read exits 2, before anything is done', async (t) => {
  const dir = tempDir(t)
  const env = { OTA_DATA_DIR: path.join(dir, 'data'), OTA_SERVER: 'http://127.0.0.1:9', OTA_TOKEN: 'unused' }
  const cases: Array<[string[], RegExp]> = [
    [['keys', 'trust', 'missing.pub'], /missing\.pub: no such file/],
    [['release', 'verify', '--board', 'esp32cam', '--file', 'missing.bin', '--chip', 'esp32', '--slot-size', '1966080'], /--file missing\.bin: no such file/],
    [['delta', 'make', 'missing-base.bin', 'missing-new.bin', 'out.patch'], /missing-base\.bin: no such file/],
    [['device', 'allow', '--file', 'missing.txt'], /--file missing\.txt: no such file/],
    [['rollout', 'pin', '--devices-file', 'missing.txt', '--board', 'esp32cam', '--version', 'mason'], /--devices-file missing\.txt: no such file/],
  ]
  for (const [argv, message] of cases) {
    const run = await cli(argv, env, dir)
    t.equal(run.code, 2, `${argv.slice(0, 2).join(' ')}: exit 2`)
    t.match(run.stderr, message)
  }
  t.notOk(fs.existsSync(path.join(dir, 'out.patch')), 'delta make wrote nothing')
})
