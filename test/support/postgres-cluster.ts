import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Client } from 'pg'
import { freePort } from './built-server'

// A throwaway PostgreSQL cluster (tests and the benchmark): initdb into a temporary folder, a free
// loopback port, its unix socket in that folder, removed by its owner or when the owning process
// exits. test/support/postgres.ts gives each test file one; each test takes a database of its own,
// cloned from template0, which costs a few milliseconds.

const SUPERUSER = 'postgres'

/** The folder holding initdb, pg_ctl, pg_dump and pg_restore of the newest PostgreSQL installed. */
export function postgresBinDir(): string | undefined {
  const candidates: string[] = []
  if (process.env.OTA_TEST_PG_BIN) candidates.push(process.env.OTA_TEST_PG_BIN)
  const root = '/usr/lib/postgresql'
  if (fs.existsSync(root)) {
    const versions = fs
      .readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
    candidates.push(...versions.map((v) => path.join(root, v, 'bin')))
  }
  // pg_config knows where its own installation's programs are (other distributions, source builds)
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' })
  if (pgConfig.status === 0) candidates.push(pgConfig.stdout.trim())
  return candidates.find((dir) => ['initdb', 'pg_ctl', 'postgres'].every((p) => fs.existsSync(path.join(dir, p))))
}

interface Runner {
  /** runs a PostgreSQL program as the cluster's owner */
  argv(program: string, args: string[]): [string, string[]]
  uid?: number
  gid?: number
}

/** initdb refuses root: as root, the programs run as the `postgres` user through runuser. */
function runner(bin: string): Runner | string {
  const getuid = process.getuid?.bind(process)
  if (!getuid || getuid() !== 0) return { argv: (p, args) => [path.join(bin, p), args] }
  const who = spawnSync('id', ['-u', SUPERUSER], { encoding: 'utf8' })
  const group = spawnSync('id', ['-g', SUPERUSER], { encoding: 'utf8' })
  if (who.status !== 0 || group.status !== 0) return `running as root and there is no "${SUPERUSER}" user to run initdb as`
  const probe = spawnSync('runuser', ['-u', SUPERUSER, '--', 'true'])
  if (probe.status !== 0) return `running as root and "runuser -u ${SUPERUSER}" does not work here`
  return {
    argv: (p, args) => ['runuser', ['-u', SUPERUSER, '--', path.join(bin, p), ...args]],
    uid: Number(who.stdout.trim()),
    gid: Number(group.stdout.trim()),
  }
}

let unavailable: { reason: string | undefined } | undefined

/**
 * Why PostgreSQL cannot run here, or undefined when it can. Asked once a process: each answer
 * spawns pg_config, id and runuser, and eachBackend asks for every test.
 */
export function postgresUnavailable(): string | undefined {
  unavailable ??= { reason: whyUnavailable() }
  return unavailable.reason
}

function whyUnavailable(): string | undefined {
  // To time or run the SQLite suites alone (issue 15 measures those) on a machine that has PostgreSQL
  if (process.env.OTA_TEST_POSTGRES === 'off') return 'PostgreSQL tests turned off by OTA_TEST_POSTGRES=off'
  const bin = postgresBinDir()
  if (!bin) return 'PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin; apt-get install postgresql)'
  const run = runner(bin)
  return typeof run === 'string' ? run : undefined
}

export interface PostgresCluster {
  host: string
  port: number
  /** the folder with the cluster's files and its unix socket */
  dir: string
  /** the folder with initdb, pg_dump, pg_restore, psql */
  bin: string
  /** postgres://postgres@127.0.0.1:port/<database> */
  url(database?: string): string
  /** A fresh empty database (its own name, or a new one) and its URL. */
  createDatabase(name?: string): Promise<string>
  /** Runs SQL as the superuser on `database` (default postgres). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>
  /** Stops the server (fast shutdown); start() brings it back on the same port, data intact. */
  stop(): void
  start(): void
  /** Runs one of the cluster's programs (pg_dump, pg_restore, psql) as its owner; throws on failure. */
  run(program: string, args: string[]): string
  /** Stops the server at once and removes its folder. */
  remove(): void
}

