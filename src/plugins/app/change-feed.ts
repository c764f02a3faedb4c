import fp from 'fastify-plugin'
import type { PgChangeFeed } from '../../db/change-feed'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * With PostgreSQL: what other instances (and the CLI) commit to cached tables, so that caches
     * drop their reads at once; `subscribe(tables, fn)`. Undefined on SQLite, whose caches poll
     * the database's generation counter instead.
     */
    changes: PgChangeFeed | undefined
  }
}

export default fp(
  async function changeFeedPlugin(app) {
    const url = app.config.OTA_DATABASE_URL
    if (url === undefined || app.backend.pool === undefined) {
      app.decorate('changes', undefined)
      return
    }
    // Loaded here, not at start: an installation on SQLite never loads the PostgreSQL client.
    const { PgChangeFeed } = await import('../../db/change-feed.js')
    const feed = new PgChangeFeed(url, {
      onError: (err) => app.log.warn({ err: err.message }, 'change feed: connection to the database lost; listening again as soon as it answers'),
      onReconnect: () => app.log.info('change feed: listening again; cached reads dropped'),
    })
    // The channel plans and pins the polls read: dropped at once, not within the generation's re-read interval.
    feed.subscribe(['releases', 'rollouts', 'channel_rollbacks', 'device_pins'], () => app.repos.rolloutPlans.changed())
    // Patches another instance switched off (delta_failed past the limit) or rebuilt; binaries it pruned.
    feed.subscribe(['delta_patches'], () => app.repos.deltaPatches.changed())
    feed.subscribe(['artifacts'], () => app.repos.artifacts.changed())
    await feed.start()
    app.decorate('changes', feed)
    app.addHook('onClose', async () => {
      await feed.close()
    })
  },
  { name: 'change-feed', dependencies: ['config', 'db', 'repositories'] }
)
