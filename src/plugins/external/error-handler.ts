import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { AppError, databaseUnavailable, insufficientStorage, isStorageFull, type ErrorCode } from '../../errors'
import { DATABASE_RETRY_AFTER_S, isDatabaseUnavailable } from '../../db/postgres-outage'
import { patternDescription } from '../../schemas/common'
import { RolloutRefusal, type RolloutRefusalCode } from '../../fleet/rollout-rules'

const CODES_BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  429: 'rate_limited',
  503: 'overloaded',
}

/** The HTTP status of each refusal of a rollout change. */
const ROLLOUT_REFUSAL_STATUS: Record<RolloutRefusalCode, 404 | 409> = {
  no_release: 404,
  release_not_found: 404,
  pin_not_found: 404,
  rollout_conflict: 409,
}

/**
 * One place turns every failure into `{"error", "message"}`. 4xx messages tell the client what to
 * fix; 5xx details stay in the log.
 */
export default fp(
  async function errorHandlerPlugin(app) {
    app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
      if (isStorageFull(err)) {
        // The operator must hear of it: every write fails until space is freed.
        request.log.error({ err }, 'disk full: a write failed')
        err = insufficientStorage(`${request.method} ${request.routeOptions.url ?? 'request'}`)
      }
      if (isDatabaseUnavailable(err)) {
        // Logged without a stack: one line per failed request while PostgreSQL is down is enough.
        request.log.warn({ err: err.message }, 'database unavailable: answered 503')
        err = databaseUnavailable(DATABASE_RETRY_AFTER_S)
      }
      if (err instanceof RolloutRefusal) {
        return reply.code(ROLLOUT_REFUSAL_STATUS[err.code]).send({ error: err.code, message: err.message })
      }
      if (err instanceof AppError) {
        return reply.code(err.statusCode).headers(err.headers).send({ error: err.code, message: err.message })
      }
      if (err.validation) {
        const where = err.validationContext ?? 'request'
        const first = err.validation[0]
        const field = first?.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : ''
        const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty
        const subject = missing ? `${where} ${missing}` : field ? `${where} ${field}` : where
        const pattern = first?.keyword === 'pattern' ? patternDescription(String((first.params as { pattern?: unknown }).pattern)) : undefined
        const what = missing ? 'is required' : pattern ? `must be ${pattern}` : first?.message ?? 'is invalid'
        return reply.code(400).send({ error: 'bad_request', message: `${subject} ${what}` })
      }
      const status = err.statusCode ?? 500
      if (status >= 400 && status < 500) {
        return reply.code(status).send({ error: CODES_BY_STATUS[status] ?? 'bad_request', message: err.message })
      }
      request.log.error({ err }, 'request failed')
      return reply.code(status >= 500 && status < 600 ? status : 500).send({
        error: status === 503 ? 'overloaded' : 'internal_error',
        message: 'the server failed to handle this request; it has been logged',
      })
    })

    app.setNotFoundHandler((request, reply) => {
      reply.code(404).send({ error: 'not_found', message: `no route for ${request.method} ${request.url.split('?')[0]}` })
    })
  },
  { name: 'error-handler' }
)
