import type { FastifyInstance } from 'fastify'

/** An app built by buildApp (requests through inject) or a server at a URL (requests over HTTP). */
export type Target = { app: FastifyInstance; url?: undefined } | { url: string }

export interface JsonAnswer<T = Record<string, unknown>> {
  status: number
  body: T
  headers: Record<string, string | string[] | undefined>
}

/**
 * The one JSON request of the tests: `body` is sent as JSON, `token` as a bearer token; resolves to
 * the status, the parsed answer and its headers. An app that does not listen is asked through
 * Fastify's inject, a server with a URL over a real socket.
 */
export async function call<T = Record<string, unknown>>(
  target: Target,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {}
): Promise<JsonAnswer<T>> {
  const sent: Record<string, string> = {
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...headers,
  }
  const payload = body === undefined ? undefined : JSON.stringify(body)
  if (target.url === undefined) {
    const res = await target.app.inject({ method: method as 'GET', url: path, headers: sent, payload })
    return { status: res.statusCode, body: (res.body === '' ? {} : res.json()) as T, headers: res.headers as JsonAnswer['headers'] }
  }
  const res = await fetch(`${target.url}${path}`, { method, headers: sent, body: payload })
  const text = await res.text()
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as T, headers: Object.fromEntries(res.headers) }
}

/** GET with a bearer token. */
export const getJson = <T = Record<string, unknown>>(target: Target, path: string, token: string) => call<T>(target, 'GET', path, token)
