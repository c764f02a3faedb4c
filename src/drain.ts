import net from 'node:net'
import type { Server } from 'node:http'

/**
 * Shutting down without cutting downloads. Node's http `server.close()` also closes every
 * connection whose request has been read, even while its response is still being sent, which
 * would cut a slow device's download at SIGTERM. So, on shutdown: stop accepting connections
 * (net.Server's own close, without the http layer's idle sweep), tell keep-alive clients to go,
 * and wait for the responses in flight to end; only then close the app.
 */
export function trackInFlight(server: Server): { drain(): Promise<void> } {
  let inFlight = 0
  let draining = false
  let settled: (() => void) | undefined
  server.on('request', (_req, res) => {
    inFlight++
    if (draining) res.setHeader('connection', 'close')
    res.once('close', () => {
      inFlight--
      if (draining && inFlight === 0) settled?.()
    })
  })
  return {
    drain() {
      draining = true
      net.Server.prototype.close.call(server)
      if (inFlight === 0) return Promise.resolve()
      return new Promise<void>((resolve) => {
        settled = resolve
      })
    },
  }
}
