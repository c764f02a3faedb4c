import { SerializerSelector, type Serializer, type SerializerFactory } from '@fastify/fast-json-stringify-compiler'
import { BuiltOnce } from './built-once'

/**
 * Fastify's own response serializers, each built once per schema in the process (built-once.ts),
 * and when it first serializes rather than when the app starts, as the validators are
 * (canonical-numbers.ts). Pass as `schemaController.compilersFactory.buildSerializer`.
 */
export function sharedSerializers(): SerializerFactory {
  const select = SerializerSelector()
  const serializers = new BuiltOnce<Serializer>()
  return (externalSchemas, options) => {
    const pool = JSON.stringify([externalSchemas, options])
    const build = select(externalSchemas, options)
    return (route) => {
      if (typeof route.schema !== 'object' || route.schema === null) return build(route)
      return serializers.get(pool, route.schema, () => {
        let serialize: Serializer | undefined
        return (doc) => (serialize ??= build(route))(doc)
      })
    }
  }
}
