import type { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Refusal, badRequest, isStorageFull } from '../errors'
import { errors, Sha256Hex } from '../schemas/common'
import { ArtifactTooLarge, DigestMismatch } from '../store/artifact-store'
import { routePlugin } from './route-plugin'

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

const StoredArtifact = Type.Object({ sha256: Sha256Hex, md5: Type.String(), size: Type.Integer() })

const tooLarge = (max: number, what: string) =>
  new Refusal('payload_too_large', `${what} is larger than the ${max}-byte maximum for an artifact (OTA_MAX_ARTIFACT_BYTES)`)

/**
 * Uploads of release binaries. The body is streamed into the artifact store (hashed on the way),
 * never buffered, so the global 64 KiB body limit does not apply here and memory stays flat.
 */
const artifacts: FastifyPluginAsyncTypebox = async (app) => {
  // Encapsulated in this plugin: whatever the client calls the body (curl --data-binary sends
  // application/x-www-form-urlencoded), the raw stream goes to the handler.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload))

  // A refusal sent before the body was read: close the connection rather than read megabytes
  // just to throw them away.
  app.addHook('onSend', async (request, reply) => {
    if (!request.raw.complete) reply.header('connection', 'close')
  })

  app.put(
    '/v1/artifacts/:sha256',
    {
      schema: {
        summary: 'Upload a release binary, stored only if its bytes hash to the digest in the path',
        tags: ['releases'],
        params: Type.Object({ sha256: Sha256Hex }),
        response: { 200: StoredArtifact, 201: StoredArtifact, ...errors(400, 401, 403, 413, 422, 507) },
      },
      onRequest: app.requireRole('releaser'),
    },
    async (request, reply) => {
      const { sha256 } = request.params
      const max = app.config.OTA_MAX_ARTIFACT_BYTES
      const declared = request.headers['content-length']
      if (declared !== undefined && Number(declared) > max) throw tooLarge(max, `the body (Content-Length ${declared})`)
      const body = request.body as Readable | undefined
      // The digest of zero bytes: no firmware is empty, so the body was forgotten.
      if (body === undefined || sha256 === EMPTY_SHA256) throw badRequest('send the binary as the request body (curl --data-binary @firmware.bin)')
      let stored
      try {
        stored = await app.artifacts.put(sha256, body, max)
      } catch (err) {
        if (err instanceof DigestMismatch) {
          throw new Refusal('digest_mismatch', `${err.message}: nothing was kept; upload the file whose SHA-256 is in the path (sha256sum firmware.bin)`)
        }
        if (err instanceof ArtifactTooLarge) throw tooLarge(max, 'the body')
        // A write that ran out of space, not a client that went away (the body was left unread).
        if (isStorageFull(err)) throw err
        if (!request.raw.complete) {
          // The client went away mid-body: its problem, not a server failure to log as an error.
          request.log.info({ sha256 }, 'upload interrupted by the client; nothing was kept')
          throw badRequest('the upload was interrupted before the body was complete; nothing was kept: send it again')
        }
        throw err
      }
      // The row is written only once the file is durably in place.
      await app.repos.artifacts.record(stored)
      return reply.code(stored.created ? 201 : 200).send({ sha256: stored.sha256, md5: stored.md5, size: stored.size })
    }
  )
}

export default routePlugin('artifacts', artifacts)
