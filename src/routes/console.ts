import path from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import fastifyStatic from '@fastify/static'
import { Type } from '@sinclair/typebox'
import { routePlugin } from './route-plugin'

/** The console's files: plain HTML, CSS and ES modules shipped with the package (no build step). */
export const CONSOLE_DIR = path.join(__dirname, '..', '..', 'console')
export const CONSOLE_PREFIX = '/console/'

/**
 * Only the console's own files run, load styles or are fetched; no inline script or style
 * attribute, no plugin, no framing, no form sending anywhere (sign-in is read by the page, so
 * a token typed there never leaves in a form submission or a URL). Trusted Types make an
 * assignment of a string to innerHTML and its kin throw, so device text can only become text.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  'trusted-types',
].join('; ')

/** The operator console under /console/: a client of the same operator API as the CLI. */
const consoleRoutes: FastifyPluginAsync = async (app) => {
  // Encapsulated: these headers go on the console's answers only.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONSOLE_CSP)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cross-origin-opener-policy', 'same-origin')
    reply.header('cache-control', 'no-cache')
  })
  await app.register(fastifyStatic, {
    root: CONSOLE_DIR,
    prefix: CONSOLE_PREFIX,
    decorateReply: false,
    index: 'index.html',
    schemaHide: true,
  })
  // The address people type: its files are linked relative to /console/.
  app.get(
    CONSOLE_PREFIX.slice(0, -1),
    { schema: { hide: true, response: { 301: Type.Null() } } },
    async (_request, reply) => reply.redirect(CONSOLE_PREFIX, 301)
  )
}

export default routePlugin('console', consoleRoutes)
