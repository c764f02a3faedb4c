import http from 'node:http'

// Slow devices: `clients` concurrent downloads, each read at about `rate` bytes/s by pausing the
// response whenever it is ahead of schedule (TCP backpressure then reaches the server), opened in
// batches so the listen backlog is not the test. With `readSeconds` > 0 each download is closed once
// that many seconds' worth is read (the quick run); otherwise it must arrive whole.
// Run as: node slow-downloads.js <url> <clients> <rate> <readSeconds>; prints one JSON line.

export interface SlowResult {
  clients: number
  /** whole downloads, or partial ones closed by us after readSeconds' worth */
  ok: number
  /** non-200 answers */
  non2xx: number
  /** connection errors, resets, or a body ending before its Content-Length */
  failed: number
  bytes: number
  seconds: number
  /** the slowest client's mean rate, bytes/s */
  minRate: number
}

type Outcome = { kind: 'ok' | 'non2xx' | 'failed'; bytes: number; rate: number }

function download(url: string, agent: http.Agent, rate: number, readSeconds: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false
    let got = 0
    const t0 = Date.now()
    const finish = (kind: Outcome['kind']) => {
      if (settled) return
      settled = true
      const s = (Date.now() - t0) / 1000
      resolve({ kind, bytes: got, rate: s > 0 ? got / s : 0 })
    }
    const req = http.get(url, { agent, headers: { 'user-agent': 'ESP32 HTTP Client/1.0' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        return finish('non2xx')
      }
      const expected = Number(res.headers['content-length'])
      const stopAt = readSeconds > 0 ? Math.min(expected, rate * readSeconds) : expected
      res.on('data', (chunk: Buffer) => {
        got += chunk.length
        if (got >= stopAt && stopAt < expected) {
          finish('ok')
          req.destroy()
          return
        }
        const wait = t0 + (got / rate) * 1000 - Date.now()
        if (wait > 0) {
          res.pause()
          setTimeout(() => res.resume(), wait)
        }
      })
      res.on('end', () => finish(got === expected ? 'ok' : 'failed'))
      res.on('error', () => finish('failed'))
      res.on('aborted', () => finish('failed'))
    })
    req.on('error', () => finish('failed'))
    // A stalled server would otherwise hold the bench: nothing for 30 s is a failure.
    req.setTimeout(30_000, () => req.destroy(new Error('no data for 30 s')))
  })
}

async function main(): Promise<void> {
  const [url, clientsArg, rateArg, readArg] = process.argv.slice(2)
  const clients = Number(clientsArg)
  const rate = Number(rateArg)
  const readSeconds = Number(readArg)
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
  const t0 = Date.now()
  const pending: Array<Promise<Outcome>> = []
  for (let i = 0; i < clients; i++) {
    pending.push(download(url, agent, rate, readSeconds))
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 100))
  }
  const outcomes = await Promise.all(pending)
  const result: SlowResult = {
    clients,
    ok: outcomes.filter((o) => o.kind === 'ok').length,
    non2xx: outcomes.filter((o) => o.kind === 'non2xx').length,
    failed: outcomes.filter((o) => o.kind === 'failed').length,
    bytes: outcomes.reduce((n, o) => n + o.bytes, 0),
    seconds: (Date.now() - t0) / 1000,
    minRate: Math.min(...outcomes.map((o) => o.rate)),
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
