import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Refusal } from '../errors'
import { CHIP_FAMILIES, isChipName } from '../esp/chips'
import { firstFlashOf, type FirstFlash } from '../fleet/first-flash'
import { noRelease } from '../fleet/no-release'
import { binaryDigest } from '../http/binary-file'
import { allowAnyOrigin, preflight } from '../http/cors'
import { baseUrlSettings, requestBaseUrl } from '../http/public-url'
import { sendArtifact } from '../http/send-artifact'
import { FIELD_FIRMWARE_MAX_APP_SIZE } from '../manifest/field-manifest'
import { BoardName, ChannelOrDefault, DEFAULT_CHANNEL, errors } from '../schemas/common'
import { WebInstallManifest } from '../schemas/web-install'
import { routePlugin } from './route-plugin'

const FACTORY = '/v1/factory'

/** What a download of a factory image answers; `notModified` says when it is a 304. */
const factoryDownload = (notModified: string) => ({
  200: Type.Unknown({ description: 'the whole factory image (application/octet-stream)' }),
  206: Type.Unknown({ description: 'the requested byte range (application/octet-stream)' }),
  304: Type.Null({ description: `${notModified}; no body` }),
  ...errors(404, 412, 416),
})

/**
 * First flash of a new module, from the same gated releases: /firmware.bin (the homepage wizard's
 * path, for the legacy board and channel) and the ESP Web Tools manifest of any board and channel.
 * Both serve the factory image of the release the channel offers, or of the newest earlier release
 * that has one (src/fleet/first-flash.ts), and are readable from any origin. None of these routes
 * asks for a device token, even with OTA_DEVICE_AUTH=required: a browser installer has none, and a
 * module being flashed for the first time has not enrolled yet. So the manifest names its image
 * under /v1/factory/, which serves factory images only, never an application binary.
 */
const firstFlash: FastifyPluginAsyncTypebox = async (app) => {
  const publicBase = baseUrlSettings(app.config)

  async function requireFirstFlash(board: string, channel: string, maxSize?: number): Promise<FirstFlash> {
    const ff = await firstFlashOf(app.repos, board, channel, maxSize)
    if (ff) return ff
    const none = await noRelease(app.repos, board, channel)
    if (!none.knownBoard || (await app.repos.releases.latest(board, channel)) === undefined) throw none.error
    throw new Refusal(
      'no_factory_image',
      `no release of board ${board} on channel ${channel} carries a factory image: publish one with \`ota-gate release publish … --factory merged.bin\``
    )
  }

  app.route({
    method: ['GET', 'HEAD'],
    url: '/firmware.bin',
    config: { device: true, download: true },
    schema: {
      summary: 'The factory image (whole flash from 0) of the release /firmware.json offers: single byte ranges, ETag, revalidated',
      tags: ['devices'],
      response: factoryDownload('If-None-Match matched'),
    },
    onSend: allowAnyOrigin,
    handler: async (request, reply) => {
      // The same choice as /firmware.json's, so that md5 there describes these bytes.
      const { factory } = await requireFirstFlash(app.config.OTA_LEGACY_BOARD, app.config.OTA_LEGACY_CHANNEL, FIELD_FIRMWARE_MAX_APP_SIZE)
      return sendArtifact(request, reply, factory, app, { immutable: false })
    },
  })
  preflight(app, '/firmware.bin')

  app.get(
    '/v1/web-install/:board/manifest.json',
    {
      config: { device: true },
      schema: {
        summary: 'ESP Web Tools manifest installing the factory image of the release the board and channel offer',
        tags: ['devices'],
        params: Type.Object({ board: BoardName }),
        querystring: Type.Object({ channel: ChannelOrDefault }),
        response: { 200: WebInstallManifest, ...errors(400, 404) },
      },
      onSend: allowAnyOrigin,
    },
    async (request, reply) => {
      const { board } = request.params
      const { channel } = request.query
      const { release, factory } = await requireFirstFlash(board, channel)
      const chip = (await app.repos.boards.get(board))?.chip
      if (chip === undefined || !isChipName(chip)) throw new Error(`board ${board} has no known chip (${chip})`)
      // The immutable URL: the bytes cannot change between the manifest and the download.
      const path = `${requestBaseUrl(request, publicBase)}${FACTORY}/${factory.sha256}.bin`
      return reply.header('cache-control', 'no-cache').send({
        name: channel === DEFAULT_CHANNEL ? board : `${board} (${channel})`,
        version: release.version,
        new_install_prompt_erase: true,
        builds: [{ chipFamily: CHIP_FAMILIES[chip], parts: [{ path, offset: 0 }] }],
      })
    }
  )
  preflight(app, '/v1/web-install/:board/manifest.json')

  app.route({
    method: ['GET', 'HEAD'],
    url: `${FACTORY}/:file`,
    config: { device: true, download: true },
    schema: {
      summary: "A release's factory image by its SHA-256 (what web-install manifests name): single byte ranges, ETag, immutable caching",
      tags: ['devices'],
      params: Type.Object({ file: Type.String({ description: '<sha256>.bin, 64 lowercase hex, of a factory image' }) }),
      response: factoryDownload('If-None-Match or If-Modified-Since matched'),
    },
    onSend: allowAnyOrigin,
    handler: async (request, reply) => {
      const sha256 = binaryDigest(request.params.file, FACTORY)
      const factory = await app.repos.factoryImages.withDigest(sha256)
      if (!factory) {
        throw new Refusal('not_found', `no release has a factory image with SHA-256 ${sha256}: other binaries are at /v1/firmware/<sha256>.bin`)
      }
      return sendArtifact(request, reply, factory, app, { lastModified: new Date(factory.created_at) })
    },
  })
  preflight(app, `${FACTORY}/:file`)
}

export default routePlugin('first-flash', firstFlash)
