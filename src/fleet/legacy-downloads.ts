import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Repositories } from '../repositories'

/**
 * Whether an answer of /firmware.app.bin completed a download: the whole binary (200), or a range
 * that reaches its last byte (206, a download resumed after a cut). A HEAD, a 304 or a piece from
 * the middle does not.
 */
export function completesDownload(method: string, status: number, contentRange: string | undefined, size: number): boolean {
  if (method !== 'GET') return false
  if (status === 200) return true
  if (status !== 206 || contentRange === undefined) return false
  const m = /^bytes [0-9]+-([0-9]+)\/([0-9]+)$/.exec(contentRange)
  return m !== null && Number(m[1]) === size - 1 && Number(m[2]) === size
}

/**
 * Counts the download for the field-fleet client (address and user agent) once the answer has
 * been sent to its end; a client that hangs up part-way downloaded nothing.
 */
export function countLegacyDownload(
  repos: Repositories,
  request: FastifyRequest,
  reply: FastifyReply,
  release: { id: number; size: number }
): void {
  const address = request.ip
  const userAgent = request.headers['user-agent'] ?? ''
  reply.raw.once('finish', () => {
    const range = reply.getHeader('content-range')
    if (!completesDownload(request.method, reply.statusCode, typeof range === 'string' ? range : undefined, release.size)) return
    repos.legacyClients.recordDownload(address, userAgent, release.id).catch((err: unknown) => {
      request.log.error({ err }, 'could not count a field-fleet download')
    })
  })
}
