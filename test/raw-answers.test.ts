import net from 'node:net'
import t from 'tap'
import { startServer } from './support/server'
import { STEADY_ENV } from './support/env'
import { until } from './support/wait'

// Every answer, including the ones Node's HTTP layer gives before any route runs, has a
// Content-Length and the contract's JSON error form: ESP32 clients refuse a body without a length.

/** Sends raw bytes on a fresh connection; resolves with the first answer: status, headers, body. */
function exchange(port: number, bytes: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    let text = ''
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
      const length = Number(headers['content-length'])
      if (Number.isInteger(length) && text.length >= end + 4 + length) {
        socket.destroy()
        resolve({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4, end + 4 + length) })
      }
    })
    socket.on('error', reject)
    socket.on('close', () => reject(new Error(`closed without a complete answer with Content-Length: ${JSON.stringify(text.slice(0, 300))}`)))
  })
}

t.test("Node's own refusals: JSON with Content-Length", async (t) => {
  const server = await startServer(t, STEADY_ENV)
  const cases: Array<[string, string, number, string]> = [
    ['a missing Host', 'GET /v1/keys HTTP/1.1\r\n\r\n', 400, 'bad_request'],
    ['an unknown Expect', 'GET /v1/keys HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n', 417, 'expectation_failed'],
    ['a request line that is not HTTP', 'HELLO THERE\r\n\r\n', 400, 'bad_request'],
    ['a header without a colon', 'GET / HTTP/1.1\r\nHost: x\r\nnot a header\r\n\r\n', 400, 'bad_request'],
    ['headers over 16 KiB', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
    ['a URL with bad percent-encoding', 'GET /v1/releases/%E0%A4%A/x HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'bad_request'],
    ['a path parameter over 100 characters', `GET /v1/boards/${'a'.repeat(150)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, 'uri_too_long'],
    ['a body with a bad chunk', 'POST /v1/devices/aabbccddeeff/reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n', 400, 'bad_request'],
  ]
  for (const [what, bytes, status, code] of cases) {
    const res = await exchange(server.port, bytes)
    t.equal(res.status, status, `${what}: ${status}`)
    t.match(res.headers['content-type'], /^application\/json/, `${what}: JSON`)
    const body = JSON.parse(res.body) as { error: string; message: string }
    t.same(Object.keys(body).sort(), ['error', 'message'], `${what}: {error, message}`)
    t.equal(body.error, code, `${what}: ${code}`)
  }
  // HTTP/1.0 has no Host: still served.
  t.equal((await exchange(server.port, 'GET /healthz HTTP/1.0\r\n\r\n')).status, 200, 'HTTP/1.0 without Host is fine')
})

/** Sends raw bytes on a fresh connection; resolves with everything the server sent before it closed. */
function allUntilClose(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    let text = ''
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')))
    socket.on('error', reject)
    socket.on('close', () => resolve(text))
  })
}

t.test('a refusal answering a HEAD in flight has no body', async (t) => {
  const server = await startServer(t, STEADY_ENV)
  // One write, so one read: Node parses the HEAD, starts its answer (the route runs after the
  // parse, its hooks being asynchronous), then fails on the garbage and refuses on the socket
  // before that answer went out. The client reads the refusal as the answer to its HEAD.
  const head = await allUntilClose(server.port, 'HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nHELLO THERE\r\n\r\n')
  const end = head.indexOf('\r\n\r\n')
  t.match(head.slice(0, end), /^HTTP\/1\.1 400 Bad Request\r\n/, 'the HEAD gets the 400')
  t.match(head.slice(0, end), /\r\nContent-Length: \d+\r\n/i, 'with the Content-Length a GET would get')
  t.equal(head.slice(end + 4), '', 'and no byte after its headers')

  // The same behind a GET: the JSON body is there.
  const get = await allUntilClose(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHELLO THERE\r\n\r\n')
  const getEnd = get.indexOf('\r\n\r\n')
  t.match(get.slice(0, getEnd), /^HTTP\/1\.1 400 Bad Request\r\n/, 'the GET gets the 400')
  const length = Number(/\r\nContent-Length: (\d+)\r\n/i.exec(get.slice(0, getEnd))?.[1])
  t.equal(get.length - getEnd - 4, length, 'with its whole body')
  t.equal((JSON.parse(get.slice(getEnd + 4)) as { error: string }).error, 'bad_request')
})

t.test('a HEAD whose headers overflow gets the 431 without a body', async (t) => {
  const server = await startServer(t, STEADY_ENV)
  // No answer is in flight: the method is read from the start of the bytes Node failed on, as a
  // HEAD's answer has no body, whatever its status.
  const overflowing = (method: string) => `${method} /v1/manifest?q=${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`
  const head = await allUntilClose(server.port, overflowing('HEAD'))
  const end = head.indexOf('\r\n\r\n')
  t.match(head.slice(0, end), /^HTTP\/1\.1 431 /, 'the HEAD gets the 431')
  t.match(head.slice(0, end), /\r\nContent-Length: \d+\r\n/i, 'with the Content-Length a GET would get')
  t.equal(head.slice(end + 4), '', 'and no byte after its headers')

  const get = await exchange(server.port, overflowing('GET'))
  t.equal(get.status, 431, 'the GET gets the 431')
  t.equal((JSON.parse(get.body) as { error: string }).error, 'headers_too_large', 'with its JSON body')
})

t.test('a HEAD after a stray byte gets the 400 without a body', async (t) => {
  const server = await startServer(t, STEADY_ENV)
  // Node's HTTP client sends a DELETE's body without Content-Length or chunks: to the server the
  // byte after that DELETE begins the next request, which fails to parse once the client, having
  // had its answer, sends a HEAD on the same connection.
  const socket = net.connect(server.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  await new Promise((resolve) => socket.once('connect', resolve))
  let text = ''
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')))
  socket.write('DELETE /v1/firmware/x.bin HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n\r\nH')
  t.ok(await until(() => /\r\n\r\n\{.*\}$/s.test(text)), 'the DELETE is answered')
  t.match(text, /^HTTP\/1\.1 404 /, 'with a 404: no such route')
  const firstAnswer = text.length
  const closed = new Promise((resolve) => socket.once('close', resolve))
  socket.write('HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
  await closed
  const head = text.slice(firstAnswer)
  const end = head.indexOf('\r\n\r\n')
  t.match(head.slice(0, end), /^HTTP\/1\.1 400 Bad Request\r\n/, 'the HEAD that follows gets the 400')
  t.equal(head.slice(end + 4), '', 'and no byte after its headers')
})