export interface ClusterOptions {
  /**
   * fsync and synchronous commit as shipped (the benchmark). Off by default: a test cluster lives
   * for one test file, and a crash of ota-gate, not of PostgreSQL, is what durability tests exercise.
   */
  durable?: boolean
}

const CLUSTER_PREFIX = 'ota-gate-pg-'
const OWNER_FILE = 'owner.pid'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM'
  }
}

/** Stops and removes the clusters of test processes that died without their teardown (killed on timeout). */
function sweepOrphans(run: Runner): void {
  for (const name of fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(CLUSTER_PREFIX))) {
    const dir = path.join(os.tmpdir(), name)
    let owner: number
    try {
      owner = Number(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8'))
    } catch {
      continue // being set up right now, or not one of ours
    }
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue
    const [file, argv] = run.argv('pg_ctl', ['stop', '-m', 'immediate', '-D', path.join(dir, 'data')])
    spawnSync(file, argv, { stdio: 'ignore' })
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

let databases = 0

/** Starts a cluster of its own; removed by `remove()` or when this process exits. */
export async function startPostgresCluster(settings: ClusterOptions = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir()
  const run = bin ? runner(bin) : 'PostgreSQL is not installed'
  if (!bin || typeof run === 'string') throw new Error(`PostgreSQL cannot run: ${run}`)
  sweepOrphans(run)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), CLUSTER_PREFIX))
  // Which test process owns the cluster: a file killed on timeout never runs its teardown.
  fs.writeFileSync(path.join(dir, OWNER_FILE), String(process.pid))
  if (run.uid !== undefined && run.gid !== undefined) fs.chownSync(dir, run.uid, run.gid)
  const data = path.join(dir, 'data')
  const logFile = path.join(dir, 'server.log')
  const exec = (program: string, args: string[]): string => {
    const [file, argv] = run.argv(program, args)
    try {
      return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string }
      throw new Error(`${program} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`)
    }
  }
  exec('initdb', ['-D', data, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'])
  let port = 0
  const speed = settings.durable ? '' : '-c fsync=off -c synchronous_commit=off -c full_page_writes=off '
  const options = (p: number) =>
    `-c port=${p} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} ${speed}` + `-c max_connections=200 -c shared_buffers=32MB`
  const start = () => exec('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', logFile, '-o', options(port)])
  for (let attempt = 0; ; attempt++) {
    port = await freePort()
    try {
      start()
      break
    } catch (err) {
      // another process took the port between our probe and the server's bind: try another
      if (attempt >= 3) throw new Error(`${(err as Error).message}\n${safeRead(logFile)}`)
    }
  }
  let running = true
  const stop = () => {
    if (!running) return
    exec('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', data])
    running = false
  }
  const remove = () => {
    try {
      if (running) exec('pg_ctl', ['stop', '-w', '-m', 'immediate', '-D', data])
    } catch {
      // already gone: the folder is removed below either way
    }
    running = false
    fs.rmSync(dir, { recursive: true, force: true })
  }
  // A crash of the owner too: no server outlives its process.
  process.once('exit', remove)
  const url = (database = SUPERUSER) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`
  const query = async <T>(sql: string, params: unknown[] = [], database = SUPERUSER): Promise<T[]> => {
    const client = new Client({ connectionString: url(database) })
    await client.connect()
    try {
      return (await client.query(sql, params)).rows as T[]
    } finally {
      await client.end()
    }
  }
  return {
    host: '127.0.0.1',
    get port() {
      return port
    },
    dir,
    bin,
    url,
    async createDatabase(name) {
      const database = name ?? `t${process.pid}_${++databases}`
      await query(`CREATE DATABASE "${database}" TEMPLATE template0`)
      return url(database)
    },
    query,
    stop,
    start() {
      if (running) return
      start()
      running = true
    },
    run: exec,
    remove,
  }
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
