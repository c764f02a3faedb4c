// The results file's shape and the table printed from it.
import type { DeltaResults } from './delta'
import type { PostgresResults } from './postgres'

export interface BenchResults {
  manifest: {
    rps: number
    p50_ms: number
    p99_ms: number
    nginx_rps: number
    nginx_p50_ms: number
    nginx_p99_ms: number
    bare_fastify_rps: number
    bare_fastify_p50_ms: number
    bare_fastify_p99_ms: number
    ratio_nginx: number
    ratio_bare: number
    /** CPU time of the serving process (user + system) per answer */
    cpu_us_per_request: number
    nginx_cpu_us_per_request: number
    bare_fastify_cpu_us_per_request: number
    /** the same answer to polls that name no device: the request pipeline without check-in or database (absent before 2026-12-02) */
    no_device_rps?: number
    no_device_ratio_bare?: number
    no_device_cpu_us_per_request?: number
    non2xx: number
    socket_errors: number
    /** polls answered 2xx in the warm-up and the measured run, each naming another device */
    polls_answered: number
    /** devices whose last_seen moved from the warm-up on: at least polls_answered when every answered poll was recorded */
    checkins_recorded: number
    body_bytes: number
  }
  download: {
    size_bytes: number
    gbps: number
    nginx_gbps: number
    ratio_nginx: number
    range_gbps: number
    nginx_range_gbps: number
    ratio_nginx_range: number
    cpu_us_per_mb: number
    nginx_cpu_us_per_mb: number
    range_cpu_us_per_mb: number
    nginx_range_cpu_us_per_mb: number
    /** bare Fastify answering the same ranges (absent before 2026-12-02) */
    bare_fastify_range_gbps?: number
    bare_fastify_range_ratio_nginx?: number
    bare_fastify_range_cpu_us_per_mb?: number
    p99_ms: number
    range_p99_ms: number
    errors: number
  }
  slow_clients: {
    clients: number
    rate_bytes_per_s: number
    /** each slow client's SO_RCVBUF (absent before 2026-12-01 evening: Node clients, whose buffers grew to megabytes) */
    receive_buffer_bytes?: number
    read_seconds: number | 'whole'
    peak_rss_mb: number
    rss_at_start_mb: number
    manifest_p99_ms: number
    /**
     * the bucket bound of that p99 inside the server (its /metrics request durations, from the
     * request parsed to the answer sent); absent before 2026-12-02
     */
    manifest_p99_ms_in_server_at_most?: number
    manifest_p50_ms: number
    manifest_polls: number
    errors: number
    downloads_ok: number
    slowest_client_bytes_per_s: number
  }
  fleet: {
    devices: number
    seed_ms: number
    histogram_ms: number
    page_ms: number
    deep_page_ms: number
    /** a page of the devices whose id starts with 9 given hex digits */
    prefix_page_ms?: number
    /** a page of a version under 1% of the fleet (issue 20) */
    rare_version_page_ms?: number
    /** a page of the devices seen in the last two minutes (issue 20) */
    seen_within_page_ms?: number
    runs: number
  }
  checkins: {
    per_s: number
    p99_ms: number
    cpu_us_per_checkin: number
    new_devices: boolean
    polls_answered: number
    /** devices first seen from the warm-up on */
    recorded: number
    errors: number
  }
  delta: DeltaResults
  /** with --postgres: scenarios 1 and 5 on PostgreSQL */
  postgres?: PostgresResults
  meta: Record<string, unknown>
  /** the results file as it was before this run (its own previous run left out) */
  previous_run?: Omit<BenchResults, 'previous_run'>
}

const TARGETS = {
  /** steady polls, against bare Fastify serving the same bytes */
  manifest: 0.8,
  download: 1.0,
  ranges: 0.9,
  rssMb: 150,
  p99Ms: 20,
  histogramMs: 50,
  pageMs: 10,
  checkins: 20_000,
  /** new-device check-ins a second on one instance on PostgreSQL (issue 16) */
  postgresCheckins: 5_000,
  deltaSmallFraction: 0.1,
  deltaGenerateMs: 10_000,
  deltaP99Ratio: 2,
}

const n0 = (x: number) => Math.round(x).toLocaleString('en-US')
const n1 = (x: number) => x.toFixed(1)
const n2 = (x: number) => x.toFixed(2)
const mark = (ok: boolean) => (ok ? 'met' : 'SHORT')
/** A row for figures a run from before they were measured lacks: none then. */
const optionalRow = (a: number | undefined, b: number | undefined, c: number | undefined, row: (a: number, b: number, c: number) => string[]): string[][] =>
  a === undefined || b === undefined || c === undefined ? [] : [row(a, b, c)]

