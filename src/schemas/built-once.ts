/**
 * What Fastify's schema compilers build for a route (a validator, a serializer), built once per
 * process for every app that asks with the same schema, rather than once per app: building them
 * is most of an app's start, and a process may build several apps (instances, test files). Keyed
 * by JSON, not by object: routes write their schemas inside their plugin, so every app brings new
 * objects of the same schemas.
 */
export class BuiltOnce<F> {
  private readonly built = new Map<string, F>()

  /**
   * What `build` made the first time `schema` was asked for in `pool` (the JSON of the compiler's
   * shared schemas and options, on which the result depends too).
   */
  get(pool: string, schema: unknown, build: () => F): F {
    const key = `${pool}\n${JSON.stringify(schema)}`
    let made = this.built.get(key)
    if (made === undefined) {
      made = build()
      this.built.set(key, made)
    }
    return made
  }
}
