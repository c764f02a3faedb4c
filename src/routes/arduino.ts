import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { badRequest, Refusal } from '../errors'
import { arduinoAnswer, identifySketch } from '../fleet/arduino-offer'
import { noRelease } from '../fleet/no-release'
import { chooseTarget } from '../fleet/target'
import { standingOf } from '../fleet/device-standing'
import { sendNotModified } from '../http/not-modified'
import { sendArtifact } from '../http/send-artifact'
import { BoardName, ChannelOrDefault, DeviceId, Version, errors, normalizeDevice } from '../schemas/common'
import { routePlugin } from './route-plugin'

const bytes = (n: number) => n.toLocaleString('en-US')

/**
 * Arduino-ESP32 HTTPUpdate (`httpUpdate.update(client, url, version)`): 200 with the binary starts
 * an update, 304 (no body) means none. Never 204 (an error for older cores) and never a redirect
 * (off by default there). The device is its station MAC, or its base MAC where the chip has no
 * Wi-Fi (HTTPUpdate then sends no x-ESP32-STA-MAC).
 */
const arduino: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/arduino/:board',
    {
      config: { device: true, download: true, deviceCredentials: true },
      schema: {
        summary: 'Arduino-ESP32 HTTPUpdate: the binary when the device should update, else 304',
        tags: ['devices'],
        params: Type.Object({ board: BoardName }),
        querystring: Type.Object({ channel: ChannelOrDefault }),
        headers: Type.Object({
          'x-esp32-sta-mac': Type.Optional(DeviceId),
          'x-esp32-base-mac': Type.Optional(DeviceId),
          'x-esp32-version': Type.Optional(Version),
          'x-esp32-sketch-md5': Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f]{32}$' })),
          'x-esp32-free-space': Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
          'x-esp32-mode': Type.Optional(Type.String()),
        }),
        response: {
          200: Type.Unknown({ description: 'the binary (application/octet-stream), with x-MD5 and x-SHA256' }),
          304: Type.Null({ description: 'no update: the device runs the target, or the target would be a downgrade' }),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const h = request.headers
      const { board } = request.params
      const { channel } = request.query
      const mac = h['x-esp32-sta-mac'] ?? h['x-esp32-base-mac']
      if (mac === undefined) {
        throw badRequest('headers must have x-ESP32-STA-MAC (or x-ESP32-BASE-MAC on a chip without Wi-Fi): the MAC that identifies the device')
      }
      const device = normalizeDevice(mac)
      if (h['x-esp32-mode'] !== undefined && h['x-esp32-mode'] !== 'sketch') {
        throw new Refusal('not_found', `this server serves application images only (x-ESP32-mode: sketch), not "${h['x-esp32-mode']}" images`)
      }
      const sketchMd5 = h['x-esp32-sketch-md5']?.toLowerCase()
      const freeSpace = h['x-esp32-free-space']
      const target = await chooseTarget(app.repos, { board, channel, device, version: h['x-esp32-version'] })
      const running = await identifySketch(app.repos, board, target, h['x-esp32-version'], sketchMd5)
      const answer = target ? arduinoAnswer(target, running, sketchMd5) : undefined
      const offered = target && answer === 'offer' ? target.release : undefined
      const note =
        offered && freeSpace !== undefined && offered.size > freeSpace
          ? `target ${offered.version} (${bytes(offered.size)} bytes) does not fit the free OTA space (${bytes(freeSpace)} bytes)`
          : null
      const standing = await standingOf(app.enrolledDevices, app.config.OTA_DEVICE_AUTH, device, request.provenDevice)
      const checkIn = async () => {
        // An enrolled device's record changes only with its token; the answer is the same.
        if (!standing.record) return
        await app.recordPoll('arduino', request, () =>
          app.repos.devices.checkIn({
            verified: standing.verified,
            device,
            board,
            channel,
            version: running.version,
            sequence: running.sequence,
            address: request.ip,
            userAgent: h['user-agent'] ?? null,
            freeSpace: freeSpace ?? null,
            sketchMd5: sketchMd5 ?? null,
            offeredReleaseId: offered?.id ?? null,
            delivered: offered !== undefined,
            note,
          })
        )
      }

      if (!target) {
        const error = await noRelease(app.repos, board, channel)
        if (!error.knownBoard) throw error.error
        await checkIn()
        return sendNotModified(reply)
      }
      // Answered only once the check-in is committed, so an acknowledged poll survives a crash.
      await checkIn()
      if (!offered) return sendNotModified(reply)
      // Sent even when it does not fit: the device refuses it before downloading, and the note says why.
      return sendArtifact(request, reply, offered, app, {
        immutable: false,
        headers: { 'x-MD5': offered.md5, 'x-SHA256': offered.sha256 },
      })
    }
  )
}

export default routePlugin('arduino', arduino)
