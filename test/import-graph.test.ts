// The layers of ../shared/ARCHITECTURE.md, read from the imports of src/: no module imports itself
// back through others, and arrows run down (repositories below services, services below plugins).
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'

const SRC = path.join(__dirname, '..', 'src')
const IMPORT = /(?:import|export)[^'"]*?from\s+'(\.[^']+)'|import\(?\s*'(\.[^']+)'|require\('(\.[^']+)'\)/g

function modules(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? modules(p) : e.name.endsWith('.ts') ? [p] : []
  })
}

function importsOf(file: string): string[] {
  const found: string[] = []
  for (const m of fs.readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const target = path.resolve(path.dirname(file), m[1] ?? m[2] ?? m[3])
    const resolved = [`${target}.ts`, path.join(target, 'index.ts')].find((c) => fs.existsSync(c))
    if (resolved) found.push(resolved)
  }
  return found
}

const graph = new Map(modules(SRC).map((f) => [f, importsOf(f)]))
const name = (f: string) => path.relative(SRC, f)
const layer = (f: string) => name(f).split(path.sep)[0].replace(/\.ts$/, '')

/** One import circle through `start` (the files on it), if any, if any (depth-first search back to it). */
function circleFrom(start: string): string[] | undefined {
  const seen = new Set<string>()
  const walk = (file: string, trail: string[]): string[] | undefined => {
    for (const next of graph.get(file) ?? []) {
      if (next === start) return [...trail, next]
      if (seen.has(next)) continue
      seen.add(next)
      const found = walk(next, [...trail, next])
      if (found) return found
    }
    return undefined
  }
  return walk(start, [start])
}

t.test('no import circle in src/', async (t) => {
  t.ok(graph.size > 100, 'the modules of src/ are read')
  const circles = [...graph.keys()].flatMap((file) => {
    const circle = circleFrom(file)
    return circle ? [circle.map(name).join(' -> ')] : []
  })
  t.same(circles, [], 'import circles')
})

t.test('arrows run down the layers', async (t) => {
  const below: Record<string, string[]> = {
    // repositories hold SQL and nothing else
    repositories: ['fleet', 'release', 'manifest', 'http', 'ops', 'routes', 'plugins', 'schemas', 'cli'],
    // services are given what they need, never reaching for a plugin or a route
    fleet: ['routes', 'plugins'],
    release: ['routes', 'plugins'],
    manifest: ['routes', 'plugins'],
    http: ['routes', 'plugins'],
    ops: ['routes', 'plugins'],
    db: ['repositories', 'fleet', 'release', 'routes', 'plugins'],
    store: ['repositories', 'fleet', 'release', 'routes', 'plugins'],
    esp: ['repositories', 'fleet', 'release', 'routes', 'plugins'],
  }
  const upward = [...graph].flatMap(([file, imports]) =>
    imports.filter((target) => below[layer(file)]?.includes(layer(target))).map((target) => `${name(file)} -> ${name(target)}`)
  )
  t.same(upward, [], 'imports that point up')
})
