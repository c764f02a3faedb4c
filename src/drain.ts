import net from 'node:net'
import type { Server } from 'node:http'

/**
 * Shutting down without cutting downloads. Node's http `server.close()` also closes every
 * connection whose request has been read, even while its response is still being sent, which
 * would cut a slow device's download at SIGTERM. So, on shutdown: stop accepting connections
 * (net.Server's own close, without the http layer's idle sweep), tell keep-alive clients to go,
 * and wait for the responses in flight to end; then close every connection left (none is sending
 * anything any more) and only then the app.
 *
 * A request is over when its response closes or when its connection does: requests pipelined
 * behind one answered with `Connection: close` never get a response of their own, and Node never
 * closes those responses, so counting them until then would hold the stop for the whole grace period.
 */
export function trackInFlight(server: Server): { drain(): Promise<void> } {
  let inFlight = 0
  let draining = false
  let settled: (() => void) | undefined
  const finish = () => {
    server.closeAllConnections()
    settled?.()
  }
  server.on('request', (req, res) => {
    inFlight++
    if (draining) res.setHeader('connection', 'close')
    const socket = req.socket
    let over = false
    const done = () => {
      // The socket's 'close' may be the very event that closes the response: its listener can
      // still run after being removed (emit works on a copy of the list), so count once.
      if (over) return
      over = true
      res.off('close', done)
      socket.off('close', done)
      inFlight--
      if (draining && inFlight === 0) finish()
    }
    res.once('close', done)
    socket.once('close', done)
  })
  return {
    drain() {
      draining = true
      net.Server.prototype.close.call(server)
      return new Promise<void>((resolve) => {
        settled = resolve
        if (inFlight === 0) finish()
      })
    },
  }
}
