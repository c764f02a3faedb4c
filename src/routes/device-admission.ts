import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { badRequest, Refusal } from '../errors'
import { durationParam } from '../duration'
import { EnrollmentNameTaken } from '../repositories/device-credentials'
import { DeviceId, TOKEN_NAME_FORM, errors, normalizeDevice } from '../schemas/common'
import {
  AllowlistView,
  DeviceKeyView,
  EnrollmentTokenView,
  KeyId,
  KeyState,
  allowlistView,
  deviceKeyView,
  enrollmentTokenView,
} from '../schemas/device-credentials'
import { Reason } from '../schemas/rollout'
import { routePlugin } from './route-plugin'

/** Devices one allow-list call takes: a factory batch from a file, not the whole fleet at once. */
const MAX_ALLOWLIST_DEVICES = 10_000

const who = (request: FastifyRequest, reason: string | undefined) => ({ actor: request.identity?.name ?? 'unknown', reason: reason ?? null })

/** A POST without a body (curl -X POST) is a decision without a reason, not a malformed request. */
async function emptyBody(request: FastifyRequest): Promise<void> {
  request.body ??= {}
}

/** A keyset cursor over (device, key_id), opaque to clients. */
const encodeCursor = (k: { device: string; key_id: string }) => Buffer.from(`${k.device}.${k.key_id}`, 'utf8').toString('base64url')
function decodeCursor(cursor: string): { device: string; key_id: string } {
  const m = /^([0-9a-f]{12})\.([0-9a-f]{16})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (!m) throw badRequest('cursor is not one this server gave: pass next_cursor from the previous page as is')
  return { device: m[1], key_id: m[2] }
}

/**
 * Operators admit devices: the keys waiting (and decided), accept, reject, revoke, the allow-list,
 * and enrollment tokens. Every decision goes to the audit log with who and why.
 */
