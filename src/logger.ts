import type { FastifyServerOptions } from 'fastify'
import type { Config } from './config'

/**
 * pino options: JSON lines, credentials never written. Request logging is one line per request
 * (see request-log.ts), without headers.
 */
export function loggerOptions(config: Config): FastifyServerOptions['logger'] {
  return {
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
}
