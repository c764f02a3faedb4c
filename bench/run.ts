import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { timeQuery } from './fleet-queries'
import { BOARD, CHANNEL, TARGET_SEQUENCE, deviceId, seedFleet, versionOf } from './fleet-seed'
import { NGINX_SETTINGS, nginxBinary, startNginx } from './nginx'
import { histogramPercentileBoundMs, parseVmHwm } from './parsers'
import type { PollResult } from './manifest-poller'
import { BENCH_ENV, makeCredentials, publish, startOtaServer, type OtaServer } from './ota-server'
import { deltaScenario } from './delta'
import { postgresScenario } from './postgres'
import { postgresBinDir } from '../test/support/postgres-cluster'
import { LAST_SEEN_FLUSH_MS } from '../src/repositories/devices'
import { LOAD_CPU, PROJECT_ROOT, SERVER_CPU, cpuSeconds, freePort, get, killAll, run, start, stop, waitForHttp } from './processes'
import { table, type BenchResults } from './report'
import { MANIFEST_LUA, RANGES_LUA, WHOLE_LUA, manifestArgs, runWrk, wrkArgs } from './wrk'

// `npm run bench [-- --quick] [-- --profile DIR] [-- --only 1,3] [-- --fleet N] [-- --postgres]`:
// every scenario of issue 7 against the built server (dist/server.js), nginx and a bare Fastify
// process, side by side in one run; with --postgres, scenarios 1 and 5 on PostgreSQL too (one
// instance, and two behind nginx). Writes bench-results.json at the repository root when every
// scenario ran.

interface Options {
  quick: boolean
  profileDir?: string
  only?: Set<number>
  fleet: number
  postgres: boolean
}

function parseOptions(argv: string[]): Options {
  const o: Options = { quick: false, fleet: 1_000_000, postgres: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--quick') o.quick = true
    else if (a === '--profile') o.profileDir = path.resolve(argv[++i] ?? 'bench-profile')
    else if (a === '--only') o.only = new Set((argv[++i] ?? '').split(',').map(Number))
    else if (a === '--fleet') o.fleet = Number(argv[++i])
    else if (a === '--postgres') o.postgres = true
    else throw new Error(`unknown option ${a}: use --quick, --profile DIR, --only 1,2,3,4,5,6, --fleet N, --postgres`)
  }
  if (!Number.isInteger(o.fleet) || o.fleet < 1000) throw new Error('--fleet needs a whole number of devices, at least 1000')
  return o
}

const IMAGE_SIZE = 1_500_000
const RANGE_PIECE = 64 * 1024
const SLOW_CLIENTS = 1000
const SLOW_RATE = 25_000
const POLL_RATE = 100
/** Device-number ranges that never overlap: the seeded fleet, new devices of scenario 5, the pollers of scenario 3. */
const NEW_DEVICES = 0x8000_0000
const POLLER_DEVICES = 0xc000_0000
/** New devices of the PostgreSQL check-ins, past scenario 5's. */
const PG_NEW_DEVICES = 0xa000_0000
/** The fleet seeded into PostgreSQL (--postgres): at most this many of --fleet. */
const PG_FLEET = { quick: 100_000, full: 1_000_000 }

function settings(quick: boolean) {
  return quick
    ? { warmS: 1, measureS: 5, checkinS: 5, slowReadS: 20, queryWarmups: 2, queryRuns: 7 }
    : { warmS: 5, measureS: 20, checkinS: 30, slowReadS: 0, queryWarmups: 3, queryRuns: 21 }
}

const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)

