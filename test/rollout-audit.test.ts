import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { deviceId } from './support/devices'
import { eachBackend } from './support/backends'
import { publishRelease } from './support/publish'
import { offerFor, operatorToken } from './support/rollouts'
import { cli, createToken, startServer, tempDir } from './support/server'
import { call } from './support/http'
import { FLEET_NO_DELTAS_ENV } from './support/env'

interface Entry {
  id: number
  at: string
  actor: string
  action: string
  board: string | null
  channel: string | null
  version: string | null
  device: string | null
  reason: string | null
  details: Record<string, unknown>
}

eachBackend(t, 'the rollout commands over HTTP, with --json and tables, and every change in the audit log', async (t, backend) => {
  const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  const ops = await operatorToken(server, 'ops-dana')
  const env = { OTA_SERVER: server.url, OTA_TOKEN: ops }
  const started = Date.now()
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2, rolloutPercent: 10 })

  const status = await cli(['rollout', 'status', '--board', 'esp32cam', '--json'], env)
  t.equal(status.code, 0, status.stderr)
  t.match(JSON.parse(status.stdout), { board: 'esp32cam', channels: [{ channel: 'stable', current: { version: 'v2', percent: 10, state: 'active' } }] })
  const table = await cli(['rollout', 'status', '--board', 'esp32cam'], env)
  t.match(table.stdout, /CHANNEL\s+VERSION\s+SEQUENCE\s+PERCENT\s+STATE/)
  t.match(table.stdout, /stable\s+v2\s+2\s+10\s+active/)

  const set = await cli(['rollout', 'set', '--board', 'esp32cam', '--percent', '25', '--reason', 'canary is fine', '--json'], env)
  t.equal(set.code, 0, set.stderr)
  t.match(JSON.parse(set.stdout), { version: 'v2', percent: 25 })
  t.equal((await cli(['rollout', 'pause', '--board', 'esp32cam', '--reason', 'weekend'], env)).code, 0)
  const resumed = await cli(['rollout', 'resume', '--board', 'esp32cam', '--channel', 'stable'], env)
  t.match(resumed.stdout, /v2\s+2\s+25\s+active/)
  const policy = await cli(['rollout', 'policy', '--board', 'esp32cam', '--halt-min-count', '7', '--halt-min-ratio', '0.3', '--reason', 'noisy fleet', '--json'], env)
  t.equal(policy.code, 0, policy.stderr)
  t.same(JSON.parse(policy.stdout).policy, { default_percent: 100, halt_min_count: 7, halt_min_ratio: 0.3 })
  t.match((await cli(['rollout', 'policy', '--board', 'esp32cam'], env)).stdout, /esp32cam\s+stable\s+100\s+7\s+0\.3/, 'policy without changes shows it')

  const dir = tempDir(t)
  fs.writeFileSync(path.join(dir, 'lab.txt'), `# lab units\n${deviceId(3)}\n${deviceId(4)}\n`)
  const pinned = await cli(['rollout', 'pin', '--device', `${deviceId(1)},${deviceId(2)}`, '--devices-file', 'lab.txt', '--board', 'esp32cam', '--version', 'v1', '--reason', 'lab'], env, dir)
  t.equal(pinned.code, 0, pinned.stderr)
  t.equal(pinned.stdout.trim().split('\n').length, 5, 'a header and four pinned devices')
  t.match(await offerFor(server, deviceId(4), { version: 'v2', sequence: 2 }), { version: 'v1' })
  const unpinned = await cli(['rollout', 'unpin', '--device', deviceId(4), '--reason', 'back to the fleet', '--json'], env)
  t.equal(unpinned.code, 0, unpinned.stderr)
  t.match(JSON.parse(unpinned.stdout), { unpinned: [{ device: deviceId(4), version: 'v1' }] })
  const rb = await cli(['rollout', 'rollback', '--board', 'esp32cam', '--to', 'v1', '--reason', 'boot loop'], env)
  t.equal(rb.code, 0, rb.stderr)
  t.match(rb.stdout, /esp32cam\s+stable\s+v1\s+1/)
  await publishRelease(server, { version: 'v3', sequence: 3 })

  const audit = await cli(['audit', '--board', 'esp32cam', '--json'], env)
  t.equal(audit.code, 0, audit.stderr)
  const answer = JSON.parse(audit.stdout) as { entries: Entry[]; next_cursor: string | null }
  t.equal(answer.next_cursor, null, 'one page holds them all')
  const entries = answer.entries.reverse()
  t.same(
    entries.map((e) => [e.action, e.actor, e.reason]),
    [
      ['start', entries[0].actor, null],
      ['start', entries[0].actor, null],
      ['set_percent', 'ops-dana', 'canary is fine'],
      ['pause', 'ops-dana', 'weekend'],
      ['resume', 'ops-dana', null],
      ['policy', 'ops-dana', 'noisy fleet'],
      ['pin', 'ops-dana', 'lab'],
      ['unpin', 'ops-dana', 'back to the fleet'],
      ['rollback', 'ops-dana', 'boot loop'],
      ['start', entries[0].actor, null],
      ['clear_rollback', entries[0].actor, 'release v3 published'],
    ],
    'each change, in order, with who and why'
  )
  t.match(entries[0].actor, /^releaser-/, 'a publish is recorded under the releaser token’s name')
  t.match(entries[2].details, { from: 10, to: 25 })
  t.match(entries[6].details, { devices: [deviceId(1), deviceId(2), deviceId(3), deviceId(4)] })
  for (const e of entries) t.ok(Date.parse(e.at) >= started - 1000 && Date.parse(e.at) <= Date.now(), `${e.action} has its time`)

  const page1 = await call<{ entries: Entry[]; next_cursor: string | null }>(server, 'GET', '/v1/audit?board=esp32cam&limit=4', ops)
  t.equal(page1.body.entries.length, 4)
  t.type(page1.body.next_cursor, 'string')
  const page2 = await call<{ entries: Entry[] }>(server, 'GET', `/v1/audit?board=esp32cam&limit=4&cursor=${page1.body.next_cursor}`, ops)
  t.ok(page2.body.entries[0].id < page1.body.entries[3].id, 'the next page goes on where the first ended')
  const last = await call<{ entries: Entry[]; next_cursor: string | null }>(server, 'GET', `/v1/audit?board=esp32cam&limit=4&cursor=${page2.body.entries[3].id}`, ops)
  t.equal(last.body.entries.length, 3, '11 entries: 4, 4 and 3')
  t.equal(last.body.next_cursor, null, 'the last page says so')
  const tableAudit = await cli(['audit', '--board', 'esp32cam', '--limit', '2'], env)
  t.match(tableAudit.stdout, /AT\s+ACTOR\s+ACTION/)
  t.match(tableAudit.stdout, /more: --cursor \d+/)
})

