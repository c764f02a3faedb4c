import fs from 'node:fs'
import Fastify from 'fastify'

// The "bare Fastify" baseline: one route answering the same bytes as ota-gate's manifest, logger
// off, nothing else. Run as its own process: node bare-fastify.js <port> <body file>.

async function main(): Promise<void> {
  const [port, file] = process.argv.slice(2)
  const body = fs.readFileSync(file)
  const app = Fastify({ logger: false })
  app.get('/v1/manifest', (_request, reply) => {
    reply.header('content-type', 'application/json; charset=utf-8').send(body)
  })
  app.get('/healthz', (_request, reply) => {
    reply.send({ status: 'ok' })
  })
  await app.listen({ host: '127.0.0.1', port: Number(port) })
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
