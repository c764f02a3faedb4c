import http from 'node:http'
import { percentile } from './parsers'
import { BOARD, CHANNEL, deviceId, seededSequence } from './fleet-seed'

// Manifest polls at a fixed rate (open loop: a slow answer does not delay the next request), each
// naming another device, timing each answer in full. For latency under other load, where wrk's
// closed loop would measure throughput instead.
// Run as: node manifest-poller.js <base url> <per second> <seconds> <first device number>; prints one JSON line.

export interface PollResult {
  requests: number
  non2xx: number
  errors: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

function poll(base: string, agent: http.Agent, n: number): Promise<{ status: number; ms: number }> {
  const s = seededSequence(n)
  const path = `/v1/manifest?board=${BOARD}&device=${deviceId(n)}&version=v${s}&sequence=${s}&channel=${CHANNEL}`
  const t0 = performance.now()
  return new Promise((resolve) => {
    const req = http.get(base + path, { agent, headers: { 'user-agent': 'ESP32 HTTP Client/1.0' } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }))
      res.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }))
    })
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }))
    req.setTimeout(10_000, () => req.destroy())
  })
}

async function main(): Promise<void> {
  const [base, perSecondArg, secondsArg, firstArg] = process.argv.slice(2)
  const perSecond = Number(perSecondArg)
  const total = Math.round(perSecond * Number(secondsArg))
  const first = Number(firstArg)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
  const t0 = performance.now()
  const answers: Array<Promise<{ status: number; ms: number }>> = []
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / perSecond
    const wait = due - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    answers.push(poll(base, agent, first + i))
  }
  const done = await Promise.all(answers)
  const ms = done.filter((a) => a.status !== 0).map((a) => a.ms)
  const result: PollResult = {
    requests: done.length,
    non2xx: done.filter((a) => a.status !== 0 && (a.status < 200 || a.status >= 400)).length,
    errors: done.filter((a) => a.status === 0).length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    maxMs: Math.max(...ms),
  }
  agent.destroy()
  process.stdout.write(JSON.stringify(result) + '\n')
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
