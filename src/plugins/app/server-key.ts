import fp from 'fastify-plugin'
import { loadServerKey, type ServerKey } from '../../manifest/server-key'

declare module 'fastify' {
  interface FastifyInstance {
    serverKey: ServerKey
  }
}

export default fp(
  async function serverKeyPlugin(app) {
    const key = loadServerKey(app.config.OTA_SERVER_KEY, app.config.OTA_DATA_DIR)
    app.log.info({ keyId: key.keyId }, 'manifest signing key loaded')
    app.decorate('serverKey', key)
  },
  { name: 'server-key', dependencies: ['config'] }
)
