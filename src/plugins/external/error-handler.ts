import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { Refusal, Unhealthy, databaseUnavailable, insufficientStorage, isStorageFull, type ErrorCode } from '../../errors'
import { DATABASE_RETRY_AFTER_S, isDatabaseUnavailable } from '../../db/postgres-outage'
import { patternDescription } from '../../schemas/common'

/**
 * The HTTP status of every refusal, and the one place that knows it: a code added to ErrorCode
 * without a status here does not compile.
 */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  key_invalid: 400,
  unauthorized: 401,
  device_token_required: 401,
  device_token_invalid: 401,
  device_token_expired: 401,
  enrollment_token_invalid: 401,
  challenge_invalid: 401,
  forbidden: 403,
  device_pending: 403,
  device_rejected: 403,
  device_revoked: 403,
  not_found: 404,
  no_release: 404,
  artifact_not_found: 404,
  release_not_found: 404,
  device_not_found: 404,
  board_not_found: 404,
  pin_not_found: 404,
  no_factory_image: 404,
  device_not_enrolled: 404,
  enrollment_not_found: 404,
  request_timeout: 408,
  conflict: 409,
  sequence_not_increasing: 409,
  version_exists: 409,
  tag_exists: 409,
  binary_exists: 409,
  version_in_field: 409,
  import_conflict: 409,
  current_mismatch: 422,
  rollout_conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  expectation_failed: 417,
  digest_mismatch: 422,
  signature_invalid: 422,
  unknown_key: 422,
  key_retired: 422,
  image_invalid: 422,
  chip_mismatch: 422,
  too_large_for_slot: 422,
  provenance_failed: 422,
  factory_signature_invalid: 422,
  factory_bootloader_invalid: 422,
  factory_bootloader_chip_mismatch: 422,
  factory_partition_table_invalid: 422,
  factory_partition_table_md5_mismatch: 422,
  factory_no_otadata: 422,
  factory_too_few_ota_slots: 422,
  factory_ota_slot_too_small: 422,
  factory_app_mismatch: 422,
  factory_too_large_for_flash: 422,
  rate_limited: 429,
  too_many_pending: 429,
  headers_too_large: 431,
  internal_error: 500,
  overloaded: 503,
  database_unavailable: 503,
  insufficient_storage: 507,
}

/** The status of every failed health check (an Unhealthy refusal), whatever its code. */
export const UNHEALTHY_STATUS = 503

/** The code of a Fastify error (body too large, unsupported type…) that carries only a status. */
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

/**
 * One place turns every failure into `{"error", "message"}`. 4xx messages tell the client what to
 * fix; 5xx details stay in the log.
 */
export default fp(
  async function errorHandlerPlugin(app) {
    app.setErrorHandler((err: FastifyError | Refusal, request, reply) => {
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
      if (err instanceof Refusal) {
        return reply.code(err instanceof Unhealthy ? UNHEALTHY_STATUS : HTTP_STATUS[err.code]).headers(err.headers).send({ ...err.details, error: err.code, message: err.message })
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
