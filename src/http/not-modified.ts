import type { FastifyReply } from 'fastify'

/**
 * Answers 304 with no payload at all, so no Content-Type and no Content-Length: `send(null)` would
 * be serialised by the route's Null schema into `null`, sent as application/json with
 * `Content-Length: 4` though a 304 never has a body (RFC 9110 §15.4.5, and the contract). The
 * binaries' 304s come from sendArtifact, which states the size a 200 would have instead.
 */
export function sendNotModified(reply: FastifyReply, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(304).headers(headers).send()
}
