import BetterSqlite3 from 'better-sqlite3'
import type pg from 'pg'
import { one, transaction, unnestRows } from '../src/db/postgres'
import { DEFAULT_CHANNEL } from '../src/schemas/common'

// The fleet the benchmark seeds: device number n is the MAC n in 12 hex digits. What each device
// runs is a function of n, written once in TypeScript (seeding) and once in Lua (the manifest polls
// of wrk.ts), so that a poll names the version its device really runs.

export const BOARD = 'esp32cam'
export const CHANNEL = DEFAULT_CHANNEL
/** The release the benchmark publishes: most of the seeded fleet already runs it. */
export const TARGET_SEQUENCE = 12
export const versionOf = (sequence: number) => `v${sequence}`

/** 70% on the target, 15% one behind, 8% two behind, the rest spread over v1…v9. */
export function seededSequence(n: number): number {
  const b = n % 100
  if (b < 70) return TARGET_SEQUENCE
  if (b < 85) return TARGET_SEQUENCE - 1
  if (b < 93) return TARGET_SEQUENCE - 2
  return 1 + (n % 9)
}

export const SEEDED_VERSION_LUA = `
function seeded_sequence(d)
  local b = d % 100
  if b < 70 then return ${TARGET_SEQUENCE} elseif b < 85 then return ${TARGET_SEQUENCE - 1} elseif b < 93 then return ${TARGET_SEQUENCE - 2} end
  return 1 + d % 9
end
`

export const deviceId = (n: number) => n.toString(16).padStart(12, '0')

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** 85% seen within the last day, the rest 27 hours to a month ago (stale under the default 26h). */
export function seededLastSeen(n: number, now: number): number {
  if ((n * 7919) % 1000 < 850) return now - ((n * 104_729) % 86_400) * 1000
  return now - 27 * HOUR - (n % 30) * DAY
}

/** Seeded device n: its row in devices (an offer of the target too when `last_offered` is set). */
function seededDevice(n: number, now: number, targetId: number) {
  const sequence = seededSequence(n)
  const lastSeen = seededLastSeen(n, now)
  return {
    device: deviceId(n),
    version: versionOf(sequence),
    sequence,
    address: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
    first_seen: lastSeen - 30 * DAY,
    last_seen: lastSeen,
    polls: 1 + (n % 500),
    last_offered: sequence < TARGET_SEQUENCE ? targetId : null,
  }
}

/**
 * Writes `count` devices straight into the database of a stopped server (migrated already), in one
 * transaction with one prepared statement. The devices table's secondary indexes and its insert
 * trigger are dropped for the load and recreated from their own SQL (sqlite_master) afterwards:
 * building an index by sorting is many times faster than a million inserts at random places. The
 * version counts the trigger keeps are filled with the same GROUP BY migration 002 uses, so they are
 * what the server itself would have kept. No history rows: the fleet queries measured do not read them.
 * Devices behind the published target have already been offered it (their `last_offered` and their
 * offer in device_releases), as in a fleet that has polled since the release: their polls, like
 * those of devices on the target, only prove them alive.
 */
