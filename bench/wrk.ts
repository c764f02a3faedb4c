import fs from 'node:fs'
import path from 'node:path'
import { parseWrkOutput, WRK_JSON_MARK, type WrkResult } from './parsers'
import { LOAD_CPU, run } from './processes'
import { CHANNEL, SEEDED_VERSION_LUA } from './fleet-seed'

// wrk drives every HTTP throughput figure, with the same settings for ota-gate and its baselines.
// Each scenario is a Lua script: request() makes the requests, done() prints exact figures as JSON.

const DONE_LUA = `
function done(summary, latency, requests)
  local e = summary.errors
  local f = math.floor
  io.write(string.format('${WRK_JSON_MARK}{"duration_us":%d,"requests":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n',
    f(summary.duration), f(summary.requests), f(summary.bytes), f(e.connect), f(e.read), f(e.write), f(e.status), f(e.timeout),
    f(latency:percentile(50)), f(latency:percentile(90)), f(latency:percentile(99)), f(latency.max)))
end
`

// Threads get distinct numbers in setup() (main state) before init() runs in their own state.
const THREAD_IDS_LUA = `
next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end
`

/**
 * Manifest polls, each naming another device, printed as 12 hex digits, with the version and
 * sequence the seeded fleet gives that device number. The k-th poll names device
 * first + (k * stride mod span): each of the span devices once before any again, and never two
 * neighbours in a row, as a fleet's polls arrive in no order of their MACs (polls in id order
 * share the table's pages, which a real fleet's do not). Args: manifestArgs below; the n-th
 * request of thread t is k = offset + n * threads + t.
 */
export const MANIFEST_LUA = `${THREAD_IDS_LUA}
${SEEDED_VERSION_LUA}
local path, board, first, span, offset, threads, stride
local n = 0
function init(args)
  path, board = args[1], args[2]
  first, span, offset, threads, stride = tonumber(args[3]), tonumber(args[4]), tonumber(args[5]), tonumber(args[6]), tonumber(args[7])
  wrk.headers["User-Agent"] = "ESP32 HTTP Client/1.0"
end
function request()
  local d = first + ((offset + n * threads + tid) % span) * stride % span
  n = n + 1
  local s = seeded_sequence(d)
  return wrk.format("GET", path .. "?board=" .. board .. "&device=" .. string.format("%012x", d) .. "&version=v" .. s .. "&sequence=" .. s .. "&channel=${CHANNEL}")
end
${DONE_LUA}`

/** A stride that visits every one of `span` numbers once (coprime to it), its neighbours far apart. */
export function scatterStride(span: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))
  let stride = 7919
  while (gcd(stride, span) !== 1) stride += 2
  return stride
}

/** MANIFEST_LUA's arguments, one wrk thread: polls of devices first … first + span - 1, from position `offset`. */
export const manifestArgs = (path: string, board: string, first: number, span: number, offset: number): Array<string | number> => [
  path, board, first, span, offset, 1, scatterStride(span),
]

/** GETs of the whole file. Args: path. */
export const WHOLE_LUA = `
local path
function init(args)
  path = args[1]
  wrk.headers["User-Agent"] = "ESP32 HTTP Client/1.0"
end
function request()
  return wrk.format("GET", path)
end
${DONE_LUA}`

/**
 * 64 KiB ranges in turn, as esp_https_ota's partial download asks for them: the last one ends one
 * byte past the file, which the server must clamp. Args: path size piece.
 */
export const RANGES_LUA = `${THREAD_IDS_LUA}
local path, size, piece, pieces
local n = 0
function init(args)
  path, size, piece = args[1], tonumber(args[2]), tonumber(args[3])
  pieces = math.ceil(size / piece)
  n = tid
  wrk.headers["User-Agent"] = "ESP32 HTTP Client/1.0"
end
function request()
  local a = (n % pieces) * piece
  n = n + 1
  local b = math.min(a + piece - 1, size)
  return wrk.format("GET", path, { Range = "bytes=" .. a .. "-" .. b })
end
${DONE_LUA}`

export interface WrkRun {
  /** e.g. http://127.0.0.1:8080 */
  base: string
  script: string
  args: Array<string | number>
  threads: number
  connections: number
  seconds: number
}

export const wrkArgs = (r: Pick<WrkRun, 'threads' | 'connections' | 'seconds'>) => `wrk -t${r.threads} -c${r.connections} -d${r.seconds}s --timeout 10s`

/** Runs wrk on the load core with the script written into `workDir`. */
export async function runWrk(workDir: string, name: string, r: WrkRun): Promise<WrkResult> {
  const file = path.join(workDir, `${name}.lua`)
  fs.writeFileSync(file, r.script)
  const out = await run(
    'wrk',
    [`-t${r.threads}`, `-c${r.connections}`, `-d${r.seconds}s`, '--timeout', '10s', '-s', file, r.base, '--', ...r.args.map(String)],
    { cpu: LOAD_CPU, timeoutMs: (r.seconds + 30) * 1000 }
  )
  return parseWrkOutput(out)
}
