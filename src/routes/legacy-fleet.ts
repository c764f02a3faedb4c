import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { durationParam } from '../duration'
import { fieldFleetSummary } from '../fleet/field-fleet'
import { errors } from '../schemas/common'
import { LegacyQuery, LegacyResponse } from '../schemas/fleet'
import { routePlugin } from './route-plugin'

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * GET /v1/fleet/legacy (operator): the fleet in the field, which polls /firmware.json without
 * naming a device: its clients per address and user agent, what each downloaded and when, and how
 * many downloaded each release. Until devices run a client that names itself, this is the fleet.
 */
const legacyFleet: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/fleet/legacy',
    {
      onRequest: app.requireRole('operator'),
      schema: {
        summary: 'The field fleet (/firmware.json clients) by address and user agent: polls, downloads per release, stale clients',
        tags: ['fleet'],
        querystring: LegacyQuery,
        response: { 200: LegacyResponse, ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const { stale_after } = request.query
      const staleAfter = stale_after ?? app.config.OTA_STALE_AFTER
      const staleBefore = app.clock.now() - (stale_after === undefined ? app.config.staleAfterMs : durationParam('stale_after', stale_after))
      const limit = request.query.limit ?? 200
      const repo = app.repos.legacyClients
      const listed = await repo.list(limit + 1)
      const clients = listed.slice(0, limit)
      const downloads = await repo.downloadsOf(clients)
      const key = (c: { address: string; user_agent: string }) => `${c.address}\n${c.user_agent}`
      const byClient = new Map<string, typeof downloads>()
      for (const d of downloads) byClient.set(key(d), [...(byClient.get(key(d)) ?? []), d])
      return {
        field_fleet: await fieldFleetSummary(app.repos, app.config, staleBefore),
        stale_after: staleAfter,
        releases: (await repo.releaseCounts(app.config.OTA_LEGACY_BOARD)).map(({ release_id: _id, ...r }) => r),
        clients: clients.map((c) => ({
          address: c.address,
          user_agent: c.user_agent,
          first_seen: iso(c.first_seen),
          last_seen: iso(c.last_seen),
          polls: c.polls,
          stale: c.last_seen < staleBefore,
          downloads: (byClient.get(key(c)) ?? []).map((d) => ({
            version: d.version,
            sequence: d.sequence,
            first_at: iso(d.first_at),
            last_at: iso(d.last_at),
            downloads: d.downloads,
          })),
        })),
        more: listed.length > limit,
      }
    }
  )
}

export default routePlugin('legacy-fleet', legacyFleet)