eachBackend(t, 'a releaser cannot change rollouts; bad flags are usage errors', async (t, backend) => {
  const server = await startServer(t, { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) })
  await publishRelease(server, { version: 'v1', sequence: 1 })
  const releaser = await createToken(server.dataDir, 'releaser', 'rel-erin')
  const env = { OTA_SERVER: server.url, OTA_TOKEN: releaser }
  const refused = await cli(['rollout', 'set', '--board', 'esp32cam', '--percent', '50'], env)
  t.equal(refused.code, 1)
  t.match(refused.stderr, /role operator or admin.*403 forbidden/)
  t.match(await call(server, 'POST', '/v1/rollouts/esp32cam/stable/pause', releaser, {}), { status: 403, body: { error: 'forbidden' } })
  t.match(await call(server, 'PUT', '/v1/pins', releaser, { devices: [deviceId(1)], board: 'esp32cam', version: 'v1' }), { status: 403 })
  t.match(await call(server, 'GET', '/v1/audit', releaser), { status: 403 })
  t.equal((await cli(['rollout', 'status', '--board', 'esp32cam'], env)).code, 0, 'reading rollouts is fine for a releaser')

  t.equal((await cli(['rollout', 'set', '--board', 'esp32cam', '--percent', '150'], env)).code, 2)
  t.equal((await cli(['rollout', 'pin', '--board', 'esp32cam', '--version', 'v1'], env)).code, 2, 'pin needs devices')
  t.equal((await cli(['rollout', 'pin', '--device', 'xyz', '--board', 'esp32cam', '--version', 'v1'], env)).code, 2)
  t.equal((await cli(['rollout', 'rollback', '--board', 'esp32cam'], env)).code, 2, 'rollback needs --to')
  const admin = await createToken(server.dataDir, 'admin', 'root')
  const notEarlier = await cli(['rollout', 'rollback', '--board', 'esp32cam', '--to', 'v1'], { OTA_SERVER: server.url, OTA_TOKEN: admin })
  t.equal(notEarlier.code, 1)
  t.match(notEarlier.stderr, /not earlier than v1.*409 rollout_conflict/)
})
