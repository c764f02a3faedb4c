import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { notFound } from '../errors'
import { publishRelease } from '../release/publish'
import { BoardName, ChannelName, errors, Sequence, Sha256Hex, Version } from '../schemas/common'
import { releaseView, ReleaseView } from '../schemas/release'
import type { Release } from '../repositories/releases'
import { implicitRollout, type Rollout } from '../repositories/rollouts'
import { rolloutSummary } from '../schemas/rollout'

/** A release with its rollout (none for a historical release without binary). */
const withRollout = (r: Release, rollout: Rollout | undefined) =>
  releaseView(r, r.sha256 === null ? null : rolloutSummary(rollout ?? implicitRollout(r)))

const PublishBody = Type.Object({
  board: BoardName,
  version: Version,
  sequence: Sequence,
  sha256: Sha256Hex,
  // Beyond "one line, no spaces" (they are lines of the signed statement), the form of tag and
  // commit is left to the provenance check, whose refusal says what to fix.
  tag: Type.String({ pattern: '^\\S{1,200}$' }),
  commit: Type.String({ pattern: '^\\S{1,100}$' }),
  signature: Type.String({ minLength: 1, maxLength: 512, description: 'base64 DER ECDSA P-256/SHA-256 over the release statement' }),
  key_id: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'first 16 hex of SHA-256 of the key’s DER SPKI' }),
  channel: Type.Optional(ChannelName),
  notes: Type.Optional(Type.String({ maxLength: 2000 })),
  rollout_percent: Type.Optional(
    Type.Number({ minimum: 0, maximum: 100, description: 'share of the channel’s devices offered it at first (default: the channel’s rollout policy, 100 unless set)' })
  ),
})

const releases: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/releases',
    {
      schema: {
        summary: 'Publish a signed release of an uploaded binary',
        tags: ['releases'],
        body: PublishBody,
        response: { 201: ReleaseView, ...errors(400, 401, 403, 404, 409, 422) },
      },
      onRequest: app.requireRole('releaser'),
    },
    async (request, reply) => {
      const release = await publishRelease(
        { repos: app.repos, artifacts: app.artifacts, config: app.config },
        request.body,
        request.identity?.name ?? 'unknown'
      )
      request.log.info({ board: release.board, version: release.version, sequence: release.sequence }, 'release published')
      return reply.code(201).send(withRollout(release, await app.repos.rollouts.get(release.id)))
    }
  )

  app.get(
    '/v1/releases',
    {
      schema: {
        summary: 'Releases, newest (highest sequence) first',
        tags: ['releases'],
        querystring: Type.Object({ board: Type.Optional(BoardName), channel: Type.Optional(ChannelName) }),
        response: { 200: Type.Object({ releases: Type.Array(ReleaseView) }), ...errors(400, 401, 403) },
      },
      onRequest: app.requireRole('releaser', 'operator'),
    },
    async (request) => {
      const list = await app.repos.releases.list({ board: request.query.board, channel: request.query.channel })
      const rollouts = await app.repos.rollouts.byRelease({ board: request.query.board, channel: request.query.channel })
      return { releases: list.map((r) => withRollout(r, rollouts.get(r.id))) }
    }
  )

  app.get(
    '/v1/releases/:board/:version',
    {
      schema: {
        summary: 'One release',
        tags: ['releases'],
        params: Type.Object({ board: BoardName, version: Version }),
        response: { 200: ReleaseView, ...errors(400, 401, 403, 404) },
      },
      onRequest: app.requireRole('releaser', 'operator'),
    },
    async (request) => {
      const { board, version } = request.params
      const release = await app.repos.releases.get(board, version)
      if (!release) throw notFound('release_not_found', `board ${board} has no release named ${version}: list them with GET /v1/releases?board=${board}`)
      return withRollout(release, await app.repos.rollouts.get(release.id))
    }
  )
}

export default releases
