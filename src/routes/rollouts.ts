import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { badRequest } from '../errors'
import type { Actor } from '../repositories/rollout-rows'
import { rolloutChecks } from '../fleet/rollout-rules'
import { BoardName, ChannelName, DeviceId, Version, errors, normalizeDevice } from '../schemas/common'
import { channelRollouts } from '../fleet/rollout-views'
import { ChannelRolloutView, PinView, PolicyView, Reason, RollbackView, RolloutView, pinView, policyView, rollbackView, rolloutView } from '../schemas/rollout'
import { requireBoard } from '../fleet/known-board'
import { routePlugin } from './route-plugin'

const ChannelParams = Type.Object({ board: BoardName, channel: ChannelName })
const ReasonBody = Type.Object({ reason: Reason }, { additionalProperties: false })
/** The most devices one pin call takes: a list from a file, not the whole fleet. */
const MAX_PIN_DEVICES = 10_000

/** The operator's token name and reason, as the audit log records them. */
function actorOf(request: FastifyRequest, reason: string | undefined): Actor {
  return { actor: request.identity?.name ?? 'unknown', reason: reason ?? null }
}

/**
 * Operators steer how releases reach devices: percentages, pause and resume, rollbacks, the
 * per-channel policy, and device pins. Every change is recorded in the audit log with who, when
 * and why. Reading is open to releasers too; changing needs role operator (or admin).
 */
