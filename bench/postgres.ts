import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { openPostgres } from '../src/db/postgres'
import { postgresUnavailable, startPostgresCluster } from '../test/support/postgres-cluster'
import { BOARD, TARGET_SEQUENCE, seedPostgresFleet, versionOf } from './fleet-seed'
import { startNginxProxy } from './nginx'
import { makeCredentials, publish, startOtaServer } from './ota-server'
import type { WrkResult } from './parsers'
import { cpuSecondsWithExited, freePort, stop } from './processes'
import { MANIFEST_LUA, manifestArgs } from './wrk'

// `npm run bench -- --postgres`: the poll and check-in scenarios (1 and 5) on PostgreSQL, one
// instance and then two behind nginx, beside the SQLite figures of the same run.

/** A wrk run as run.ts measures it: CPU per answer of each process named, in their order. */
export type Measure = (
  name: string,
  pids: number[],
  base: string,
  script: string,
  args: Array<string | number>,
  connections: number,
  seconds?: number,
  warmArgs?: Array<string | number>
) => Promise<WrkResult & { cpuUs: number[]; answered: number }>

export interface PostgresResults {
  /** devices seeded into PostgreSQL, the manifest polls' fleet */
  devices: number
  seed_ms: number
  /** scenario 1 on one instance: seeded devices polling, each poll a check-in committed before its answer */
  manifest_one: PollFigures
  /** the same through nginx in front of two instances */
  manifest_two_nginx: PollFigures & { nginx_cpu_us_per_request: number }
  /** scenario 5 on one instance: devices never seen before */
  checkins: {
    per_s: number
    p99_ms: number
    cpu_us_per_checkin: number
    polls_answered: number
    recorded: number
    errors: number
  }
  /** PostgreSQL's own processes (every backend, the WAL writer, …) per request, over the one-instance runs */
  postgres_cpu_us_per_poll: number
  postgres_cpu_us_per_checkin: number
}

interface PollFigures {
  rps: number
  p50_ms: number
  p99_ms: number
  /** ota-gate processes (both instances behind nginx) per answer */
  cpu_us_per_request: number
  polls_answered: number
  /** devices whose last_seen moved from the warm-up on */
  checkins_recorded: number
  errors: number
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

export interface PostgresScenario {
  work: string
  nginxBin: string
  measure: Measure
  fleet: number
  imageSize: number
  checkinS: number
  connections: number
  /** device numbers of new devices (scenario 5's range is left alone) */
  newDevices: number
  /** node flags of the one-instance server (--profile: where its .cpuprofile goes) */
  nodeFlags: string[]
  log(msg: string): void
}

export async function postgresScenario(o: PostgresScenario): Promise<PostgresResults> {
  const reason = postgresUnavailable()
  if (reason) throw new Error(`--postgres: ${reason}`)
  // Durable as shipped: fsync and synchronous commit on, so a check-in's answer waits for its commit.
  const cluster = await startPostgresCluster({ durable: true })
  try {
    return await measureOn(o, cluster.createDatabase('bench'), () => clusterCpu(cluster.dir))
  } finally {
    cluster.remove()
  }
}

/** CPU seconds so far of the cluster's processes: the postmaster and its backends, those that exited too. */
function clusterCpu(dir: string): number {
  return cpuSecondsWithExited(Number(fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]))
}

