import fp from 'fastify-plugin'
import type { Clock } from '../../clock'

declare module 'fastify' {
  interface FastifyInstance {
    /** the time source of the whole application (src/clock.ts) */
    clock: Clock
  }
}

/** Makes the clock given to the app (the system clock in server.ts) visible to every plugin. */
export default fp(
  async function clockPlugin(app, opts: { clock: Clock }) {
    app.decorate('clock', opts.clock)
  },
  { name: 'clock' }
)