const rollouts: FastifyPluginAsyncTypebox = async (app) => {
  const operator = app.requireRole('operator')

  app.get(
    '/v1/rollouts/:board',
    {
      schema: {
        summary: 'The rollouts of a board: per channel, the current rollout, any rollback, and the policy',
        tags: ['rollouts'],
        params: Type.Object({ board: BoardName }),
        querystring: Type.Object({ channel: Type.Optional(ChannelName) }),
        response: { 200: Type.Object({ board: BoardName, channels: Type.Array(ChannelRolloutView) }), ...errors(400, 401, 403, 404) },
      },
      onRequest: app.requireRole('releaser', 'operator'),
    },
    async (request) => {
      const { board } = request.params
      await requireBoard(app.repos, board)
      const channels = request.query.channel !== undefined ? [request.query.channel] : await app.repos.rolloutQueries.channels(board)
      return { board, channels: await channelRollouts(app.repos, channels.map((channel) => ({ board, channel }))) }
    }
  )

  app.put(
    '/v1/rollouts/:board/:channel/percent',
    {
      schema: {
        summary: 'Set the share of devices the channel’s newest release reaches (raising it only adds devices)',
        tags: ['rollouts'],
        params: ChannelParams,
        body: Type.Object({ percent: Type.Number({ minimum: 0, maximum: 100 }), reason: Reason }, { additionalProperties: false }),
        response: { 200: RolloutView, ...errors(400, 401, 403, 404, 409) },
      },
      onRequest: operator,
    },
    async (request) => {
      const { board, channel } = request.params
      const { percent, reason } = request.body
      return rolloutView(await app.repos.rollouts.setPercent(board, channel, percent, actorOf(request, reason), rolloutChecks))
    }
  )

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/v1/rollouts/:board/:channel/${action}`,
      {
        schema: {
          summary:
            action === 'pause'
              ? 'Pause the channel’s rollout: no new devices join; devices already on the release keep it'
              : 'Resume a paused or halted rollout',
          tags: ['rollouts'],
          params: ChannelParams,
          body: Type.Optional(ReasonBody),
          response: { 200: RolloutView, ...errors(400, 401, 403, 404, 409) },
        },
        // A POST without a body (curl -X POST) is a change without a reason, not a malformed request.
        preValidation: async (request) => {
          request.body ??= {}
        },
        onRequest: operator,
      },
      async (request) => {
        const { board, channel } = request.params
        const who = actorOf(request, request.body?.reason)
        return rolloutView(await app.repos.rollouts.changeState(board, channel, action, who, rolloutChecks))
      }
    )
  }

  app.post(
    '/v1/rollouts/:board/:channel/rollback',
    {
      schema: {
        summary: 'Send every unpinned device of the channel back to an earlier release (allow_downgrade) until the next release',
        tags: ['rollouts'],
        params: ChannelParams,
        body: Type.Object({ to: Version, reason: Reason }, { additionalProperties: false }),
        response: { 200: Type.Object({ board: BoardName, channel: ChannelName, rollback: RollbackView }), ...errors(400, 401, 403, 404, 409) },
      },
      onRequest: operator,
    },
    async (request) => {
      const { board, channel } = request.params
      const rollback = await app.repos.rollouts.rollbackTo(board, channel, request.body.to, actorOf(request, request.body.reason), rolloutChecks)
      return { board, channel, rollback: rollbackView(rollback) }
    }
  )

  app.put(
    '/v1/rollouts/:board/:channel/policy',
    {
      schema: {
        summary: 'Set the channel’s rollout policy: starting percentage and auto-halt thresholds',
        tags: ['rollouts'],
        params: ChannelParams,
        body: Type.Object(
          {
            default_percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
            halt_min_count: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
            halt_min_ratio: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'share of devices that tried, 0–1' })),
            reason: Reason,
          },
          { additionalProperties: false }
        ),
        response: { 200: Type.Object({ board: BoardName, channel: ChannelName, policy: PolicyView }), ...errors(400, 401, 403, 404) },
      },
      onRequest: operator,
    },
    async (request) => {
      const { board, channel } = request.params
      const { reason, ...change } = request.body
      if (Object.keys(change).length === 0) throw badRequest('body must set at least one of default_percent, halt_min_count, halt_min_ratio')
      await requireBoard(app.repos, board)
      const policy = await app.repos.rollouts.setPolicy(board, channel, change, actorOf(request, reason))
      return { board, channel, policy: policyView(policy) }
    }
  )

  app.get(
    '/v1/pins',
    {
      schema: {
        summary: 'Pinned devices',
        tags: ['rollouts'],
        querystring: Type.Object({ board: Type.Optional(BoardName) }),
        response: { 200: Type.Object({ pins: Type.Array(PinView) }), ...errors(400, 401, 403) },
      },
      onRequest: operator,
    },
    async (request) => ({ pins: (await app.repos.rolloutQueries.pinsList({ board: request.query.board })).map(pinView) })
  )

  app.put(
    '/v1/pins',
    {
      schema: {
        summary: 'Pin devices to a release: they keep it whatever the rollout does',
        tags: ['rollouts'],
        body: Type.Object(
          { devices: Type.Array(DeviceId, { minItems: 1, maxItems: MAX_PIN_DEVICES }), board: BoardName, version: Version, reason: Reason },
          { additionalProperties: false }
        ),
        response: { 200: Type.Object({ pins: Type.Array(PinView) }), ...errors(400, 401, 403, 404, 409) },
      },
      onRequest: operator,
    },
    async (request) => {
      const { board, version, reason } = request.body
      const devices = [...new Set(request.body.devices.map(normalizeDevice))]
      const pins = await app.repos.rollouts.pinDevices(devices, board, version, actorOf(request, reason), rolloutChecks)
      return { pins: pins.map(pinView) }
    }
  )

  app.delete(
    '/v1/pins/:device',
    {
      schema: {
        summary: 'Unpin a device: it follows its channel’s rollout again',
        tags: ['rollouts'],
        params: Type.Object({ device: DeviceId }),
        querystring: Type.Object({ reason: Reason }),
        response: { 200: PinView, ...errors(400, 401, 403, 404) },
      },
      onRequest: operator,
    },
    async (request) => {
      const device = normalizeDevice(request.params.device)
      return pinView(await app.repos.rollouts.unpin(device, actorOf(request, request.query.reason), rolloutChecks))
    }
  )
}

export default routePlugin('rollouts', rollouts)
