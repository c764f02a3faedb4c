import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { routePlugin } from './route-plugin'

const KeyView = Type.Object({ key_id: Type.String(), public_key_pem: Type.String() })

const keys: FastifyPluginAsyncTypebox = async (app) => {
  const server = { key_id: app.serverKey.keyId, public_key_pem: app.serverKey.publicKeyPem }

  app.get(
    '/v1/keys',
    {
      config: { device: true },
      schema: {
        summary: 'The key that signs manifests, and the trusted release keys',
        tags: ['devices'],
        response: {
          200: Type.Object({
            server: KeyView,
            release: Type.Array(Type.Composite([KeyView, Type.Object({ name: Type.String(), retired: Type.Boolean() })])),
          }),
        },
      },
    },
    async () => {
      const release = (await app.repos.releaseKeys.list()).map((k) => ({
        key_id: k.key_id,
        public_key_pem: k.public_key_pem,
        name: k.name,
        retired: k.retired_at !== null,
      }))
      return { server, release }
    }
  )
}

export default routePlugin('keys', keys)