async function measureOn(o: PostgresScenario, database: Promise<string>, postgresCpu: () => number): Promise<PostgresResults> {
  const url = await database
  const keyFile = path.join(o.work, 'pg-server-key.pem')
  fs.writeFileSync(keyFile, crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  // Every instance its own data folder (disk cache of binaries), one database, one server key.
  const settings = { OTA_DATABASE_URL: url, OTA_SERVER_KEY: keyFile }
  const folders = [path.join(o.work, 'pg-one'), path.join(o.work, 'pg-two')]
  for (const f of folders) fs.mkdirSync(f)
  const ports = [await freePort(), await freePort()]

  let one = await startOtaServer(folders[0], ports[0], [], settings)
  const creds = await makeCredentials(folders[0], settings)
  await publish(one.base, creds, versionOf(TARGET_SEQUENCE), TARGET_SEQUENCE, o.imageSize)
  await stop(one.child)
  const pool = openPostgres({ url, pool: 2 })
  try {
    o.log(`PostgreSQL: seeding ${o.fleet.toLocaleString('en-US')} devices`)
    const seed = await seedPostgresFleet(pool, o.fleet)
    o.log(`PostgreSQL: seeded in ${Math.round(seed.ms)} ms`)
    const countSince = async (column: 'last_seen' | 'first_seen', since: number) =>
      Number((await pool.query<{ n: number }>(`SELECT count(*) AS n FROM devices WHERE ${column} >= $1`, [since])).rows[0].n)

    one = await startOtaServer(folders[0], ports[0], o.nodeFlags, settings)
    const fleetArgs = (offset: number) => manifestArgs('/v1/manifest', BOARD, 0, o.fleet, offset)
    const polls = async (name: string, pids: number[], base: string, offset: number) => {
      const since = Date.now()
      const cpu0 = postgresCpu()
      const r = await o.measure(name, pids, base, MANIFEST_LUA, fleetArgs(offset + Math.floor(o.fleet / 4)), o.connections, undefined, fleetArgs(offset))
      const pgCpuUs = ((postgresCpu() - cpu0) * 1e6) / Math.max(r.answered, 1)
      // Committed before each answer: nothing waits to be flushed.
      const recorded = await countSince('last_seen', since)
      const expected = Math.min(r.answered, o.fleet)
      if (recorded < expected) o.log(`WARNING: ${expected} devices polled but only ${recorded} check-ins recorded`)
      return { r, recorded, pgCpuUs }
    }
    const figures = ({ r, recorded }: { r: WrkResult & { cpuUs: number[]; answered: number }; recorded: number }, instances: number): PollFigures => ({
      rps: round(r.rps, 0),
      p50_ms: round(r.p50Ms),
      p99_ms: round(r.p99Ms),
      cpu_us_per_request: round(r.cpuUs.slice(0, instances).reduce((a, b) => a + b, 0), 1),
      polls_answered: r.answered,
      checkins_recorded: recorded,
      errors: r.non2xx + r.socketErrors,
    })

    const single = await polls('pg-manifest-one', [one.pid], one.base, 0)

    const newArgs = (offset: number) => manifestArgs('/v1/manifest', BOARD, o.newDevices, 0x1000_0000, offset)
    const since = Date.now()
    const cpu0 = postgresCpu()
    const fresh = await o.measure('pg-checkins-new-devices', [one.pid], one.base, MANIFEST_LUA, newArgs(0), o.connections, o.checkinS, newArgs(0x0800_0000))
    const pgCheckinCpuUs = ((postgresCpu() - cpu0) * 1e6) / Math.max(fresh.answered, 1)
    const freshRecorded = await countSince('first_seen', since)
    if (freshRecorded < fresh.answered) o.log(`WARNING: ${fresh.answered} new devices answered but only ${freshRecorded} recorded`)

    const two = await startOtaServer(folders[1], ports[1], [], settings)
    const nginxPort = await freePort()
    const nginx = await startNginxProxy(o.nginxBin, path.join(o.work, 'pg-nginx'), nginxPort, ports)
    let pair
    try {
      pair = await polls('pg-manifest-two-nginx', [one.pid, two.pid, nginx.pid], `http://127.0.0.1:${nginxPort}`, Math.floor(o.fleet / 2))
    } finally {
      await stop(nginx)
      await stop(two.child, 30_000)
      await stop(one.child, 30_000)
    }
    return {
      devices: o.fleet,
      seed_ms: round(seed.ms, 0),
      manifest_one: figures(single, 1),
      manifest_two_nginx: { ...figures(pair, 2), nginx_cpu_us_per_request: round(pair.r.cpuUs[2], 1) },
      checkins: {
        per_s: round(fresh.answered > 0 ? (fresh.requests - fresh.non2xx) / fresh.durationS : 0, 0),
        p99_ms: round(fresh.p99Ms),
        cpu_us_per_checkin: round(fresh.cpuUs[0], 1),
        polls_answered: fresh.answered,
        recorded: freshRecorded,
        errors: fresh.non2xx + fresh.socketErrors,
      },
      postgres_cpu_us_per_poll: round(single.pgCpuUs, 1),
      postgres_cpu_us_per_checkin: round(pgCheckinCpuUs, 1),
    }
  } finally {
    await pool.end()
  }
}
