import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

// What a browser installer on another origin (the project's homepage, ESP Web Tools) reads: the
// web-install manifest, /firmware.json and the images they name. All are public, so any origin
// may read them; no credentials are involved.

const ALLOW = {
  'access-control-allow-origin': '*',
  // A resumed or chunked download reads these; Content-Length is exposed by default.
  'access-control-expose-headers': 'Content-Range, Accept-Ranges, ETag, Last-Modified',
}

/** A route's onSend hook: every answer of the route (errors too) is readable from any origin. */
export async function allowAnyOrigin(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  reply.headers(ALLOW)
  return payload
}

/**
 * Answers the CORS preflight (OPTIONS) of a GET/HEAD route: a page that sends Range or
 * If-None-Match from another origin asks first. 204, no body, cached by the browser for a day.
 */
export function preflight(app: FastifyInstance, url: string): void {
  const schema = {
    summary: `CORS preflight of ${url}: any origin may GET and HEAD it`,
    tags: ['devices'],
    response: { 204: Type.Null({ description: 'no body; Access-Control-Allow-* headers' }) },
  }
  app.options(url, { schema }, async (_request, reply) =>
    reply
      .code(204)
      .headers({
        ...ALLOW,
        'access-control-allow-methods': 'GET, HEAD',
        'access-control-allow-headers': 'Range, If-Range, If-None-Match, If-Modified-Since',
        'access-control-max-age': '86400',
      })
      .send()
  )
}
