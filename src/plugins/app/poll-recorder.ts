import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { isDatabaseUnavailable } from '../../db/postgres-outage'

export type PollKind = 'manifest' | 'arduino' | 'legacy'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Records a device poll with `write` and counts it. A poll whose record cannot be written (the
     * disk is full, the database fails) is still answered: devices must keep getting their
     * manifest; the failure is logged at error level and counted in ota_checkin_failures_total.
     * Except while PostgreSQL is out of reach: then nothing could be recorded for a while, and the
     * device is told to come back (503 with Retry-After) rather than answered as if it had been.
     */
    recordPoll(kind: PollKind, request: FastifyRequest, write: () => Promise<void>): Promise<void>
  }
}

export default fp(
  async function pollRecorderPlugin(app) {
    app.decorate('recordPoll', async function recordPoll(kind: PollKind, request: FastifyRequest, write: () => Promise<void>) {
      try {
        await write()
      } catch (err) {
        if (isDatabaseUnavailable(err)) throw err
        app.metrics.checkinFailures.inc({ kind })
        request.log.error({ err, kind }, 'check-in not recorded; the poll is answered anyway')
        return
      }
      app.metrics.checkins.inc({ kind })
    })
  },
  { name: 'poll-recorder', dependencies: ['metrics'] }
)
