import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { DeviceId, errors, normalizeDevice } from '../schemas/common'
import { ChallengeAnswer, EnrollAnswer, EnrollBody, TokenAnswer, TokenBody } from '../schemas/device-credentials'
import { routePlugin } from './route-plugin'

const Params = Type.Object({ device: DeviceId })

/**
 * What a device calls to get credentials: enroll its public key, then trade a signed challenge for
 * a short-lived device token. None of these needs a token; all are rate limited per address like
 * every device route.
 */
const deviceEnrollment: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/devices/:device/enroll',
    {
      config: { device: true },
      bodyLimit: 4096,
      schema: {
        summary: 'A device asks to be admitted with its P-256 public key (accepted at once with an enrollment token or on the allow-list)',
        tags: ['devices'],
        params: Params,
        body: EnrollBody,
        response: {
          200: { ...EnrollAnswer, description: 'the key is accepted: get a device token' },
          202: { ...EnrollAnswer, description: 'the key waits for an operator' },
          ...errors(400, 401, 403, 404, 409, 413, 415, 429),
        },
      },
    },
    async (request, reply) => {
      const b = request.body
      const answer = await app.admission.enroll({
        device: normalizeDevice(request.params.device),
        publicKey: b.public_key,
        board: b.board,
        address: request.ip,
        enrollmentToken: b.enrollment_token,
        rotationSignature: b.rotation_signature,
      })
      return reply.code(answer.state === 'accepted' ? 200 : 202).send(answer)
    }
  )

  app.get(
    '/v1/devices/:device/challenge',
    {
      config: { device: true },
      schema: {
        summary: 'A fresh challenge for the device to sign with its key (valid 5 minutes)',
        tags: ['devices'],
        params: Params,
        response: { 200: ChallengeAnswer, ...errors(400) },
      },
    },
    async (request, reply) => {
      const { challenge, expiresAt } = app.deviceTokens.challenge(normalizeDevice(request.params.device))
      return reply.header('cache-control', 'no-store').send({ challenge, expires_at: new Date(expiresAt).toISOString() })
    }
  )

  app.post(
    '/v1/devices/:device/token',
    {
      config: { device: true },
      bodyLimit: 4096,
      schema: {
        summary: 'A device token for an accepted device that signed a challenge with its key',
        tags: ['devices'],
        params: Params,
        body: TokenBody,
        response: { 200: TokenAnswer, ...errors(400, 401, 403, 404, 413, 415) },
      },
    },
    async (request, reply) => {
      const device = normalizeDevice(request.params.device)
      const { token, expiresAt } = await app.admission.token(app.deviceTokens, device, request.body.challenge, request.body.signature)
      return reply.header('cache-control', 'no-store').send({ token, expires_at: new Date(expiresAt).toISOString() })
    }
  )
}

export default routePlugin('device-enrollment', deviceEnrollment)
