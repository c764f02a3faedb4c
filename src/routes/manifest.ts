import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { badRequest } from '../errors'
import { chooseTarget, type Target } from '../fleet/target'
import { baseUrlSettings, downloadBaseUrl } from '../http/public-url'
import { SignedManifests } from '../manifest/signed-manifests'
import { sendNotModified } from '../http/not-modified'
import { matchesIfNoneMatch } from '../http/range'
import { BoardName, ChannelName, ChannelOrDefault, DeviceId, Sha256Hex, Version, errors, normalizeDevice } from '../schemas/common'
import { noRelease } from '../fleet/no-release'
import { DELTA_FORMAT, chooseDelta, type DeltaOffer } from '../fleet/delta-offer'
import { standingOf } from '../fleet/device-standing'
import { routePlugin } from './route-plugin'

const ManifestQuery = Type.Object({
  board: BoardName,
  channel: ChannelOrDefault,
  device: Type.Optional(DeviceId),
  version: Type.Optional(Version),
  // 0 is allowed here: a hand-built binary reports it (and never flashes).
  sequence: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295, description: 'the sequence the device runs' })),
  // A format this server does not make is no error: the device simply gets no delta.
  delta: Type.Optional(Type.String({ pattern: '^[a-z0-9_]{1,32}$', description: `the patch format the device applies: ${DELTA_FORMAT}` })),
  running: Type.Optional({ ...Sha256Hex, description: 'SHA-256 of the whole image the device runs (its last update’s binary)' }),
})

const DeltaObject = Type.Object({
  format: Type.Literal(DELTA_FORMAT),
  base_sha256: Sha256Hex,
  url: Type.String({ description: 'absolute URL of the patch: 64-byte esp_delta_ota header, then the detools patch' }),
  size: Type.Integer({ description: 'bytes of the patch file' }),
  sha256: Sha256Hex,
})

/** The contract's rule on the device: flash only a different version, ahead of its own unless rolled back, never from 0. */
function deviceWouldFlash(target: Target, version: string, sequence: number): boolean {
  return (
    target.release.version !== version &&
    sequence !== 0 &&
    (target.release.sequence > sequence || target.allowDowngrade)
  )
}

const manifest: FastifyPluginAsyncTypebox = async (app) => {
  const manifests = new SignedManifests(app.serverKey, app.config.OTA_MANIFEST_TTL, app.clock)
  const base = baseUrlSettings(app.config)
  // Manifests whose delta did not fit, each told to the log once (bounded, like the signing cache).
  const tooLargeForDelta = new Set<string>()

  app.get(
    '/v1/manifest',
    {
      config: { device: true, deviceCredentials: true },
      schema: {
        summary: 'The signed manifest of the release a device should run',
        tags: ['devices'],
        querystring: ManifestQuery,
        response: {
          // Sent as the signed bytes themselves (X-OTA-Signature covers exactly them), never re-serialised.
          200: Type.Unsafe<Buffer>(
            Type.Object({
              board: BoardName,
              channel: ChannelName,
              version: Version,
              sequence: Type.Integer(),
              size: Type.Integer(),
              sha256: Type.String(),
              md5: Type.String(),
              url: Type.String(),
              tag: Type.String(),
              commit: Type.String(),
              release_signature: Type.String(),
              release_key_id: Type.String(),
              allow_downgrade: Type.Boolean(),
              issued_at: Type.String({ format: 'date-time' }),
              expires_at: Type.String({ format: 'date-time' }),
              delta: Type.Optional(DeltaObject),
            })
          ),
          304: Type.Null({ description: 'the manifest named by If-None-Match is current' }),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const q = request.query
      const { channel } = q
      const device = q.device === undefined ? undefined : normalizeDevice(q.device)
      if (device !== undefined && (q.version === undefined || q.sequence === undefined)) {
        throw badRequest('querystring version and sequence are required with device: the check-in records what the device runs')
      }
      const urlBase = downloadBaseUrl(request, base)
      const target = await chooseTarget(app.repos, { board: q.board, channel, device, version: q.version, sequence: q.sequence })

      const checkIn = async (offered: number | null, delta?: DeltaOffer) => {
        if (device === undefined || q.version === undefined || q.sequence === undefined) return
        // An enrolled device's record changes only with its token; the manifest is answered anyway.
        const standing = await standingOf(app.enrolledDevices, app.config.OTA_DEVICE_AUTH, device, request.provenDevice)
        if (!standing.record) return
        const { version, sequence } = q
        await app.recordPoll('manifest', request, () =>
          app.repos.devices.checkIn({
            verified: standing.verified,
            device,
            board: q.board,
            channel,
            version,
            sequence,
            address: request.ip,
            userAgent: request.headers['user-agent'] ?? null,
            offeredReleaseId: offered,
            runningSha256: q.running ?? null,
            delta: delta === undefined ? null : { base: delta.base_sha256, size: delta.size },
          })
        )
      }

      if (!target) {
        const error = await noRelease(app.repos, q.board, channel)
        // A device polling a board the server knows is part of the fleet even before the first release.
        if (error.knownBoard) await checkIn(null)
        throw error.error
      }
      const offers = q.version !== undefined && q.sequence !== undefined && deviceWouldFlash(target, q.version, q.sequence)
      // A delta only to a device that says what it runs and would take the target (or does not say its version).
      const wantsDelta = q.delta === DELTA_FORMAT && q.running !== undefined && (offers || q.version === undefined || q.sequence === undefined)
      const delta = wantsDelta
        ? await chooseDelta(app.repos, app.deltaBuilds, { board: q.board, device, running: q.running as string, target: target.release }, urlBase)
        : undefined
      // Throws ManifestTooLarge (a logged 500) only if the identifier limits stop adding up.
      const signed = manifests.get(target, channel, urlBase, delta)
      if (delta !== undefined && !signed.hasDelta && !tooLargeForDelta.has(signed.etag)) {
        if (tooLargeForDelta.size >= 1024) tooLargeForDelta.clear()
        tooLargeForDelta.add(signed.etag)
        request.log.warn(
          { board: q.board, version: target.release.version, url_base: urlBase },
          'delta left out of the manifest: it would pass 1024 bytes (shorten OTA_PUBLIC_URL or OTA_DOWNLOAD_BASE_URL, the tag or the version; docs/delta.md)'
        )
      }
      // Answered only once the check-in is committed, so an acknowledged poll survives a crash.
      await checkIn(offers ? target.release.id : null, signed.hasDelta ? delta : undefined)
      const ifNoneMatch = request.headers['if-none-match']
      if (ifNoneMatch !== undefined && matchesIfNoneMatch(ifNoneMatch, signed.etag)) {
        return sendNotModified(reply, { etag: signed.etag, 'cache-control': 'no-cache' })
      }
      return reply.headers(signed.headers).send(signed.body)
    }
  )
}

export default routePlugin('manifest', manifest)
