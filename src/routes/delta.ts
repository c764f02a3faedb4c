import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Refusal } from '../errors'
import { sendArtifact } from '../http/send-artifact'
import { BoardName, SHA256_FORM, SHA256_HEX, errors } from '../schemas/common'
import { boardNotFound } from '../fleet/known-board'
import { routePlugin } from './route-plugin'

const FILE = new RegExp(`^(${SHA256_HEX})\\.patch$`)

const Bytes = (description: string) => Type.Unknown({ description: `${description} (application/octet-stream)` })

/** Delta patches, served like binaries; and the operators' per-board switch. */
const delta: FastifyPluginAsyncTypebox = async (app) => {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/v1/delta/:base/:file',
    config: { device: true, download: true },
    schema: {
      summary: 'Download the esp_delta_ota patch from one binary to another: byte ranges, If-Range, ETag, immutable caching',
      tags: ['devices'],
      params: Type.Object({
        base: Type.String({ description: 'SHA-256 of the binary the device runs, 64 lowercase hex' }),
        file: Type.String({ description: '<sha256 of the target binary>.patch' }),
      }),
      response: {
        200: Bytes('the whole patch: 64-byte esp_delta_ota header, then the detools sequential patch'),
        206: Bytes('the requested byte range, as Content-Range says'),
        304: Type.Null({ description: 'If-None-Match or If-Modified-Since matched; no body' }),
        ...errors(404, 412, 416),
      },
    },
    handler: async (request, reply) => {
      // Malformed names are a 404 like any missing patch, as for /v1/firmware.
      const base = SHA256_FORM.test(request.params.base) ? request.params.base : undefined
      const target = FILE.exec(request.params.file)?.[1]
      if (base === undefined || target === undefined) {
        throw new Refusal('not_found', 'not a patch name: use /v1/delta/<base sha256>/<target sha256>.patch with 64 lowercase hex digits each')
      }
      const patch = await app.repos.deltaPatches.get(base, target)
      if (!patch || patch.state !== 'ready' || patch.sha256 === null || patch.size === null) {
        throw new Refusal('not_found', `no patch from ${base} to ${target} is built on this server: download the full image`)
      }
      // A patch switched off is still served: devices part-way through a download may finish it.
      return sendArtifact(request, reply, { sha256: patch.sha256, size: patch.size }, app, { lastModified: new Date(patch.updated_at) })
    },
  })

  app.put(
    '/v1/boards/:board/delta',
    {
      onRequest: app.requireRole('operator'),
      schema: {
        summary: 'Turn delta updates on or off for a board',
        tags: ['boards'],
        params: Type.Object({ board: BoardName }),
        body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: Type.Object({ board: BoardName, delta_enabled: Type.Boolean() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { board } = request.params
      if (!(await app.repos.deltaPatches.setBoardDelta(board, request.body.enabled))) {
        throw await boardNotFound(app.repos, board)
      }
      request.log.info({ board, enabled: request.body.enabled, by: request.identity?.name }, 'board delta switched')
      return { board, delta_enabled: request.body.enabled }
    }
  )
}

export default routePlugin('delta', delta)
