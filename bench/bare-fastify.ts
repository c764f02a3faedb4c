import fs from 'node:fs'
import Fastify from 'fastify'

// The "bare Fastify" baseline, logger off, nothing else: one route answering the same bytes as
// ota-gate's manifest and, given a binary, one answering it whole or one `bytes=a-b` range of it
// (the only form the benchmark asks), so that ranges compare Node and Fastify with nginx apart
// from what ota-gate adds. Run as its own process: node bare-fastify.js <port> <body file> [binary].

const SINGLE_RANGE = /^bytes=(\d+)-(\d+)$/

async function main(): Promise<void> {
  const [port, file, binaryFile] = process.argv.slice(2)
  const body = fs.readFileSync(file)
  const app = Fastify({ logger: false })
  app.get('/v1/manifest', (_request, reply) => {
    reply.header('content-type', 'application/json; charset=utf-8').send(body)
  })
  if (binaryFile !== undefined) {
    const binary = fs.readFileSync(binaryFile)
    app.get('/firmware.bin', (request, reply) => {
      reply.header('content-type', 'application/octet-stream')
      const range = SINGLE_RANGE.exec(request.headers.range ?? '')
      if (range === null) return reply.send(binary)
      const start = Number(range[1])
      const end = Math.min(Number(range[2]), binary.length - 1)
      return reply.code(206).header('content-range', `bytes ${start}-${end}/${binary.length}`).send(binary.subarray(start, end + 1))
    })
  }
  app.get('/healthz', (_request, reply) => {
    reply.send({ status: 'ok' })
  })
  await app.listen({ host: '127.0.0.1', port: Number(port) })
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
