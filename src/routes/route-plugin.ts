import type { FastifyPluginAsync, FastifyTypeProvider, RawServerDefault } from 'fastify'
import fp from 'fastify-plugin'

/**
 * A route plugin, named `<name>-routes` and still encapsulated: its hooks, parsers and decorators
 * stay its own. Fastify looks an unnamed plugin's name up through every loaded module at each
 * registration, which a process that builds many apps (a test group) pays for every route plugin.
 */
export function routePlugin<T extends FastifyTypeProvider>(name: string, plugin: FastifyPluginAsync<Record<never, never>, RawServerDefault, T>): FastifyPluginAsync<Record<never, never>, RawServerDefault, T> {
  return fp(plugin, { name: `${name}-routes`, encapsulate: true })
}
