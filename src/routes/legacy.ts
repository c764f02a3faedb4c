import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { countLegacyDownload } from '../fleet/legacy-downloads'
import { noRelease } from '../fleet/no-release'
import { chooseTarget, type ServableRelease, type Target } from '../fleet/target'
import { allowAnyOrigin, preflight } from '../http/cors'
import { sendArtifact } from '../http/send-artifact'
import { FIELD_FIRMWARE_MAX_APP_SIZE, fieldManifestBody } from '../manifest/field-manifest'
import { errors } from '../schemas/common'
import { routePlugin } from './route-plugin'

/**
 * The two root paths the ESP32-CAM fleet already in the field polls, for the configured legacy
 * board and channel. Those devices send no identity, so polls are counted per address and user agent.
 *
 * A release larger than the firmware's 1,900,000-byte app_size limit (though it fits the board's
 * slot) is not advertised here: the devices would reject the whole manifest and never update. The
 * newest release that fits keeps being offered (devices behind it still catch up) and a warning is
 * logged once per release; with none that fits, 404 (which the firmware treats as "no update").
 */
const legacy: FastifyPluginAsyncTypebox = async (app) => {
  const board = app.config.OTA_LEGACY_BOARD
  const channel = app.config.OTA_LEGACY_CHANNEL
  const bodies = new Map<string, Buffer>()
  const warned = new Set<number>()

  function warnTooLarge(release: ServableRelease, offered: ServableRelease | undefined): void {
    if (warned.has(release.id)) return
    warned.add(release.id)
    app.log.warn(
      { board, channel, version: release.version, size: release.size, offered: offered?.version ?? null },
      `release ${release.version} (${release.size} bytes) is larger than the ${FIELD_FIRMWARE_MAX_APP_SIZE} bytes the field firmware accepts: ` +
        (offered ? `/firmware.json keeps offering ${offered.version}` : '/firmware.json offers nothing')
    )
  }

  async function fieldTarget(): Promise<Target> {
    const target = await chooseTarget(app.repos, { board, channel, maxSize: FIELD_FIRMWARE_MAX_APP_SIZE })
    if (target) {
      for (const release of target.passedOver) warnTooLarge(release, target.release)
      return target
    }
    const unfit = await chooseTarget(app.repos, { board, channel })
    if (unfit) warnTooLarge(unfit.release, undefined)
    throw (await noRelease(app.repos, board, channel)).error
  }

  app.get(
    '/firmware.json',
    {
      config: { device: true },
      schema: {
        summary: 'The manifest of the ESP32-CAM fleet already in the field (legacy board and channel)',
        tags: ['devices'],
        response: {
          // Sent as prepared bytes; the field firmware's parser rules are checked when they are built.
          200: Type.Unsafe<Buffer>(
            Type.Object({
              version: Type.String(),
              sequence: Type.Integer(),
              app_md5: Type.String(),
              app_size: Type.Integer(),
              allow_downgrade: Type.Boolean(),
              md5: Type.Optional(Type.String({ description: 'of the factory image /firmware.bin serves, when the release carries one' })),
              built_at: Type.Optional(Type.String({ description: 'the factory image’s build time, ISO 8601' })),
            })
          ),
          ...errors(404),
        },
      },
      // The homepage's browser installer reads it from its own origin.
      onSend: allowAnyOrigin,
    },
    async (request, reply) => {
      await app.recordPoll('legacy', request, () => app.repos.devices.recordLegacyPoll(request.ip, request.headers['user-agent'] ?? ''))
      const target = await fieldTarget()
      const factory = await app.repos.factoryImages.ofRelease(target.release.id)
      const key = `${target.release.id}|${target.allowDowngrade}|${factory?.sha256}`
      let body = bodies.get(key)
      if (!body) {
        body = fieldManifestBody(target, factory)
        bodies.set(key, body)
      }
      return reply.header('content-type', 'application/json').header('cache-control', 'no-cache').send(body)
    }
  )

  preflight(app, '/firmware.json')

  app.route({
    method: ['GET', 'HEAD'],
    url: '/firmware.app.bin',
    config: { device: true, download: true },
    schema: {
      summary: 'The binary /firmware.json describes: single byte ranges, ETag, never cached without revalidation',
      tags: ['devices'],
      response: {
        200: Type.Unknown({ description: 'the whole binary (application/octet-stream)' }),
        206: Type.Unknown({ description: 'the requested byte range (application/octet-stream)' }),
        304: Type.Null({ description: 'If-None-Match matched; no body' }),
        ...errors(404, 412, 416),
      },
    },
    // A release published between a device's two requests gives it the new binary, whose MD5 does
    // not match the manifest it read: the firmware refuses it and takes the new one on its next poll.
    handler: async (request, reply) => {
      const { release } = await fieldTarget()
      countLegacyDownload(app.repos, request, reply, release)
      return sendArtifact(request, reply, release, app, { immutable: false })
    },
  })
}

export default routePlugin('legacy', legacy)
