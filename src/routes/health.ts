import { statfs } from 'node:fs/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Unhealthy } from '../errors'
import { errors } from '../schemas/common'
import { routePlugin } from './route-plugin'

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`

const health: FastifyPluginAsyncTypebox = async (app) => {
  const dataDir = app.config.OTA_DATA_DIR
  const minFree = app.config.OTA_MIN_FREE_BYTES

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness, database and free disk check',
        description: 'Answers 503 while the database (or, on PostgreSQL, its change feed) does not answer or the data folder has less than OTA_MIN_FREE_BYTES free.',
        tags: ['operations'],
        response: { 200: Type.Object({ status: Type.Literal('ok') }), ...errors(503) },
      },
    },
    async () => {
      try {
        await app.backend.ping()
        // Without the feed this instance could offer a plan other instances have changed.
        if (app.changes && !app.changes.connected) throw new Error('the change feed is not listening')
      } catch (err) {
        app.log.error({ err }, 'health check: database does not answer')
        throw new Unhealthy('overloaded', 'the database does not answer')
      }
      if (minFree > 0) {
        const fs = await statfs(dataDir)
        const free = fs.bavail * fs.bsize
        if (free < minFree) {
          app.log.error({ free, minFree, dataDir }, 'health check: the data folder is nearly full')
          throw new Unhealthy(
            'insufficient_storage',
            `the data folder ${dataDir} has ${mib(free)} free, under OTA_MIN_FREE_BYTES (${mib(minFree)}): uploads and check-ins will fail; free some space`
          )
        }
      }
      return { status: 'ok' as const }
    }
  )
}

export default routePlugin('health', health)