export function seedFleet(dbFile: string, count: number, now = Date.now()): { ms: number } {
  const t0 = performance.now()
  const db = new BetterSqlite3(dbFile)
  try {
    db.pragma('journal_mode = WAL')
    // Test data: a crash while seeding means seeding again.
    db.pragma('synchronous = OFF')
    db.pragma('cache_size = -512000')
    const existing = (db.prepare('SELECT count(*) AS n FROM devices').get() as { n: number }).n
    if (existing > 0) throw new Error(`the database already has ${existing} devices: seed a fresh one`)
    const deferred = db
      .prepare(`SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'devices' AND sql IS NOT NULL
        AND (type = 'index' OR (type = 'trigger' AND sql LIKE '%AFTER INSERT ON devices%'))`)
      .all() as Array<{ type: 'index' | 'trigger'; name: string; sql: string }>
    const target = db.prepare('SELECT id FROM releases WHERE board = ? AND sequence = ?').get(BOARD, TARGET_SEQUENCE) as { id: number } | undefined
    if (!target) throw new Error(`publish ${versionOf(TARGET_SEQUENCE)} before seeding: behind devices have been offered it`)
    const insert = db.prepare(`INSERT INTO devices
      (device, board, channel, version, sequence, address, user_agent, first_seen, last_seen, polls, last_offered)
      VALUES (?, ?, ?, ?, ?, ?, 'ESP32 HTTP Client/1.0', ?, ?, ?, ?)`)
    const offer = db.prepare('INSERT INTO device_releases (release_id, device, from_version, from_sequence, offered_at) VALUES (?, ?, ?, ?, ?)')
    db.transaction(() => {
      for (const d of deferred) db.exec(`DROP ${d.type.toUpperCase()} ${d.name}`)
      for (let n = 0; n < count; n++) {
        const d = seededDevice(n, now, target.id)
        insert.run(d.device, BOARD, CHANNEL, d.version, d.sequence, d.address, d.first_seen, d.last_seen, d.polls, d.last_offered)
        if (d.last_offered !== null) offer.run(target.id, d.device, d.version, d.sequence, d.last_seen)
      }
      db.exec(`INSERT INTO fleet_versions (board, channel, version, sequence, devices)
        SELECT board, channel, version, sequence, count(*) FROM devices GROUP BY board, channel, version, sequence`)
      for (const d of deferred) db.exec(d.sql)
    })()
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
  return { ms: performance.now() - t0 }
}

const SEED_COLUMNS = {
  device: 'text',
  version: 'text',
  sequence: 'bigint',
  address: 'text',
  first_seen: 'bigint',
  last_seen: 'bigint',
  polls: 'bigint',
  last_offered: 'bigint',
} as const

/** Devices a multi-row INSERT of the PostgreSQL seeding writes. */
const PG_SEED_CHUNK = 20_000

/**
 * The same fleet as seedFleet, into the PostgreSQL database of a stopped server (migrated, the
 * target published): chunks of multi-row INSERTs in one transaction, the version-count trigger off
 * meanwhile and the counts filled by one GROUP BY afterwards, as on SQLite.
 */
export async function seedPostgresFleet(pool: pg.Pool, count: number, now = Date.now()): Promise<{ ms: number }> {
  const t0 = performance.now()
  await transaction(pool, async (q) => {
    const existing = await one<{ n: number }>(q, 'SELECT count(*) AS n FROM devices')
    if (existing?.n) throw new Error(`the database already has ${existing.n} devices: seed a fresh one`)
    const target = await one<{ id: number }>(q, 'SELECT id FROM releases WHERE board = $1 AND sequence = $2', [BOARD, TARGET_SEQUENCE])
    if (!target) throw new Error(`publish ${versionOf(TARGET_SEQUENCE)} before seeding: behind devices have been offered it`)
    await q.query('ALTER TABLE devices DISABLE TRIGGER USER')
    for (let first = 0; first < count; first += PG_SEED_CHUNK) {
      const rows = Array.from({ length: Math.min(PG_SEED_CHUNK, count - first) }, (_, i) => seededDevice(first + i, now, target.id))
      const v = unnestRows('v', SEED_COLUMNS, rows, 3)
      await q.query(
        `INSERT INTO devices (device, board, channel, version, sequence, address, user_agent, first_seen, last_seen, polls, last_offered)
         SELECT device, $1, $2, version, sequence, address, 'ESP32 HTTP Client/1.0', first_seen, last_seen, polls, last_offered FROM ${v.sql}`,
        [BOARD, CHANNEL, ...v.params]
      )
      const o = unnestRows('v', SEED_COLUMNS, rows)
      await q.query(
        `INSERT INTO device_releases (release_id, device, from_version, from_sequence, offered_at)
         SELECT last_offered, device, version, sequence, last_seen FROM ${o.sql} WHERE last_offered IS NOT NULL`,
        o.params
      )
    }
    await q.query('ALTER TABLE devices ENABLE TRIGGER USER')
    await q.query(`INSERT INTO fleet_versions (board, channel, version, sequence, devices)
      SELECT board, channel, version, sequence, count(*) FROM devices GROUP BY board, channel, version, sequence`)
  })
  await pool.query('ANALYZE')
  return { ms: performance.now() - t0 }
}
