import http from 'node:http'
import { median } from './parsers'

/** Times GET `url` (whole body read) `runs` times after `warmups` untimed ones, over one kept-alive connection. */
export async function timeQuery(url: string, token: string, warmups: number, runs: number): Promise<{ medianMs: number; samplesMs: number[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now()
      const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`GET ${url} answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`))
          else resolve(performance.now() - t0)
        })
      })
      req.on('error', reject)
      req.setTimeout(30_000, () => req.destroy(new Error(`GET ${url} timed out`)))
    })
  try {
    for (let i = 0; i < warmups; i++) await once()
    const samplesMs: number[] = []
    for (let i = 0; i < runs; i++) samplesMs.push(await once())
    return { medianMs: median(samplesMs), samplesMs }
  } finally {
    agent.destroy()
  }
}
