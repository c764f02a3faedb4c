import type { FastifyPluginAsync } from 'fastify'
import { AutoHalt } from '../../fleet/auto-halt'

/**
 * Stops a rollout by itself when failures pile up: checked after each check-in or report that
 * records a failure or rollback (of a verified device, unless device credentials are off). A
 * failed check never fails the device's request: it is logged.
 */
const autoHalt: FastifyPluginAsync = async (app) => {
  const onlyVerified = app.config.OTA_DEVICE_AUTH !== 'off'
  const halts = new AutoHalt(app.repos, onlyVerified, app.clock)
  app.repos.devices.onSetback(async (releaseIds, verified) => {
    // What a device that has not proved who it is says never halts a rollout.
    if (onlyVerified && !verified) return
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
