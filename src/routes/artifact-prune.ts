import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { durationParam } from '../duration'
import { pruneUnreleased } from '../release/artifact-prune'
import { errors, Sha256Hex } from '../schemas/common'
import { routePlugin } from './route-plugin'

export const DEFAULT_PRUNE_AGE = '7d'

const PrunedArtifact = Type.Object({ sha256: Sha256Hex, size: Type.Integer(), uploaded_at: Type.String({ format: 'date-time' }) })

/**
 * POST /v1/artifacts/prune: deletes uploads that no release names, older than `older_than`
 * (default 7d, so that an upload whose release is being published is left alone).
 */
const artifactPrune: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/artifacts/prune',
    {
      schema: {
        summary: 'Delete uploaded binaries that no release names',
        tags: ['releases'],
        body: Type.Optional(
          Type.Object(
            {
              older_than: Type.Optional(Type.String({ maxLength: 16, description: `uploaded longer ago than this, e.g. 7d (default ${DEFAULT_PRUNE_AGE})` })),
              dry_run: Type.Optional(Type.Boolean({ description: 'list what would be deleted, delete nothing' })),
            },
            { additionalProperties: false }
          )
        ),
        response: {
          200: Type.Object({ dry_run: Type.Boolean(), older_than: Type.String(), removed: Type.Array(PrunedArtifact), bytes: Type.Integer() }),
          ...errors(400, 401, 403),
        },
      },
      onRequest: app.requireRole('releaser'),
    },
    async (request) => {
      const olderThan = request.body?.older_than ?? DEFAULT_PRUNE_AGE
      const dryRun = request.body?.dry_run ?? false
      const before = app.clock.now() - durationParam('older_than', olderThan)
      const removed = await pruneUnreleased(app, before, dryRun)
      request.log.info({ count: removed.length, dryRun, olderThan }, 'unreleased uploads pruned')
      return {
        dry_run: dryRun,
        older_than: olderThan,
        removed: removed.map((a) => ({ sha256: a.sha256, size: a.size, uploaded_at: new Date(a.created_at).toISOString() })),
        bytes: removed.reduce((n, a) => n + a.size, 0),
      }
    }
  )
}

export default routePlugin('artifact-prune', artifactPrune)
