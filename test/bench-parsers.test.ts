import t from 'tap'
import { histogramPercentileBoundMs, median, parseProcStatTicks, parseVmHwm, parseWrkOutput, percentile } from '../bench/parsers'

// wrk 4.1 output as the benchmark's Lua done() hook leaves it: wrk's own summary, then our line.
const WRK_OUTPUT = `Running 5s test @ http://127.0.0.1:40123
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.71ms    1.02ms  31.20ms   93.41%
    Req/Sec     9.55k   412.77    10.01k    86.00%
  47512 requests in 5.00s, 38.91MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   9501.62
Transfer/sec:      7.78MB
BENCH_JSON {"duration_us":5000412,"requests":47512,"bytes":40799232,"errors_connect":0,"errors_read":1,"errors_write":0,"errors_status":3,"errors_timeout":2,"p50_us":6512,"p90_us":7301,"p99_us":10250,"max_us":31200}
`

t.test('parseWrkOutput reads the exact figures of the JSON line', async (t) => {
  const r = parseWrkOutput(WRK_OUTPUT)
  t.equal(r.requests, 47512)
  t.equal(r.bytes, 40799232)
  t.equal(r.non2xx, 3, 'errors_status is the non-2xx/3xx count')
  t.equal(r.socketErrors, 3, 'read + timeout errors')
  t.equal(r.p50Ms, 6.512)
  t.equal(r.p99Ms, 10.25)
  t.equal(r.maxMs, 31.2)
  t.ok(Math.abs(r.rps - 47512 / 5.000412) < 1e-6)
  t.ok(Math.abs(r.bytesPerS - 40799232 / 5.000412) < 1e-3)
})

t.test('parseWrkOutput refuses output it cannot trust', async (t) => {
  t.throws(() => parseWrkOutput('Running 5s test\n  100 requests in 1.00s\n'), /printed no BENCH_JSON line/)
  t.throws(
    () => parseWrkOutput(WRK_OUTPUT.replace('"requests":47512', '"requests":47511')),
    /summary says 47512 requests, its BENCH_JSON line 47511/
  )
  t.throws(() => parseWrkOutput(WRK_OUTPUT.replace('"p99_us":10250,', '')), /lacks a number for p99_us/)
  t.throws(() => parseWrkOutput(WRK_OUTPUT.replace('"duration_us":5000412', '"duration_us":0')), /ran for 0 µs/)
})

t.test('percentile uses the nearest rank; median averages the middle pair', async (t) => {
  const samples = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]
  t.equal(percentile(samples, 50), 5)
  t.equal(percentile(samples, 99), 10)
  t.equal(percentile(samples, 10), 1)
  t.equal(percentile(samples, 0), 1)
  t.ok(Number.isNaN(percentile([], 99)))
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.same(samples, [5, 1, 4, 2, 3, 10, 9, 8, 7, 6], 'the samples are not reordered')
})

t.test('parseVmHwm reads the peak resident set of /proc/<pid>/status', async (t) => {
  const status = 'Name:\tnode\nVmPeak:\t 1234568 kB\nVmHWM:\t   98304 kB\nVmRSS:\t   81920 kB\n'
  t.equal(parseVmHwm(status), 98304 * 1024)
  t.throws(() => parseVmHwm('Name:\tnode\n'), /no VmHWM/)
})

t.test('parseProcStatTicks adds utime and stime, whatever the command name holds', async (t) => {
  const stat = '4242 (node (bench) x) S 1 4242 4242 0 -1 4194560 9000 0 12 0 1500 250 40 2 20 0 11 0 700 1200000000 30000 18446744073709551615'
  t.equal(parseProcStatTicks(stat), 1750)
  t.equal(parseProcStatTicks(stat, 'reaped'), 42, 'cutime and cstime: children that exited')
  t.throws(() => parseProcStatTicks('no parenthesis here'), /not the text/)
  t.throws(() => parseProcStatTicks('1 (x) S 1 2'), /no utime/)
})

// What /metrics answers (prom-client's text format), two status codes of the manifest route.
const METRICS = `# HELP ota_http_request_duration_seconds Time to answer requests
# TYPE ota_http_request_duration_seconds histogram
ota_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/v1/manifest",status_code="200"} 900
ota_http_request_duration_seconds_bucket{le="0.0025",method="GET",route="/v1/manifest",status_code="200"} 985
ota_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/manifest",status_code="200"} 995
ota_http_request_duration_seconds_bucket{le="0.01",method="GET",route="/v1/manifest",status_code="200"} 999
ota_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/manifest",status_code="200"} 1000
ota_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/v1/manifest",status_code="304"} 0
ota_http_request_duration_seconds_bucket{le="0.0025",method="GET",route="/v1/manifest",status_code="304"} 0
ota_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/manifest",status_code="304"} 0
ota_http_request_duration_seconds_bucket{le="0.01",method="GET",route="/v1/manifest",status_code="304"} 10
ota_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/manifest",status_code="304"} 1000
ota_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/healthz",status_code="200"} 5
ota_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/healthz",status_code="200"} 5
`

t.test('histogramPercentileBoundMs: the bucket holding the percentile, over the matching series summed', async (t) => {
  const manifest = { route: '/v1/manifest', method: 'GET' }
  t.equal(histogramPercentileBoundMs(METRICS, 'ota_http_request_duration_seconds', { ...manifest, status_code: '200' }, 99), 5, '990th of 1,000 lies in the 5 ms bucket')
  t.equal(histogramPercentileBoundMs(METRICS, 'ota_http_request_duration_seconds', { ...manifest, status_code: '200' }, 50), 1)
  t.equal(histogramPercentileBoundMs(METRICS, 'ota_http_request_duration_seconds', manifest, 50), 10, 'both codes: the 1,000th of 2,000 is in the 10 ms bucket (999 + 10 by then)')
  t.equal(histogramPercentileBoundMs(METRICS, 'ota_http_request_duration_seconds', manifest, 99), Infinity, 'past the last finite bucket')
  t.throws(() => histogramPercentileBoundMs(METRICS, 'ota_http_request_duration_seconds', { route: '/v1/none' }, 99), /no ota_http_request_duration_seconds series/)
})
