import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { FastifyReply, onSendHookHandler } from 'fastify'
import { addRouteHook, isDeviceRoute } from '../../http/route-options'

/** The counters other parts of the app move; everything else is measured here. */
export interface Metrics {
  /** this app's own registry: several servers in one process (tests) keep separate figures */
  registry: Registry
  /** a device (or legacy client) polled: `app.metrics.checkins.inc({ kind: 'manifest' })` */
  checkins: Counter<'kind'>
  /** a poll answered although its check-in could not be written (disk full, database failing) */
  checkinFailures: Counter<'kind'>
  downloadsStarted: Counter<'route'>
  downloadsCompleted: Counter<'route'>
  downloadBytes: Counter<'route'>
  requestDuration: Histogram<'method' | 'route' | 'status_code'>
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

/** Running versions exported as labels: enough to watch a rollout, bounded whatever the fleet reports. */
const TOP_VERSIONS = 50

/**
 * The downloads of one route, counted in plain numbers and handed to prom-client at each scrape:
 * its inc() hashes the labels every time (a bound child too), and every 64 KiB range of a
 * download is one.
 */
interface DownloadTally {
  started: number
  completed: number
  bytes: number
}

/** A download counter's collect(): the tallies so far, by route (they only grow, as a counter must). */
function fromTallies(downloads: ReadonlyMap<string, DownloadTally>, field: keyof DownloadTally) {
  return function collect(this: Counter<'route'>): void {
    this.reset()
    for (const [route, tally] of downloads) this.inc({ route }, tally[field])
  }
}

function createMetrics(downloads: ReadonlyMap<string, DownloadTally>): Metrics {
  const registry = new Registry()
  const registers = [registry]
  return {
    registry,
    checkins: new Counter({
      name: 'ota_checkins_total',
      help: 'Device polls by endpoint kind: manifest (/v1/manifest), arduino (/v1/arduino/:board), legacy (/firmware.json)',
      labelNames: ['kind'],
      registers,
    }),
    checkinFailures: new Counter({
      name: 'ota_checkin_failures_total',
      help: 'Device polls answered although their check-in could not be written (disk full, database failing), by endpoint kind',
      labelNames: ['kind'],
      registers,
    }),
    downloadsStarted: new Counter({
      name: 'ota_downloads_started_total',
      help: 'Binary downloads answered 200 or 206, counted when the answer starts',
      labelNames: ['route'],
      registers,
      collect: fromTallies(downloads, 'started'),
    }),
    downloadsCompleted: new Counter({
      name: 'ota_downloads_completed_total',
      help: 'Binary downloads whose whole answer was sent (a device hanging up midway counts as started only)',
      labelNames: ['route'],
      registers,
      collect: fromTallies(downloads, 'completed'),
    }),
    downloadBytes: new Counter({
      name: 'ota_download_bytes_total',
      help: 'Body bytes of completed binary downloads (the Content-Length of each 200 or 206 answer)',
      labelNames: ['route'],
      registers,
      collect: fromTallies(downloads, 'bytes'),
    }),
    requestDuration: new Histogram({
      name: 'ota_http_request_duration_seconds',
      help: 'Time to answer requests, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'],
      // Polls take milliseconds; a binary at 25 KB/s takes over a minute.
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 120],
      registers,
    }),
  }
}

/**
 * Prometheus metrics for this app instance (served by routes/metrics.ts): request durations by
 * route pattern (never the raw URL, which would make a series per device), check-ins, downloads,
 * releases and devices per running version (read from the database at each scrape), and Node's
 * process figures.
 */
export default fp(
  async function metricsPlugin(app) {
    const downloads = new Map<string, DownloadTally>()
    const metrics = createMetrics(downloads)
    const { registry } = metrics
    collectDefaultMetrics({ register: registry })

    const repos = app.repos
    new Gauge({
      name: 'ota_releases',
      help: 'Releases recorded, by board and channel',
      labelNames: ['board', 'channel'],
      registers: [registry],
      async collect() {
        const rows = await repos.metrics.releaseCounts()
        this.reset()
        for (const r of rows) this.set({ board: r.board, channel: r.channel }, r.releases)
      },
    })
    new Gauge({
      name: 'ota_devices',
      help: `Devices by the version they last reported running (the ${TOP_VERSIONS} most common versions)`,
      labelNames: ['board', 'channel', 'version'],
      registers: [registry],
      async collect() {
        const rows = await repos.metrics.topVersions(TOP_VERSIONS)
        this.reset()
        for (const r of rows) this.set({ board: r.board, channel: r.channel, version: r.version }, r.devices)
      },
    })

    app.decorate('metrics', metrics)

    app.addHook('onResponse', (request, reply, done) => {
      metrics.requestDuration.observe(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: reply.statusCode },
        reply.elapsedTime / 1000
      )
      done()
    })

    // Only download routes get these hooks, so polls pay nothing for them.
    const trackDownload: onSendHookHandler = (request, reply, payload, done) => {
      if (request.method === 'GET' && (reply.statusCode === 200 || reply.statusCode === 206)) {
        // A stream's length is in the header its route set; a Buffer's is its own (Fastify adds
        // the header after onSend).
        const length = Number(reply.getHeader('content-length')) || (Buffer.isBuffer(payload) ? payload.length : 0)
        countDownload(tallyOf(downloads, request.routeOptions.url ?? 'unmatched'), reply, length)
      }
      done(null, payload)
    }
    app.addHook('onRoute', (route) => {
      if (isDeviceRoute(route) && route.config?.download === true) addRouteHook(route, 'onSend', trackDownload)
    })
  },
  { name: 'metrics', dependencies: ['repositories'] }
)

function tallyOf(downloads: Map<string, DownloadTally>, route: string): DownloadTally {
  let tally = downloads.get(route)
  if (tally === undefined) {
    tally = { started: 0, completed: 0, bytes: 0 }
    downloads.set(route, tally)
  }
  return tally
}

/**
 * Started now; completed when the response has been handed over whole. Node 20 emits 'finish'
 * even when the device hung up with bytes still unsent, so a socket that failed (reset, broken
 * pipe) means not completed. 'close' comes in both cases, when onResponse may not.
 */
function countDownload(tally: DownloadTally, reply: FastifyReply, length: number): void {
  tally.started++
  const res = reply.raw
  const socket = res.socket
  res.once('close', () => {
    if (!res.writableFinished || !socket || socket.errored) return
    tally.completed++
    tally.bytes += length
  })
}
