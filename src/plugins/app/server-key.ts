import fp from 'fastify-plugin'
import { ServerKeyError, loadServerKey, type ServerKey } from '../../manifest/server-key'
import { serverKeyMismatch } from '../../manifest/server-identity'
import { PgServerIdentityRepository } from '../../repositories/server-identity'

declare module 'fastify' {
  interface FastifyInstance {
    serverKey: ServerKey
  }
}

export default fp(
  async function serverKeyPlugin(app) {
    const key = loadServerKey(app.config.OTA_SERVER_KEY, app.config.OTA_DATA_DIR)
    if (app.backend.pool !== undefined) {
      const mismatch = serverKeyMismatch(await new PgServerIdentityRepository(app.backend.pool, app.clock).recordFirst(key), key)
      if (mismatch) throw new ServerKeyError(mismatch)
    }
    app.log.info({ keyId: key.keyId }, 'manifest signing key loaded')
    app.decorate('serverKey', key)
  },
  { name: 'server-key', dependencies: ['config', 'clock', 'db'] }
)
