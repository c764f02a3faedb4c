import path from 'node:path'
import t from 'tap'
import { FLEET_ENV } from './support/env'
import { getJson } from './support/http'
import { postgres } from './support/postgres'
import { publishRelease } from './support/publish'
import { createToken, startServer } from './support/server'

// Backup and restore on PostgreSQL are pg_dump and pg_restore (docs/postgres.md): a restored
// database serves devices and operators as the original did.
t.test('pg_dump -Fc, pg_restore into an empty database: the same releases, devices and tokens', async (t) => {
  const pg = await postgres(t)
  if (!pg) return
  const url = await pg.createDatabase()
  const first = await startServer(t, { ...FLEET_ENV, OTA_DATABASE_URL: url })
  await publishRelease(first, { version: 'mason', sequence: 3 })
  const token = await createToken(first.dataDir, 'operator', 'ops')
  const manifest = async (server: { url: string }) => {
    const res = await fetch(`${server.url}/v1/manifest?board=esp32cam&device=a0b1c2d3e4f5&version=carder&sequence=2`)
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const before = await manifest(first)
  t.equal(before.status, 200)
  const fleetBefore = await getJson(first, '/v1/devices/a0b1c2d3e4f5', token)
  t.equal(fleetBefore.status, 200)
  await first.close()

  const dump = path.join(pg.dir, 'ota.dump')
  pg.run('pg_dump', ['-Fc', '-f', dump, '-d', url])
  const restored = await pg.createDatabase()
  pg.run('pg_restore', ['--no-owner', '-d', restored, dump])

  // The same data folder (it holds the binaries and the server key), the restored database.
  const second = await startServer(t, { ...FLEET_ENV, OTA_DATABASE_URL: restored }, { dataDir: first.dataDir })
  const after = await manifest(second)
  t.equal(after.status, 200)
  t.match(after.body, { version: before.body.version, sequence: before.body.sequence, sha256: before.body.sha256, url: String(before.body.url).replace(first.url, second.url) })
  const fleetAfter = await getJson(second, '/v1/devices/a0b1c2d3e4f5', token)
  t.equal(fleetAfter.status, 200, 'the operator token works on the restored database')
  t.match(fleetAfter.body, { device: 'a0b1c2d3e4f5', first_seen: (fleetBefore.body as { first_seen: string }).first_seen })
  const releases = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM releases', [], new URL(restored).pathname.slice(1))
  t.same(releases, [{ n: 1 }])
  const migrations = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations', [], new URL(restored).pathname.slice(1))
  t.ok(migrations[0].n >= 1, 'the restored database knows its migrations: the next start applies none again')
})
