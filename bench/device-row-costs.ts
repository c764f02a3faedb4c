import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Database } from 'better-sqlite3'
import { BOARD, CHANNEL, TARGET_SEQUENCE, deviceId, seedFleet, seededSequence, versionOf } from './fleet-seed'
import { databasePath, openDatabase } from '../src/db/open'
import { migrate, readMigrations } from '../src/db/migrate'
import { PROJECT_ROOT } from './processes'
import { systemClock } from '../src/clock'
import { DevicesRepository } from '../src/repositories/devices'
import type { CheckIn } from '../src/repositories/device-rows'
import { median } from './parsers'
import { scatterStride } from './wrk'

// `npm run bench:rows [-- --fleet N]`: what a check-in costs in SQLite alone (no HTTP), in CPU µs,
// through ota-gate's own DevicesRepository over a seeded fleet, for the schema as shipped and for
// the layouts of the devices table that issue 20's notes weighed. Each layout gets a database of
// its own; the layouts run in turn three times, and the median and the spread are printed, since
// the machine's speed moves between rounds. Checkpoints run on the same connection, as SQLite takes
// them where no worker does: their CPU counts here as the server's worker thread's counts in its process.

interface Layout {
  name: string
  /** changes the seeded, migrated database into this layout */
  apply(db: Database): void
}

const LAST_SEEN_INDEX = 'devices_channel_last_seen'

const LAYOUTS: Layout[] = [
  { name: 'as shipped', apply: () => undefined },
  {
    name: 'devices WITHOUT ROWID',
    apply: (db) => {
      const sqlOf = (type: string) =>
        db.prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'devices' AND type = ? AND sql IS NOT NULL").pluck().all(type) as string[]
      const table = sqlOf('table')[0]
      const dependents = [...sqlOf('index'), ...sqlOf('trigger')]
      // SQLite's way to change a table's kind: a new table, the rows copied, the old one dropped.
      db.pragma('foreign_keys = OFF')
      db.transaction(() => {
        db.exec(table.replace(/^CREATE TABLE devices/, 'CREATE TABLE devices_rebuilt').replace(/\)\s*$/, ') WITHOUT ROWID'))
        db.exec('INSERT INTO devices_rebuilt SELECT * FROM devices')
        db.exec('DROP TABLE devices')
        db.exec('ALTER TABLE devices_rebuilt RENAME TO devices')
        for (const sql of dependents) db.exec(sql)
      })()
      db.pragma('foreign_keys = ON')
    },
  },
  {
    name: 'last_seen index by the hour',
    apply: (db) => {
      db.exec(`DROP INDEX ${LAST_SEEN_INDEX}`)
      db.exec(`CREATE INDEX ${LAST_SEEN_INDEX} ON devices (board, channel, last_seen / 3600000)`)
    },
  },
  { name: 'no last_seen index', apply: (db) => db.exec(`DROP INDEX ${LAST_SEEN_INDEX}`) },
]

const STEADY_POLLS = 100_000
const NEW_DEVICES = 50_000
/** The numbers new devices are drawn from, past the fleet's. */
const NEW_DEVICE_SPAN = 0x4000_0000
const ROUNDS = 3
/** Check-ins started before their turn ends: about what 64 connections bring in one turn. */
const PER_TURN = 64

interface Costs {
  steady_us: number
  new_device_us: number
}

/** CPU µs per item of `items`, checked in PER_TURN at a time as the server's polls arrive. */
async function cpuPerCheckIn(devices: DevicesRepository, items: CheckIn[]): Promise<number> {
  const before = process.cpuUsage()
  for (let i = 0; i < items.length; i += PER_TURN) {
    await Promise.all(items.slice(i, i + PER_TURN).map((c) => devices.checkIn(c)))
  }
  if (!devices.flushRefreshes()) throw new Error('the last refreshes could not be written')
  const used = process.cpuUsage(before)
  return (used.user + used.system) / items.length
}

