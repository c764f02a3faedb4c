// Pure helpers of the benchmark: reading the load tools' output and summarising samples.

/** What one wrk run measured, from the JSON line our Lua `done()` prints (see wrk.ts). */
export interface WrkResult {
  durationS: number
  requests: number
  bytes: number
  /** connect, read, write and timeout errors */
  socketErrors: number
  /** answers whose status was not 2xx or 3xx */
  non2xx: number
  rps: number
  bytesPerS: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  maxMs: number
}

export const WRK_JSON_MARK = 'BENCH_JSON '

interface WrkJson {
  duration_us: number
  requests: number
  bytes: number
  errors_connect: number
  errors_read: number
  errors_write: number
  errors_status: number
  errors_timeout: number
  p50_us: number
  p90_us: number
  p99_us: number
  max_us: number
}

const FIELDS: Array<keyof WrkJson> = [
  'duration_us', 'requests', 'bytes', 'errors_connect', 'errors_read', 'errors_write', 'errors_status', 'errors_timeout',
  'p50_us', 'p90_us', 'p99_us', 'max_us',
]

/**
 * Reads wrk's stdout. The figures come from the `BENCH_JSON {...}` line of our done() hook (exact
 * counts and microseconds, where wrk's own text rounds to "9.51k"); the human summary must agree
 * on the request count, so a script that printed something else is caught.
 */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split('\n').find((l) => l.startsWith(WRK_JSON_MARK))
  if (!line) throw new Error(`wrk printed no ${WRK_JSON_MARK.trim()} line; its output was:\n${stdout.slice(0, 2000)}`)
  const raw = JSON.parse(line.slice(WRK_JSON_MARK.length)) as Record<string, unknown>
  for (const f of FIELDS) {
    if (typeof raw[f] !== 'number' || !Number.isFinite(raw[f])) throw new Error(`wrk's ${WRK_JSON_MARK.trim()} line lacks a number for ${f}: ${line}`)
  }
  const j = raw as unknown as WrkJson
  const summary = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(stdout)
  if (summary && Number(summary[1]) !== j.requests) {
    throw new Error(`wrk's summary says ${summary[1]} requests, its ${WRK_JSON_MARK.trim()} line ${j.requests}`)
  }
  const durationS = j.duration_us / 1e6
  if (durationS <= 0) throw new Error(`wrk ran for ${j.duration_us} µs`)
  return {
    durationS,
    requests: j.requests,
    bytes: j.bytes,
    socketErrors: j.errors_connect + j.errors_read + j.errors_write + j.errors_timeout,
    non2xx: j.errors_status,
    rps: j.requests / durationS,
    bytesPerS: j.bytes / durationS,
    p50Ms: j.p50_us / 1000,
    p90Ms: j.p90_us / 1000,
    p99Ms: j.p99_us / 1000,
    maxMs: j.max_us / 1000,
  }
}

/** The q-th percentile (0-100) by the nearest-rank method; NaN for no samples. */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.ceil((q / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** VmHWM (peak resident set) in bytes from the text of /proc/<pid>/status. */
export function parseVmHwm(status: string): number {
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)
  if (!m) throw new Error('no VmHWM line in /proc/<pid>/status')
  return Number(m[1]) * 1024
}

/**
 * User plus system CPU time in clock ticks from the text of /proc/<pid>/stat (fields 14 and 15; the
 * command name in field 2 may hold spaces and parentheses, so fields are counted after its last ')').
 */
export function parseProcStatTicks(stat: string, of: 'self' | 'reaped' = 'self'): number {
  const close = stat.lastIndexOf(')')
  if (close < 0) throw new Error('not the text of /proc/<pid>/stat')
  const fields = stat.slice(close + 2).trim().split(/\s+/)
  // fields[0] is field 3 (state): utime is field 14, stime field 15; cutime and cstime (children
  // that exited and were waited for) fields 16 and 17.
  const first = of === 'self' ? 11 : 13
  const utime = Number(fields[first])
  const stime = Number(fields[first + 1])
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) throw new Error('no utime/stime in /proc/<pid>/stat')
  return utime + stime
}

/**
 * From Prometheus text, the upper bound in ms of the histogram bucket that holds the q-th
 * percentile (0-100) of the series whose labels include `labels` (buckets of several status codes
 * summed): a bound, as close as the buckets are. Infinity when it lies past the last finite bucket;
 * throws when no series matches.
 */
export function histogramPercentileBoundMs(text: string, metric: string, labels: Record<string, string>, q: number): number {
  const counts = new Map<number, number>()
  const bucket = new RegExp(`^${metric}_bucket\\{(.*)\\} (\\d+)$`)
  for (const line of text.split('\n')) {
    const m = bucket.exec(line)
    if (!m) continue
    const found = new Map([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).some(([k, v]) => found.get(k) !== v)) continue
    const le = found.get('le') === '+Inf' ? Infinity : Number(found.get('le'))
    counts.set(le, (counts.get(le) ?? 0) + Number(m[2]))
  }
  const total = counts.get(Infinity)
  if (total === undefined || total === 0) throw new Error(`no ${metric} series with ${JSON.stringify(labels)}`)
  const rank = Math.ceil((q / 100) * total)
  const bound = [...counts.keys()].sort((a, b) => a - b).find((le) => (counts.get(le) ?? 0) >= rank)
  return (bound ?? Infinity) * 1000
}
