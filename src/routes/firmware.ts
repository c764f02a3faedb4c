import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Refusal } from '../errors'
import { binaryDigest } from '../http/binary-file'
import { allowAnyOrigin, preflight } from '../http/cors'
import { sendArtifact } from '../http/send-artifact'
import { errors } from '../schemas/common'
import { routePlugin } from './route-plugin'

const Bytes = (description: string) => Type.Unknown({ description: `${description} (application/octet-stream)` })

/** The immutable, content-addressed binaries that manifests point devices at. */
const firmware: FastifyPluginAsyncTypebox = async (app) => {
  const releaserOnly = app.requireRole('releaser')
  app.route({
    method: ['GET', 'HEAD'],
    url: '/v1/firmware/:file',
    config: { device: true, download: true, deviceCredentials: true },
    schema: {
      summary: 'Download a binary by its SHA-256: single byte ranges, If-Range, ETag, immutable caching',
      tags: ['devices'],
      params: Type.Object({ file: Type.String({ description: '<sha256>.bin, 64 lowercase hex' }) }),
      response: {
        200: Bytes('the whole binary'),
        206: Bytes('the requested byte range, as Content-Range says'),
        304: Type.Null({ description: 'If-None-Match or If-Modified-Since matched; no body' }),
        ...errors(401, 403, 404, 412, 416),
      },
    },
    // Browser tools on another origin may read binaries too (web-install manifests name /v1/factory/…).
    onSend: allowAnyOrigin,
    handler: async (request, reply) => {
      const sha256 = binaryDigest(request.params.file, '/v1/firmware')
      const artifact = await app.repos.artifacts.get(sha256)
      const missing = () => new Refusal('not_found', `no binary with SHA-256 ${sha256} is released on this server (an upload not yet released is read with a releaser token)`)
      if (!artifact) throw missing()
      // Devices get only what a release names; an upload awaiting its release is the releasers'.
      if (!(await app.repos.artifacts.isReleased(sha256))) {
        if (request.headers.authorization === undefined) throw missing()
        await releaserOnly.call(app, request, reply)
      }
      return sendArtifact(request, reply, artifact, app, { lastModified: new Date(artifact.created_at) })
    },
  })
  preflight(app, '/v1/firmware/:file')
}

export default routePlugin('firmware', firmware)
