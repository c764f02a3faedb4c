// GET /docs (Swagger UI) and GET /docs/json (the OpenAPI document built from the route schemas).
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startServer } from './support/server'

interface Route {
  method: string
  url: string
}

/** Every route the app has, read from Fastify's own route tree (printRoutes), HEAD copies left out. */
function routesOf(app: FastifyInstance): Route[] {
  const routes: Route[] = []
  const path: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!m) continue
    path.length = m[1].length / 4
    path.push(m[2])
    for (const method of m[3]?.split(', ') ?? []) {
      if (method !== 'HEAD') routes.push({ method, url: path.join('') })
    }
  }
  return routes
}

/** Fastify's `/v1/releases/:board/:version` as OpenAPI writes it: `/v1/releases/{board}/{version}`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}

interface Operation {
  summary?: string
  tags?: string[]
  security?: Array<Record<string, string[]>>
  responses?: Record<string, unknown>
}

t.test('/docs answers the Swagger UI page', async (t) => {
  const server = await startServer(t)
  const res = await fetch(`${server.url}/docs`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/html/)
  t.match(await res.text(), /swagger/i)
})

t.test('/docs/json documents every route with a summary and tags; token routes name the bearer scheme', async (t) => {
  const server = await startServer(t)
  const res = await fetch(`${server.url}/docs/json`)
  t.equal(res.status, 200)
  const doc = (await res.json()) as {
    openapi: string
    paths: Record<string, Record<string, Operation>>
    components: { securitySchemes: Record<string, { type: string; scheme: string }> }
  }
  t.match(doc.openapi, /^3\./)
  t.same(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' })

  // The UIs' own pages (/docs/..., the console's files under /console/) are not part of the API.
  const routes = routesOf(server.app).filter((r) => !r.url.startsWith('/docs') && !r.url.startsWith('/console'))
  for (const expected of ['/healthz', '/metrics', '/v1/manifest']) {
    t.ok(routes.some((r) => r.url === expected), `the route list read from Fastify has ${expected}`)
  }
  for (const route of routes) {
    const op = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()]
    t.ok(op, `${route.method} ${route.url} is documented`)
    t.ok(op?.summary && op.summary.length > 3, `${route.method} ${route.url} has a summary`)
    t.ok(op?.tags && op.tags.length > 0, `${route.method} ${route.url} has tags`)
    // A route that can answer 401 demands a token; one that cannot, does not.
    const authenticated = op?.responses !== undefined && '401' in op.responses
    t.equal(op?.security !== undefined, authenticated, `${route.method} ${route.url}: security scheme iff it needs a token`)
  }

  // Known examples both ways.
  t.same(doc.paths['/v1/releases']?.post?.security, [{ bearer: [] }], 'publishing takes a token')
  t.same(doc.paths['/v1/manifest']?.get?.security, [{}, { device_token: [] }], 'devices poll with a device token or without credentials')
  t.ok(doc.paths['/v1/manifest']?.get?.responses?.['429'], 'a device route documents the rate limit answer')
  t.ok(doc.paths['/v1/manifest']?.get?.responses?.['503'], 'a device route documents the load-shedding answer')
})
