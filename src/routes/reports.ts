import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { badRequest, Refusal } from '../errors'
import { REPORT_STATUSES, type ReportStatus } from '../repositories/device-rows'
import { DeviceId, Version, errors, normalizeDevice } from '../schemas/common'
import { recordDeltaFailure } from '../fleet/delta-failures'
import { standingOf, tokenRequiredFor } from '../fleet/device-standing'
import { routePlugin } from './route-plugin'

export const DETAIL_MAX_BYTES = 1024

/** A failed delta apply: the device falls back to the full image, so no update state moves (docs/delta.md). */
const DELTA_FAILED = 'delta_failed'
const STATUSES = [...REPORT_STATUSES, DELTA_FAILED]

const ReportBody = Type.Object(
  {
    // Checked in the handler so that a wrong status is answered with the list of right ones.
    status: Type.String({ maxLength: 32, description: `one of ${STATUSES.join(', ')}` }),
    version: Version,
    // 0 is allowed: a hand-built binary reports it.
    sequence: Type.Integer({ minimum: 0, maximum: 4294967295 }),
    detail: Type.Optional(Type.String({ description: `at most ${DETAIL_MAX_BYTES} bytes of UTF-8` })),
  },
  { additionalProperties: false }
)

const isStatus = (s: string): s is ReportStatus => (REPORT_STATUSES as readonly string[]).includes(s)

/**
 * Devices say how an update goes. The report is stored as said; success is still only a device
 * seen running the release. A device must have polled once: its board names the release.
 */
const reports: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/devices/:device/reports',
    {
      // Reports are a few hundred bytes; nothing bigger is read.
      bodyLimit: 4096,
      config: { device: true, deviceCredentials: true },
      schema: {
        summary: 'A device reports the progress or outcome of an update',
        tags: ['devices'],
        params: Type.Object({ device: DeviceId }),
        body: ReportBody,
        response: {
          202: Type.Object({ accepted: Type.Literal(true) }),
          ...errors(400, 401, 404, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const { status, version, sequence, detail } = request.body
      if (status !== DELTA_FAILED && !isStatus(status)) throw badRequest(`body status must be one of ${STATUSES.join(', ')}, not "${status}"`)
      if (detail !== undefined && Buffer.byteLength(detail, 'utf8') > DETAIL_MAX_BYTES) {
        throw badRequest(`body detail is ${Buffer.byteLength(detail, 'utf8')} bytes; the limit is ${DETAIL_MAX_BYTES} bytes of UTF-8`)
      }
      const device = normalizeDevice(request.params.device)
      const standing = await standingOf(app.enrolledDevices, app.config.OTA_DEVICE_AUTH, device, request.provenDevice)
      if (!standing.record) throw tokenRequiredFor(device)
      const unknown = () =>
        new Refusal('device_not_found', `device ${device} has never polled: poll /v1/manifest with device, version and sequence first`)
      if (isStatus(status)) {
        const known = await app.repos.devices.report({ device, status, version, sequence, detail: detail ?? null, verified: standing.verified })
        if (!known) throw unknown()
      } else {
        // Unproven failures cost only the device they name its delta; they never switch a patch off for everyone.
        const outcome = await recordDeltaFailure(
          app.repos,
          { device, version, detail: detail ?? null, verified: standing.verified === true },
          app.config.OTA_DELTA_FAILURE_LIMIT,
          app.config.OTA_DEVICE_AUTH !== 'off'
        )
        if (!outcome.known) throw unknown()
        if (outcome.failures !== undefined && outcome.failures >= app.config.OTA_DELTA_FAILURE_LIMIT) {
          request.log.warn({ device, version, failures: outcome.failures }, 'delta patch switched off after failed applies')
        }
      }
      return reply.code(202).send({ accepted: true as const })
    }
  )
}

export default routePlugin('reports', reports)