/** A check-in of device n as the seeded fleet has it: version, address and user agent unchanged. */
function checkIn(n: number): CheckIn {
  const sequence = seededSequence(n)
  return {
    device: deviceId(n),
    board: BOARD,
    channel: CHANNEL,
    version: versionOf(sequence),
    sequence,
    address: '10.1.2.3',
    userAgent: 'ESP32 HTTP Client/1.0',
    offeredReleaseId: null,
  }
}

async function measure(layout: Layout, fleet: number): Promise<Costs> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-gate-rows-'))
  try {
    // Compiled under build/bench/, the migrations are not beside the code: read from the project.
    const setup = openDatabase(dir, { migrate: false })
    migrate(setup, readMigrations(path.join(PROJECT_ROOT, 'migrations')))
    const now = Date.now()
    // The migrations may have made the board already.
    setup.prepare("INSERT INTO boards (name, chip, chip_id, slot_size, created_at) VALUES (?, 'esp32', 0, 1966080, ?) ON CONFLICT (name) DO NOTHING").run(BOARD, now)
    setup
      .prepare("INSERT INTO releases (board, channel, version, sequence, tag, commit_sha, provenance, created_at) VALUES (?, ?, ?, ?, ?, ?, 'imported', ?)")
      .run(BOARD, CHANNEL, versionOf(TARGET_SEQUENCE), TARGET_SEQUENCE, `prod-${TARGET_SEQUENCE}`, '0'.repeat(40), now)
    setup.close()
    seedFleet(databasePath(dir), fleet, now)
    const db = openDatabase(dir, { migrate: false })
    try {
      layout.apply(db)
      db.pragma('wal_checkpoint(TRUNCATE)')
      const devices = new DevicesRepository(db, systemClock)
      // In the order of the benchmark's polls (bench/wrk.ts), no two neighbours in a row: devices on
      // the target (their polls only refresh), then devices never seen, numbered past the fleet.
      const stride = scatterStride(fleet)
      const steady: CheckIn[] = []
      for (let k = 0; steady.length < STEADY_POLLS; k++) {
        const n = (k * stride) % fleet
        if (seededSequence(n) === TARGET_SEQUENCE) steady.push(checkIn(n))
      }
      const newStride = scatterStride(NEW_DEVICE_SPAN)
      const fresh = Array.from({ length: NEW_DEVICES }, (_, k) => checkIn(fleet + ((k * newStride) % NEW_DEVICE_SPAN)))
      const costs = { steady_us: await cpuPerCheckIn(devices, steady), new_device_us: await cpuPerCheckIn(devices, fresh) }
      devices.close()
      return costs
    } finally {
      db.close()
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const at = args.indexOf('--fleet')
  const fleet = at >= 0 ? Number(args[at + 1]) : 1_000_000
  if (!Number.isInteger(fleet) || fleet < 1000) throw new Error('--fleet needs a whole number of devices, at least 1000')
  const rounds = new Map<string, Costs[]>(LAYOUTS.map((l) => [l.name, []]))
  // Not reported: the first measurement of a process also pays for compiling its hot paths.
  await measure(LAYOUTS[0], 10_000)
  for (let round = 1; round <= ROUNDS; round++) {
    for (const layout of LAYOUTS) {
      const costs = await measure(layout, fleet)
      rounds.get(layout.name)?.push(costs)
      process.stderr.write(`round ${round}, ${layout.name}: steady ${costs.steady_us.toFixed(1)} µs, new device ${costs.new_device_us.toFixed(1)} µs\n`)
    }
  }
  const span = (values: number[]) => `${median(values).toFixed(1)} (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})`
  console.log(`CPU µs per check-in in SQLite, ${fleet.toLocaleString('en-US')} devices: median of ${ROUNDS} rounds (lowest–highest)\n`)
  console.log('| layout of devices | steady poll (refresh only) | new device |')
  console.log('|---|---|---|')
  for (const [name, costs] of rounds) {
    console.log(`| ${name} | ${span(costs.map((c) => c.steady_us))} | ${span(costs.map((c) => c.new_device_us))} |`)
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
