import { SerializerSelector, type Serializer, type SerializerFactory } from '@fastify/fast-json-stringify-compiler'

/**
 * Fastify's own response serializers, each built once per schema in the process rather than once
 * per app: building them for every route costs about a quarter of a second of CPU an app, and a
 * process that builds several apps (several instances, every test file) would pay it each time. A
 * serializer depends only on its schema and the shared schemas and options it was built with.
 * Keyed by the schema's JSON, not by the object: routes write their schemas inside their plugin,
 * so every app brings new objects of the same schemas.
 * Pass as `schemaController.compilersFactory.buildSerializer`.
 */
export function sharedSerializers(): SerializerFactory {
  const select = SerializerSelector()
  const pools = new Map<string, { build: ReturnType<SerializerFactory>; built: Map<string, Serializer> }>()
  return (externalSchemas, options) => {
    const key = JSON.stringify([externalSchemas, options])
    let pool = pools.get(key)
    if (pool === undefined) {
      pool = { build: select(externalSchemas, options), built: new Map() }
      pools.set(key, pool)
    }
    const { build, built } = pool
    return (route) => {
      if (typeof route.schema !== 'object' || route.schema === null) return build(route)
      const schema = JSON.stringify(route.schema)
      let serializer = built.get(schema)
      if (serializer === undefined) {
        // Built when it first serializes, as the validators are (canonical-numbers.ts).
        let serialize: Serializer | undefined
        serializer = (doc) => (serialize ??= build(route))(doc)
        built.set(schema, serializer)
      }
      return serializer
    }
  }
}
