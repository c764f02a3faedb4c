import http from 'node:http'
import type { FastifyInstance } from 'fastify'

export interface RawAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

/**
 * A GET over node:http on its own connection, so that every header (Host, If-None-Match, the
 * user agent…) and the local address are exactly what the test says.
 */
export function rawGet(port: number, pathAndQuery: string, headers: Record<string, string> = {}, localAddress?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathAndQuery, headers, agent: false, ...(localAddress ? { localAddress } : {}) }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * The same GET through Fastify's inject, for an app built by buildApp (no socket): the answer in
 * rawGet's shape, so a test can ask a listening server and an injected app alike.
 */
export async function injectGet(app: FastifyInstance, pathAndQuery: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const res = await app.inject({ method: 'GET', url: pathAndQuery, headers })
  return { status: res.statusCode, headers: res.headers as http.IncomingHttpHeaders, body: res.rawPayload }
}
