import { Writable } from 'node:stream'
import t from 'tap'
import pino, { type LoggerOptions } from 'pino'
import { loadConfig } from '../src/config'
import { LazyRequestLogger, lazyRequestLogger } from '../src/lazy-request-logger'
import { loggerOptions } from '../src/logger'

/** A pino logger with the server's own options (level, redaction), writing JSON lines into `lines`. */
function serverLogger(level: string, lines: Array<Record<string, unknown>>) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return pino({ ...(loggerOptions(loadConfig({ OTA_LOG_LEVEL: level })) as LoggerOptions), base: { pid: 1 } }, sink)
}

t.test('a request logger writes what a pino child would: its request id, the parent bindings, redaction kept', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const root = serverLogger('info', lines)
  const log = lazyRequestLogger(root, { reqId: 'req-7' }, {})
  log.info({ authorization: 'Bearer secret', token: 'abc', device: 'aabbccddeeff' }, 'polled')
  log.error({ err: new Error('boom') }, 'request failed')
  t.equal(lines.length, 2)
  t.match(lines[0], { reqId: 'req-7', pid: 1, msg: 'polled', authorization: '[redacted]', token: '[redacted]', device: 'aabbccddeeff' })
  t.match(lines[1], { reqId: 'req-7', level: 50, msg: 'request failed', err: { message: 'boom' } })
  const nested = log.child({ step: 'check-in' })
  nested.warn('slow')
  t.match(lines[2], { reqId: 'req-7', step: 'check-in', msg: 'slow' })
})

t.test("below the logger's level nothing is written, and the level reads as the parent's", async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const root = serverLogger('warn', lines)
  const log = new LazyRequestLogger(root, { reqId: 'req-1' }, {})
  t.equal(log.level, 'warn')
  log.info('not written')
  log.debug('not written either')
  t.same(lines, [])
  log.warn('written')
  t.match(lines, [{ reqId: 'req-1', msg: 'written' }])
  log.level = 'error'
  t.equal(log.level, 'error')
  t.equal(root.level, 'warn', 'a request changing its own level leaves the server logger alone')
})