const deviceAdmission: FastifyPluginAsyncTypebox = async (app) => {
  const operator = app.requireRole('operator')
  const DecisionBody = Type.Object({ key_id: Type.Optional(KeyId), reason: Reason }, { additionalProperties: false })

  app.get(
    '/v1/device-keys',
    {
      onRequest: operator,
      schema: {
        summary: 'Device keys by state (pending: waiting for an operator), in pages',
        tags: ['device credentials'],
        querystring: Type.Object({
          state: Type.Optional(KeyState),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
          cursor: Type.Optional(Type.String({ maxLength: 64, description: 'next_cursor of the previous page' })),
        }),
        response: {
          200: Type.Object({ keys: Type.Array(DeviceKeyView), next_cursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { state, cursor } = request.query
      const limit = request.query.limit ?? 50
      const rows = await app.repos.credentials.list(state, cursor === undefined ? null : decodeCursor(cursor), limit + 1)
      const page = rows.slice(0, limit)
      return { keys: page.map(deviceKeyView), next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]) : null }
    }
  )

  app.get(
    '/v1/devices/:device/keys',
    {
      onRequest: operator,
      schema: {
        summary: "A device's keys and their states, newest request first",
        tags: ['device credentials'],
        params: Type.Object({ device: DeviceId }),
        response: { 200: Type.Object({ device: Type.String(), keys: Type.Array(DeviceKeyView) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const device = normalizeDevice(request.params.device)
      return { device, keys: (await app.repos.credentials.keysOf(device)).map(deviceKeyView) }
    }
  )

  for (const action of ['accept', 'reject', 'revoke'] as const) {
    app.post(
      `/v1/devices/:device/${action}`,
      {
        onRequest: operator,
        preValidation: emptyBody,
        schema: {
          summary: {
            accept: "Accept a device's key (its pending one unless key_id names another); an accepted key replaces the device's previous one",
            reject: "Reject a device's pending key",
            revoke: "Revoke a device's accepted key: its tokens stop working within seconds on every instance",
          }[action],
          tags: ['device credentials'],
          params: Type.Object({ device: DeviceId }),
          body: Type.Optional(DecisionBody),
          response: { 200: DeviceKeyView, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request) => {
        const device = normalizeDevice(request.params.device)
        const key = await app.admission.decide(action, device, request.body?.key_id, who(request, request.body?.reason))
        return deviceKeyView(key)
      }
    )
  }

  app.get(
    '/v1/device-allowlist',
    {
      onRequest: operator,
      schema: {
        summary: 'Device ids accepted at once when they enroll',
        tags: ['device credentials'],
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
          cursor: Type.Optional({ ...DeviceId, description: 'next_cursor of the previous page' }),
        }),
        response: { 200: Type.Object({ devices: Type.Array(AllowlistView), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 100
      const cursor = request.query.cursor === undefined ? null : normalizeDevice(request.query.cursor)
      const rows = await app.repos.credentials.allowlist(cursor, limit + 1)
      const page = rows.slice(0, limit)
      return { devices: page.map(allowlistView), next_cursor: rows.length > limit ? page[page.length - 1].device : null }
    }
  )

  for (const change of ['add', 'remove'] as const) {
    app.post(
      `/v1/device-allowlist/${change}`,
      {
        onRequest: operator,
        bodyLimit: 512 * 1024,
        schema: {
          summary: change === 'add' ? 'Put device ids on the allow-list' : 'Take device ids off the allow-list',
          tags: ['device credentials'],
          body: Type.Object(
            {
              devices: Type.Array(DeviceId, { minItems: 1, maxItems: MAX_ALLOWLIST_DEVICES }),
              ...(change === 'add' ? { note: Type.Optional(Type.String({ maxLength: 200, description: 'e.g. the batch' })) } : {}),
              reason: Reason,
            },
            { additionalProperties: false }
          ),
          response: { 200: Type.Object({ changed: Type.Integer({ description: 'devices added or removed (others were already so)' }) }), ...errors(400, 401, 403, 413, 415) },
        },
      },
      async (request) => {
        const body = request.body as { devices: string[]; note?: string; reason?: string }
        const devices = [...new Set(body.devices.map(normalizeDevice))]
        return { changed: await app.admission.allowlist(change, devices, body.note ?? null, who(request, body.reason)) }
      }
    )
  }

  app.get(
    '/v1/enrollment-tokens',
    {
      onRequest: operator,
      schema: {
        summary: 'Enrollment tokens (names, uses, state; never the tokens)',
        tags: ['device credentials'],
        response: { 200: Type.Object({ tokens: Type.Array(EnrollmentTokenView) }), ...errors(401, 403) },
      },
    },
    async () => {
      const now = app.clock.now()
      return { tokens: (await app.repos.credentials.enrollmentTokens()).map((r) => enrollmentTokenView(r, now)) }
    }
  )

  app.post(
    '/v1/enrollment-tokens',
    {
      onRequest: operator,
      schema: {
        summary: 'Create an enrollment token for a batch of devices; it is shown in this answer only',
        tags: ['device credentials'],
        body: Type.Object(
          {
            name: Type.String({ pattern: TOKEN_NAME_FORM.source, description: 'e.g. the batch: 1-64 letters, digits, ".", "_", "@" or "-"' }),
            max_uses: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
            expires_in: Type.Optional(Type.String({ maxLength: 16, description: 'a duration like 30d' })),
            reason: Reason,
          },
          { additionalProperties: false }
        ),
        response: { 201: Type.Composite([EnrollmentTokenView, Type.Object({ token: Type.String() })]), ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const b = request.body
      const expiresInMs = b.expires_in === undefined ? null : durationParam('body expires_in', b.expires_in)
      try {
        const { token, row } = await app.admission.createEnrollmentToken({ name: b.name, maxUses: b.max_uses ?? null, expiresInMs }, who(request, b.reason))
        return reply.code(201).send({ ...enrollmentTokenView(row, app.clock.now()), token })
      } catch (err) {
        if (err instanceof EnrollmentNameTaken) throw new Refusal('conflict', err.message)
        throw err
      }
    }
  )

  app.post(
    '/v1/enrollment-tokens/:name/revoke',
    {
      onRequest: operator,
      preValidation: emptyBody,
      schema: {
        summary: 'Revoke an enrollment token: devices enrolling with it wait for an operator again',
        tags: ['device credentials'],
        params: Type.Object({ name: Type.String({ pattern: TOKEN_NAME_FORM.source }) }),
        body: Type.Optional(Type.Object({ reason: Reason }, { additionalProperties: false })),
        response: { 200: Type.Object({ revoked: Type.String() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      await app.admission.revokeEnrollmentToken(request.params.name, who(request, request.body?.reason))
      return { revoked: request.params.name }
    }
  )
}

export default routePlugin('device-admission', deviceAdmission)