/** The table printed at the end and pasted into the README. */
export function table(r: BenchResults): string {
  const rows: string[][] = [
    ['scenario', 'figure', 'ota-gate', 'nginx', 'bare Fastify', 'ratio', 'target', ''],
    ['1 manifest polls', 'req/s', n0(r.manifest.rps), n0(r.manifest.nginx_rps), n0(r.manifest.bare_fastify_rps),
      `${n2(r.manifest.ratio_nginx)}× nginx, ${n2(r.manifest.ratio_bare)}× bare`, `≥ ${TARGETS.manifest}× bare`, mark(r.manifest.ratio_bare >= TARGETS.manifest)],
    ['', 'p50 / p99 ms', `${n2(r.manifest.p50_ms)} / ${n2(r.manifest.p99_ms)}`, `${n2(r.manifest.nginx_p50_ms)} / ${n2(r.manifest.nginx_p99_ms)}`,
      `${n2(r.manifest.bare_fastify_p50_ms)} / ${n2(r.manifest.bare_fastify_p99_ms)}`, '', '', ''],
    ['', 'CPU µs / request', n1(r.manifest.cpu_us_per_request), n1(r.manifest.nginx_cpu_us_per_request), n1(r.manifest.bare_fastify_cpu_us_per_request), '', '', ''],
    ...optionalRow(r.manifest.no_device_rps, r.manifest.no_device_cpu_us_per_request, r.manifest.no_device_ratio_bare, (rps, cpu, ratioBare) =>
      ['', 'polls naming no device: req/s, CPU µs', `${n0(rps)}, ${n1(cpu)}`, '', '', `${n2(ratioBare)}× bare`, '', '']),
    ['2 download whole', 'GB/s', n2(r.download.gbps), n2(r.download.nginx_gbps), '', `${n2(r.download.ratio_nginx)}× nginx`, `≥ ${TARGETS.download}× nginx`, mark(r.download.ratio_nginx >= TARGETS.download)],
    ['2 download 64 KiB ranges', 'GB/s', n2(r.download.range_gbps), n2(r.download.nginx_range_gbps), '', `${n2(r.download.ratio_nginx_range)}× nginx`, `≥ ${TARGETS.ranges}× nginx`, mark(r.download.ratio_nginx_range >= TARGETS.ranges)],
    ['', 'CPU µs / MB whole, ranges', `${n1(r.download.cpu_us_per_mb)}, ${n1(r.download.range_cpu_us_per_mb)}`,
      `${n1(r.download.nginx_cpu_us_per_mb)}, ${n1(r.download.nginx_range_cpu_us_per_mb)}`, '', '', '', ''],
    ...optionalRow(r.download.bare_fastify_range_gbps, r.download.bare_fastify_range_cpu_us_per_mb, r.download.bare_fastify_range_ratio_nginx, (gbps, cpu, ratioNginx) =>
      ['', 'ranges: GB/s, CPU µs / MB', '', '', `${n2(gbps)}, ${n1(cpu)}`, `bare ${n2(ratioNginx)}× nginx`, '', '']),
    ['3 slow devices', 'peak RSS MB', n1(r.slow_clients.peak_rss_mb), '', '', '', `≤ ${TARGETS.rssMb}`, mark(r.slow_clients.peak_rss_mb <= TARGETS.rssMb)],
    ['', 'manifest p99 ms', n2(r.slow_clients.manifest_p99_ms), '', '', '', `≤ ${TARGETS.p99Ms}`, mark(r.slow_clients.manifest_p99_ms <= TARGETS.p99Ms)],
    ['', 'the same inside the server, at most', r.slow_clients.manifest_p99_ms_in_server_at_most === undefined ? '' : n2(r.slow_clients.manifest_p99_ms_in_server_at_most), '', '', '', '', ''],
    ['', 'errors', String(r.slow_clients.errors), '', '', '', '0', mark(r.slow_clients.errors === 0)],
    ['4 fleet (1M devices)', 'histogram ms', n1(r.fleet.histogram_ms), '', '', '', `≤ ${TARGETS.histogramMs}`, mark(r.fleet.histogram_ms <= TARGETS.histogramMs)],
    ['', 'page / deep page ms', `${n1(r.fleet.page_ms)} / ${n1(r.fleet.deep_page_ms)}`, '', '', '', `≤ ${TARGETS.pageMs}`,
      mark(Math.max(r.fleet.page_ms, r.fleet.deep_page_ms) <= TARGETS.pageMs)],
    ...(r.fleet.prefix_page_ms === undefined
      ? []
      : [['', 'device prefix search ms', n1(r.fleet.prefix_page_ms), '', '', '', `≤ ${TARGETS.pageMs}`, mark(r.fleet.prefix_page_ms <= TARGETS.pageMs)]]),
    ...(r.fleet.rare_version_page_ms === undefined || r.fleet.seen_within_page_ms === undefined
      ? []
      : [['', 'rare version / seen_within page ms', `${n1(r.fleet.rare_version_page_ms)} / ${n1(r.fleet.seen_within_page_ms)}`, '', '', '', `≤ ${TARGETS.pageMs}`,
          mark(Math.max(r.fleet.rare_version_page_ms, r.fleet.seen_within_page_ms) <= TARGETS.pageMs)]]),
    ['5 check-ins (new devices)', 'per s', n0(r.checkins.per_s), '', '', '', `≥ ${n0(TARGETS.checkins)}`, mark(r.checkins.per_s >= TARGETS.checkins)],
    ['', 'CPU µs / check-in', n1(r.checkins.cpu_us_per_checkin), '', '', '', '', ''],
    ['6 delta (1.5 MB image)', 'small change: patch / image', n2(r.delta.small_change.fraction), '', '', '', `< ${TARGETS.deltaSmallFraction}`,
      mark(r.delta.small_change.fraction < TARGETS.deltaSmallFraction)],
    ['', 'large change: patch / image', n2(r.delta.large_change.fraction), '', '', '', '', ''],
    ['', 'generation ms small / large', `${n0(r.delta.small_change.ms)} / ${n0(r.delta.large_change.ms)}`, '', '', '', `< ${n0(TARGETS.deltaGenerateMs)}`,
      mark(Math.max(r.delta.small_change.ms, r.delta.large_change.ms) < TARGETS.deltaGenerateMs)],
    ['', 'peak RSS MB small / large', `${n1(r.delta.small_change.peak_rss_mb)} / ${n1(r.delta.large_change.peak_rss_mb)}`, '', '', '', '', ''],
    ['', 'manifest p99 ms idle / building', `${n2(r.delta.manifest_p99_ms_idle)} / ${n2(r.delta.manifest_p99_ms_during_builds)}`, '', '',
      `${n2(r.delta.manifest_p99_ratio)}×`, `≤ ${TARGETS.deltaP99Ratio}×`, mark(r.delta.manifest_p99_ratio <= TARGETS.deltaP99Ratio)],
    ['', 'C++ applier MB/s (host)', 'mb_per_s' in r.delta.applier ? n1(r.delta.applier.mb_per_s) : 'n/a', '', '', '', '', ''],
    ...(r.postgres ? postgresRows(r.postgres, r) : []),
  ]
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n')
}

