import t from 'tap'
import { openDatabase } from '../src/db/open'
import { createRepositories } from '../src/repositories'
import { tempDir } from './support/server'

// Check-ins at the repository: the device row follows every poll, history only what it runs.

function openRepos(t: Parameters<typeof tempDir>[0]) {
  const db = openDatabase(tempDir(t))
  t.teardown(() => db.close())
  return { db, repos: createRepositories(db) }
}

const base = {
  device: 'a0b1c2d3e4f5',
  board: 'esp32cam',
  channel: 'stable',
  address: '192.0.2.7',
  userAgent: 'hivehive-ota/1.0',
  offeredReleaseId: null,
}

t.test('every poll updates the device row; history grows only when what it runs changes', async (t) => {
  const { db, repos } = openRepos(t)
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, freeSpace: 1966080, at: 1000 })
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, address: '192.0.2.8', at: 2000 })
  await repos.devices.checkIn({ ...base, version: 'mason', sequence: 3, note: 'too little free space', at: 3000 })
  let row = db.prepare('SELECT * FROM devices WHERE device = ?').get(base.device) as Record<string, unknown>
  t.match(row, { first_seen: 1000, last_seen: 3000, polls: 3, address: '192.0.2.7', free_space: 1966080, note: 'too little free space' })
  t.equal(
    (db.prepare('SELECT count(*) AS n FROM device_history WHERE device = ?').get(base.device) as { n: number }).n,
    1,
    'a new device has one history row; unchanged polls add none'
  )

  await repos.devices.checkIn({ ...base, version: 'leafcutter', sequence: 4, at: 4000 })
  await repos.devices.checkIn({ ...base, version: 'leafcutter', sequence: 4, at: 5000 })
  await repos.devices.checkIn({ ...base, channel: 'beta', version: 'leafcutter', sequence: 4, at: 6000 })
  row = db.prepare('SELECT * FROM devices WHERE device = ?').get(base.device) as Record<string, unknown>
  t.match(row, { first_seen: 1000, last_seen: 6000, polls: 6, version: 'leafcutter', sequence: 4, channel: 'beta', note: null })
  t.equal(row.free_space, 1966080, 'free space is kept when a poll does not send it')
  const history = db.prepare('SELECT channel, version, sequence, at FROM device_history WHERE device = ? ORDER BY id').all(base.device)
  t.same(history, [
    { channel: 'stable', version: 'mason', sequence: 3, at: 1000 },
    { channel: 'stable', version: 'leafcutter', sequence: 4, at: 4000 },
    { channel: 'beta', version: 'leafcutter', sequence: 4, at: 6000 },
  ])
  t.same(db.prepare('SELECT board, channel, version, sequence, devices FROM fleet_versions').all(), [
    { board: 'esp32cam', channel: 'beta', version: 'leafcutter', sequence: 4, devices: 1 },
  ], 'the version counts follow the device')
})

t.test('legacy polls are counted per address and user agent', async (t) => {
  const { db, repos } = openRepos(t)
  await repos.devices.recordLegacyPoll('192.0.2.1', 'hivehive-ota/1.0')
  await repos.devices.recordLegacyPoll('192.0.2.1', 'hivehive-ota/1.0')
  await repos.devices.recordLegacyPoll('192.0.2.2', 'hivehive-ota/1.0')
  t.same(
    db.prepare('SELECT address, polls FROM legacy_clients ORDER BY address').all(),
    [
      { address: '192.0.2.1', polls: 2 },
      { address: '192.0.2.2', polls: 1 },
    ]
  )
})
