import type { FastifyServerOptions } from 'fastify'
import pretty from 'pino-pretty'
import type { Config } from './config'

/**
 * pino options: JSON lines (for journald and log shippers), credentials never written. Request
 * logging is one line per request (see request-log.ts), without headers. OTA_LOG_FORMAT=pretty
 * writes the same lines as text for a person at a terminal, synchronously so that nothing is lost
 * when the process ends.
 */
export function loggerOptions(config: Config, destination: NodeJS.WritableStream = process.stdout): FastifyServerOptions['logger'] {
  const options = {
    level: config.OTA_LOG_LEVEL,
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        'authorization',
        'token',
        '*.token',
        'enrollment_token',
        '*.enrollment_token',
        'OTA_SERVER_KEY',
        '*.OTA_SERVER_KEY',
      ],
      censor: '[redacted]',
    },
  }
  if (config.OTA_LOG_FORMAT === 'json') return options
  const isTTY = (destination as { isTTY?: boolean }).isTTY === true
  return {
    ...options,
    stream: pretty({ destination, sync: true, colorize: isTTY, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }),
  }
}