/** --postgres: scenarios 1 and 5 on PostgreSQL, their ratios to the SQLite figures of the same run. */
function postgresRows(p: PostgresResults, r: BenchResults): string[][] {
  const vsSqlite = (x: number, sqlite: number | undefined) => (sqlite ? `${n2(x / sqlite)}× SQLite` : '')
  return [
    ['7 PostgreSQL, 1 instance', 'manifest polls req/s', n0(p.manifest_one.rps), '', '', vsSqlite(p.manifest_one.rps, r.manifest?.rps), '', ''],
    ['', 'CPU µs / poll: ota-gate, PostgreSQL', `${n1(p.manifest_one.cpu_us_per_request)}, ${n1(p.postgres_cpu_us_per_poll)}`, '', '', '', '', ''],
    ['', 'new-device check-ins per s', n0(p.checkins.per_s), '', '', vsSqlite(p.checkins.per_s, r.checkins?.per_s), `≥ ${n0(TARGETS.postgresCheckins)}`,
      mark(p.checkins.per_s >= TARGETS.postgresCheckins)],
    ['', 'CPU µs / check-in: ota-gate, PostgreSQL', `${n1(p.checkins.cpu_us_per_checkin)}, ${n1(p.postgres_cpu_us_per_checkin)}`, '', '', '', '', ''],
    ['7 PostgreSQL, 2 behind nginx', 'manifest polls req/s', n0(p.manifest_two_nginx.rps), '', '', vsSqlite(p.manifest_two_nginx.rps, r.manifest?.rps), '', ''],
    ['', 'CPU µs / poll: 2 instances, nginx', `${n1(p.manifest_two_nginx.cpu_us_per_request)}, ${n1(p.manifest_two_nginx.nginx_cpu_us_per_request)}`, '', '', '', '', ''],
    ['', 'errors (all runs)', String(p.manifest_one.errors + p.manifest_two_nginx.errors + p.checkins.errors), '', '', '', '0',
      mark(p.manifest_one.errors + p.manifest_two_nginx.errors + p.checkins.errors === 0)],
  ]
}
