import type { FastifyPluginAsync } from 'fastify'
import { AutoHalt } from '../../fleet/auto-halt'

/**
 * Stops a rollout by itself when failures pile up: checked after each check-in or report that
 * records a failure or rollback. A failed check never fails the device's request: it is logged.
 */
const autoHalt: FastifyPluginAsync = async (app) => {
  const halts = new AutoHalt(app.repos)
  app.repos.devices.onSetback(async (releaseIds) => {
    try {
      for (const r of await halts.check(releaseIds)) {
        app.log.warn({ board: r.board, channel: r.channel, version: r.version, reason: r.halted_reason }, 'rollout halted')
      }
    } catch (err) {
      app.log.error({ err, releaseIds }, 'auto-halt check failed')
    }
  })
}

export default autoHalt