/** dist/ is rebuilt (npm run -s build) unless every source file is older than its compiled file. */
async function ensureBuilt(): Promise<void> {
  const src = path.join(PROJECT_ROOT, 'src')
  const stale = (fs.readdirSync(src, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .some((f) => {
      const js = path.join(PROJECT_ROOT, 'dist', f.replace(/\.ts$/, '.js'))
      return !fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(path.join(src, f)).mtimeMs
    })
  if (!stale) return log('dist/ is newer than every file of src/: no build needed')
  log('building the server (npm run -s build)')
  await run('npm', ['run', '-s', 'build'], { timeoutMs: 300_000 })
}

/** wrk and nginx, installed from Debian packages when missing (as root only). */
async function ensureTools(): Promise<string> {
  const onPath = (bin: string) => (process.env.PATH ?? '').split(':').some((d) => fs.existsSync(path.join(d, bin)))
  if (!onPath('wrk') || !nginxBinary()) {
    if (process.getuid?.() !== 0) throw new Error('wrk and nginx are needed: sudo apt-get install -y nginx-light wrk')
    log('installing nginx-light and wrk')
    await run('apt-get', ['update'], { timeoutMs: 300_000 })
    await run('apt-get', ['install', '-y', 'nginx-light', 'wrk'], { timeoutMs: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  }
  const nginx = nginxBinary()
  if (!nginx || !onPath('wrk')) throw new Error('wrk or nginx is still missing after apt-get install')
  return nginx
}

/** Node flags that write the server's .cpuprofile into `dir` when it exits. */
const profileFlags = (dir: string | undefined): string[] => (dir ? ['--cpu-prof', '--cpu-prof-interval=250', `--cpu-prof-dir=${dir}`] : [])

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0)
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits
const gb = (bytesPerS: number) => bytesPerS / 1e9

function countSince(dbFile: string, column: 'last_seen' | 'first_seen', since: number): number {
  const db = new BetterSqlite3(dbFile, { readonly: true })
  try {
    return (db.prepare(`SELECT count(*) AS n FROM devices WHERE ${column} >= ?`).get(since) as { n: number }).n
  } finally {
    db.close()
  }
}

function vmKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  if (field === 'VmHWM') return parseVmHwm(status) / 1024
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  if (!m) throw new Error(`no VmRSS line in /proc/${pid}/status`)
  return Number(m[1])
}

/** Before a baseline is measured: it must answer 200 with exactly the bytes ota-gate serves. */
async function expectSameBytes(url: string, expected: Buffer): Promise<void> {
  const r = await get(url)
  if (r.status !== 200 || !r.body.equals(expected)) {
    throw new Error(`${url} answered ${r.status} with ${r.body.length} bytes, not the ${expected.length} bytes ota-gate serves: ${r.body.toString().slice(0, 200)}`)
  }
}

async function childJson<T>(script: string, args: Array<string | number>, timeoutMs: number): Promise<T> {
  return lastJsonLine<T>(await run(process.execPath, [path.join(__dirname, script), ...args.map(String)], { cpu: LOAD_CPU, timeoutMs }))
}

const lastJsonLine = <T>(out: string): T => JSON.parse(out.trim().split('\n').pop() ?? '') as T

/** What bench/slow-downloads.c prints. */
interface SlowResult {
  clients: number
  /** whole downloads, or partial ones closed after the quick run's seconds' worth */
  ok: number
  /** non-200 answers */
  non2xx: number
  /** connection errors, resets, nothing for 30 s, or a body ending before its Content-Length */
  failed: number
  bytes: number
  seconds: number
  /** the slowest client's mean rate, bytes/s */
  minRate: number
  /** each socket's SO_RCVBUF as asked (Linux doubles it) */
  rcvbuf: number
}

/** Compiles the slow-device client (bench/slow-downloads.c) into build/bench/. */
async function buildSlowClient(): Promise<string> {
  const source = path.join(PROJECT_ROOT, 'bench', 'slow-downloads.c')
  const binary = path.join(PROJECT_ROOT, 'build', 'bench', 'slow-downloads')
  await run('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', binary, source], { timeoutMs: 120_000 })
  return binary
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2))
  const s = settings(opts.quick)
  const wants = (n: number) => !opts.only || opts.only.has(n)
  const started = Date.now()
  // Bounded in time whatever hangs: everything is killed and the run fails.
  const watchdog = setTimeout(() => {
    log('the benchmark ran out of time')
    process.exit(1)
  }, (opts.quick ? 420 : 1500) * 1000)
  watchdog.unref()

  await ensureBuilt()
  const nginxBin = await ensureTools()
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ota-gate-bench-'))
  workDirs.push(work)
  const dataDir = path.join(work, 'data')
  const www = path.join(work, 'www')
  fs.mkdirSync(dataDir)
  fs.mkdirSync(www)
  // nginx's workers run as nobody: they must reach www/ through this folder.
  fs.chmodSync(work, 0o755)
  const dbFile = path.join(dataDir, 'ota-gate.db')
  try {
    // Release and credentials through the real API and CLI, then the fleet straight into SQLite.
    const port = await freePort()
    let server: OtaServer = await startOtaServer(dataDir, port)
    const creds = await makeCredentials(dataDir)
    const release = await publish(server.base, creds, versionOf(TARGET_SEQUENCE), TARGET_SEQUENCE, IMAGE_SIZE)
    await stop(server.child)
    log(`published ${versionOf(TARGET_SEQUENCE)} (${release.size} bytes); seeding ${opts.fleet.toLocaleString('en-US')} devices`)
    const seed = seedFleet(dbFile, opts.fleet)
    log(`seeded in ${Math.round(seed.ms)} ms`)

    server = await startOtaServer(dataDir, port, profileFlags(opts.profileDir))
    const manifest = await get(`${server.base}/v1/manifest?board=${BOARD}&channel=${CHANNEL}`)
    if (manifest.status !== 200) throw new Error(`GET /v1/manifest answered ${manifest.status}: ${manifest.body.toString()}`)
    fs.writeFileSync(path.join(www, 'firmware.json'), manifest.body)
    const binPath = `/v1/firmware/${release.sha256}.bin`
    const bin = await get(server.base + binPath)
    if (crypto.createHash('sha256').update(bin.body).digest('hex') !== release.sha256) throw new Error('the downloaded binary does not match its digest')
    fs.writeFileSync(path.join(www, 'firmware.bin'), bin.body)
    fs.chmodSync(path.join(www, 'firmware.json'), 0o644)
    fs.chmodSync(path.join(www, 'firmware.bin'), 0o644)

    const nginxPort = await freePort()
    const nginx = await startNginx(nginxBin, path.join(work, 'nginx'), www, nginxPort)
    const nginxBase = `http://127.0.0.1:${nginxPort}`
    const barePort = await freePort()
    const bareBody = path.join(work, 'manifest-body.json')
    fs.writeFileSync(bareBody, manifest.body)
    const bare = start(process.execPath, [path.join(__dirname, 'bare-fastify.js'), String(barePort), bareBody, path.join(www, 'firmware.bin')], { cpu: SERVER_CPU })
    const bareBase = `http://127.0.0.1:${barePort}`
    await waitForHttp(`${bareBase}/healthz`, bare)
    await expectSameBytes(`${nginxBase}/firmware.json`, manifest.body)
    await expectSameBytes(`${bareBase}/v1/manifest`, manifest.body)
    await expectSameBytes(`${nginxBase}/firmware.bin`, bin.body)
    await expectSameBytes(`${bareBase}/firmware.bin`, bin.body)

    // The CPU the serving process spent per answer is also kept: unlike req/s, it hardly moves when
    // other work on the machine takes turns on the cores.
    const measureEach = async (name: string, pids: number[], base: string, script: string, args: Array<string | number>, connections: number, seconds = s.measureS, warmArgs = args) => {
      const warm = await runWrk(work, `${name}-warm`, { base, script, args: warmArgs, threads: 1, connections, seconds: s.warmS })
      const cpu0 = pids.map(cpuSeconds)
      const r = await runWrk(work, name, { base, script, args, threads: 1, connections, seconds })
      const cpuUs = pids.map((pid, i) => (r.requests > 0 ? ((cpuSeconds(pid) - cpu0[i]) * 1e6) / r.requests : Number.NaN))
      log(`${name}: ${Math.round(r.rps)} req/s, ${gb(r.bytesPerS).toFixed(2)} GB/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${cpuUs.map((c) => c.toFixed(1)).join(' + ')} CPU µs/request, non-2xx ${r.non2xx}, socket errors ${r.socketErrors}`)
      // Answered in the warm-up and the measurement together: each was a check-in to find in the database.
      const answered = warm.requests - warm.non2xx + r.requests - r.non2xx
      return { ...r, cpuUs, answered }
    }
    const measure = async (name: string, pid: number, base: string, script: string, args: Array<string | number>, connections: number, seconds?: number, warmArgs?: Array<string | number>) => {
      const r = await measureEach(name, [pid], base, script, args, connections, seconds, warmArgs)
      return { ...r, cpuUs: r.cpuUs[0] }
    }
    const results: Partial<BenchResults> = {}
    const MANIFEST_CONNECTIONS = 64

    if (wants(1)) {
      // Seeded devices polling (the steady state of a fleet): warm-up and measured runs name different devices.
      const fleetArgs = (offset: number) => manifestArgs('/v1/manifest', BOARD, 0, opts.fleet, offset)
      const since = Date.now()
      const ota = await measure('manifest-ota-gate', server.pid, server.base, MANIFEST_LUA, fleetArgs(Math.floor(opts.fleet / 2)), MANIFEST_CONNECTIONS, s.measureS, fleetArgs(0))
      // These polls only refresh last_seen, written at most LAST_SEEN_FLUSH_MS after their answers.
      await new Promise((r) => setTimeout(r, LAST_SEEN_FLUSH_MS + 500))
      const recorded = countSince(dbFile, 'last_seen', since)
      // Polls wrap around the fleet: a small --fleet sees the same devices again.
      const expected = Math.min(ota.answered, opts.fleet)
      if (recorded < expected) log(`WARNING: ${expected} devices polled but only ${recorded} check-ins recorded`)
      const ng = await measure('manifest-nginx', nginx.pid, nginxBase, MANIFEST_LUA, manifestArgs('/firmware.json', BOARD, 0, opts.fleet, 0), MANIFEST_CONNECTIONS)
      const bf = await measure('manifest-bare-fastify', bare.pid, bareBase, MANIFEST_LUA, fleetArgs(0), MANIFEST_CONNECTIONS)
      // The same answer to polls that name no device (a client without an id): no check-in, no
      // database. How far these are from bare Fastify is what the request pipeline alone costs.
      const noDevice = await measure('manifest-ota-gate-no-device', server.pid, server.base, WHOLE_LUA, [`/v1/manifest?board=${BOARD}&channel=${CHANNEL}`], MANIFEST_CONNECTIONS)
      results.manifest = {
        rps: round(ota.rps, 0),
        p50_ms: round(ota.p50Ms),
        p99_ms: round(ota.p99Ms),
        nginx_rps: round(ng.rps, 0),
        nginx_p50_ms: round(ng.p50Ms),
        nginx_p99_ms: round(ng.p99Ms),
        bare_fastify_rps: round(bf.rps, 0),
        bare_fastify_p50_ms: round(bf.p50Ms),
        bare_fastify_p99_ms: round(bf.p99Ms),
        ratio_nginx: round(ratio(ota.rps, ng.rps), 3),
        ratio_bare: round(ratio(ota.rps, bf.rps), 3),
        cpu_us_per_request: round(ota.cpuUs, 1),
        nginx_cpu_us_per_request: round(ng.cpuUs, 1),
        bare_fastify_cpu_us_per_request: round(bf.cpuUs, 1),
        no_device_rps: round(noDevice.rps, 0),
        no_device_ratio_bare: round(ratio(noDevice.rps, bf.rps), 3),
        no_device_cpu_us_per_request: round(noDevice.cpuUs, 1),
        non2xx: ota.non2xx + noDevice.non2xx,
        socket_errors: ota.socketErrors + noDevice.socketErrors,
        polls_answered: ota.answered,
        checkins_recorded: recorded,
        body_bytes: manifest.body.length,
      }
    }

    if (wants(5)) {
      // Devices never seen before: each poll inserts the device, its first history row and its offer.
      const newArgs = (offset: number) => manifestArgs('/v1/manifest', BOARD, NEW_DEVICES, 0x4000_0000, offset)
      const since = Date.now()
      const r = await measure('checkins-new-devices', server.pid, server.base, MANIFEST_LUA, newArgs(0), MANIFEST_CONNECTIONS, s.checkinS, newArgs(0x2000_0000))
      results.checkins = {
        per_s: round(ratio(r.requests - r.non2xx, r.durationS), 0),
        p99_ms: round(r.p99Ms),
        cpu_us_per_checkin: round(r.cpuUs, 1),
        new_devices: true,
        polls_answered: r.answered,
        recorded: countSince(dbFile, 'first_seen', since),
        errors: r.non2xx + r.socketErrors,
      }
    }

    if (wants(2)) {
      const size = release.size
      const whole = (name: string, pid: number, base: string, p: string) => measure(name, pid, base, WHOLE_LUA, [p], 16)
      const ranges = (name: string, pid: number, base: string, p: string) => measure(name, pid, base, RANGES_LUA, [p, size, RANGE_PIECE], 64)
      const ow = await whole('download-whole-ota-gate', server.pid, server.base, binPath)
      const nw = await whole('download-whole-nginx', nginx.pid, nginxBase, '/firmware.bin')
      const or = await ranges('download-ranges-ota-gate', server.pid, server.base, binPath)
      const nr = await ranges('download-ranges-nginx', nginx.pid, nginxBase, '/firmware.bin')
      const br = await ranges('download-ranges-bare-fastify', bare.pid, bareBase, '/firmware.bin')
      results.download = {
        size_bytes: size,
        gbps: round(gb(ow.bytesPerS), 3),
        nginx_gbps: round(gb(nw.bytesPerS), 3),
        ratio_nginx: round(ratio(ow.bytesPerS, nw.bytesPerS), 3),
        range_gbps: round(gb(or.bytesPerS), 3),
        nginx_range_gbps: round(gb(nr.bytesPerS), 3),
        ratio_nginx_range: round(ratio(or.bytesPerS, nr.bytesPerS), 3),
        cpu_us_per_mb: round((ow.cpuUs * ow.requests * 1e6) / Math.max(ow.bytes, 1), 1),
        nginx_cpu_us_per_mb: round((nw.cpuUs * nw.requests * 1e6) / Math.max(nw.bytes, 1), 1),
        range_cpu_us_per_mb: round((or.cpuUs * or.requests * 1e6) / Math.max(or.bytes, 1), 1),
        nginx_range_cpu_us_per_mb: round((nr.cpuUs * nr.requests * 1e6) / Math.max(nr.bytes, 1), 1),
        bare_fastify_range_gbps: round(gb(br.bytesPerS), 3),
        bare_fastify_range_ratio_nginx: round(ratio(br.bytesPerS, nr.bytesPerS), 3),
        bare_fastify_range_cpu_us_per_mb: round((br.cpuUs * br.requests * 1e6) / Math.max(br.bytes, 1), 1),
        p99_ms: round(ow.p99Ms),
        range_p99_ms: round(or.p99Ms),
        errors: ow.non2xx + ow.socketErrors + or.non2xx + or.socketErrors,
      }
    }

    if (wants(4)) {
      const q = (p: string) => timeQuery(server.base + p, creds.operator, s.queryWarmups, s.queryRuns)
      const histogram = await q('/v1/fleet/versions')
      const page = await q('/v1/devices?limit=50')
      // The cursor is the page's last device id (routes/fleet.ts); built here to land mid-fleet without walking 10,000 pages.
      const cursor = Buffer.from(deviceId(Math.floor(opts.fleet / 2)), 'utf8').toString('base64url')
      const deep = await q(`/v1/devices?limit=50&cursor=${cursor}`)
      // The console's device search: the first 9 hex digits of a device mid-fleet (4,096 ids share them).
      const prefix = await q(`/v1/devices?limit=50&prefix=${deviceId(Math.floor(opts.fleet / 2)).slice(0, 9)}`)
      // A rare version (v1: under 1% of the seeded fleet) and the devices seen in the last two minutes (about 0.1%).
      const rare = await q(`/v1/devices?limit=50&version=${versionOf(1)}`)
      const seen = await q('/v1/devices?limit=50&seen_within=2m')
      const total = (JSON.parse((await get(`${server.base}/v1/fleet/versions`, { authorization: `Bearer ${creds.operator}` })).body.toString()) as { total: number }).total
      log(`fleet: histogram ${histogram.medianMs.toFixed(1)} ms, page ${page.medianMs.toFixed(1)} ms, deep page ${deep.medianMs.toFixed(1)} ms, prefix search ${prefix.medianMs.toFixed(1)} ms, rare version ${rare.medianMs.toFixed(1)} ms, seen_within ${seen.medianMs.toFixed(1)} ms over ${total} devices`)
      results.fleet = {
        devices: total,
        seed_ms: round(seed.ms, 0),
        histogram_ms: round(histogram.medianMs),
        page_ms: round(page.medianMs),
        deep_page_ms: round(deep.medianMs),
        prefix_page_ms: round(prefix.medianMs),
        rare_version_page_ms: round(rare.medianMs),
        seen_within_page_ms: round(seen.medianMs),
        runs: s.queryRuns,
      }
    }

    await stop(bare)
    await stop(nginx)
    await stop(server.child, 30_000)

    if (wants(3)) {
      // A fresh server process, so that its peak RSS is this scenario's.
      const slowClient = await buildSlowClient()
      server = await startOtaServer(dataDir, port, profileFlags(opts.profileDir && path.join(opts.profileDir, 'slow-devices')))
      // The warm-up the other scenarios have: a route's first answer compiles its validator and
      // serializer (tens of ms, once a process), which is not the latency of polls meanwhile.
      await get(server.base + binPath)
      await get(`${server.base}/v1/manifest?board=${BOARD}&channel=${CHANNEL}`)
      const rssAtStart = vmKb(server.pid, 'VmRSS') / 1024
      const seconds = opts.quick ? s.slowReadS : Math.ceil(IMAGE_SIZE / SLOW_RATE) + 5
      log(`slow devices: ${SLOW_CLIENTS} downloads at ${SLOW_RATE / 1000} KB/s for ${opts.quick ? `${s.slowReadS} s each` : 'the whole image'}, manifest polls at ${POLL_RATE}/s`)
      const [slow, polls] = await Promise.all([
        run(slowClient, [server.base + binPath, SLOW_CLIENTS, SLOW_RATE, s.slowReadS].map(String), { cpu: LOAD_CPU, timeoutMs: (seconds + 90) * 1000 }).then(
          (out) => lastJsonLine<SlowResult>(out)
        ),
        childJson<PollResult>('manifest-poller.js', [server.base, POLL_RATE, seconds, POLLER_DEVICES], (seconds + 60) * 1000),
      ])
      const peak = vmKb(server.pid, 'VmHWM') / 1024
      // The poller's p99 counts the sockets, the kernel and its own turns on a shared core; the
      // server's histogram says how much of it is the server's handling of the request.
      const metrics = (await get(`${server.base}/metrics`, { authorization: `Bearer ${creds.operator}` })).body.toString()
      const inServer = histogramPercentileBoundMs(metrics, 'ota_http_request_duration_seconds', { method: 'GET', route: '/v1/manifest' }, 99)
      log(`slow devices: ${JSON.stringify(slow)}; polls: ${JSON.stringify(polls)}; p99 inside the server ≤ ${inServer} ms; peak RSS ${peak.toFixed(1)} MB`)
      results.slow_clients = {
        clients: SLOW_CLIENTS,
        rate_bytes_per_s: SLOW_RATE,
        receive_buffer_bytes: slow.rcvbuf,
        read_seconds: opts.quick ? s.slowReadS : 'whole',
        peak_rss_mb: round(peak, 1),
        rss_at_start_mb: round(rssAtStart, 1),
        manifest_p99_ms: round(polls.p99Ms),
        manifest_p99_ms_in_server_at_most: Number.isFinite(inServer) ? inServer : undefined,
        manifest_p50_ms: round(polls.p50Ms),
        manifest_polls: polls.requests,
        errors: slow.failed + slow.non2xx + polls.errors + polls.non2xx,
        downloads_ok: slow.ok,
        slowest_client_bytes_per_s: round(slow.minRate, 0),
      }
      await stop(server.child, 30_000)
    }

    if (wants(6)) {
      results.delta = await deltaScenario(work, IMAGE_SIZE, s.measureS, POLL_RATE, POLLER_DEVICES + 0x1000_0000)
    }

    if (opts.postgres) {
      results.postgres = await postgresScenario({
        work,
        nginxBin,
        measure: measureEach,
        fleet: Math.min(opts.fleet, opts.quick ? PG_FLEET.quick : PG_FLEET.full),
        imageSize: IMAGE_SIZE,
        checkinS: s.checkinS,
        connections: MANIFEST_CONNECTIONS,
        newDevices: PG_NEW_DEVICES,
        nodeFlags: profileFlags(opts.profileDir && path.join(opts.profileDir, 'postgres')),
        log,
      })
    }

    results.meta = {
      date: new Date().toISOString(),
      mode: opts.quick ? 'quick' : 'full',
      seconds_total: round((Date.now() - started) / 1000, 0),
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      load_average_at_end: os.loadavg().map((l) => round(l, 2)),
      node: process.version,
      pinning: `server, nginx and bare Fastify on core ${SERVER_CPU}; wrk and the Node clients on core ${LOAD_CPU} (taskset)`,
      tool: `wrk (Lua scripts in bench/wrk.ts), ${wrkArgs({ threads: 1, connections: MANIFEST_CONNECTIONS, seconds: s.measureS })} for polls; -c16 whole downloads, -c64 ranges; ${s.warmS} s warm-up before each`,
      nginx: NGINX_SETTINGS,
      bare_fastify: 'fastify(), logger off, with a route sending the same manifest bytes and one sending the same binary, whole or one range of it (bench/bare-fastify.ts)',
      server: {
        command: 'node dist/server.js',
        env: BENCH_ENV,
        durability: `as shipped: SQLite WAL, synchronous=NORMAL; state changes committed before the answer, polls that only prove a device alive written at most ${LAST_SEEN_FLUSH_MS} ms later`,
      },
      manifest_devices: `scenario 1: seeded devices, a distinct one per request, 70% already on the target and the rest already offered it (steady polls), then the same manifest to polls naming no device (no check-in); scenario 5: devices never seen before; both named in no order of their ids (manifestArgs in bench/wrk.ts), as a fleet's polls arrive`,
      delta: `scenario 6: patches of a ${IMAGE_SIZE}-byte image made in a process of their own (bench/delta-generate.ts); manifest p99 from the open-loop poller at ${POLL_RATE}/s on a server idle, then while it builds 6 patches of such images (OTA_DELTA_BASES=3); the C++ applier is firmware/build/delta_apply_bench --repeat 5`,
      ...(opts.postgres
        ? {
            postgres: `a PostgreSQL cluster of its own (${postgresBinDir()}; initdb, fsync and synchronous_commit on, shared_buffers 32MB), not pinned: it shares both cores with the servers and wrk; one instance on core ${SERVER_CPU}, then two instances and nginx (upstream, keepalive 64) all on core ${SERVER_CPU}; OTA_DATABASE_POOL 10 (default); a fleet of postgres.devices seeded into PostgreSQL as scenario 1 seeds SQLite; CPU µs per request of the ota-gate processes, nginx and PostgreSQL's processes (postmaster and its backends) apart`,
          }
        : {}),
      slow_clients: `C client reading ${SLOW_RATE} B/s per download through sockets with an ESP32's TCP window and segment size (SO_RCVBUF and TCP_MAXSEG set in bench/slow-downloads.c), ${POLL_RATE} manifest polls/s alongside (bench/manifest-poller.ts), on a fresh server that has answered one download and one poll`,
    }

    const complete = [1, 2, 3, 4, 5, 6].every(wants)
    if (complete) {
      // The run before stays beside the new one, so that a change's gain reads off one file.
      const file = path.join(PROJECT_ROOT, 'bench-results.json')
      if (fs.existsSync(file)) {
        const { previous_run: _older, ...previous } = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResults
        results.previous_run = previous
      }
      fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
      process.stdout.write(table(results as BenchResults) + '\n')
      log(`wrote bench-results.json in ${Math.round((Date.now() - started) / 1000)} s`)
    } else {
      process.stdout.write(JSON.stringify(results, null, 2) + '\n')
      log('only some scenarios ran: bench-results.json left as it was')
    }
  } finally {
    cleanUp()
  }
}

/** Temporary folders to remove however the run ends (the watchdog and signals exit through 'exit'). */
const workDirs: string[] = []

function cleanUp(): void {
  killAll()
  for (const dir of workDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

process.on('exit', cleanUp)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => process.exit(130))
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err))
  cleanUp()
  process.exitCode = 1
})
