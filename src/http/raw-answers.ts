import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { ErrorCode } from '../errors'

// The answers Node's HTTP layer gives by itself, before any route runs (a request it cannot parse,
// one too slow to arrive, an Expect it does not know), made like every other answer: the contract's
// JSON error with a Content-Length, never an empty or chunked body.

/**
 * The bytes of one complete JSON error answer, closing the connection. Without `body` (the answer
 * to a HEAD), the header block alone: Content-Length still gives the size a body would have had,
 * as for any HEAD answer, and a client reads no body after it.
 */
export function rawErrorAnswer(status: number, statusText: string, code: ErrorCode, message: string, body = true): string {
  const json = JSON.stringify({ error: code, message })
  return (
    `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${body ? json : ''}`
  )
}

function clientErrorAnswer(err: NodeJS.ErrnoException, body: boolean): string {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return rawErrorAnswer(408, 'Request Timeout', 'request_timeout', 'the request did not arrive in time (headers within OTA_HEADERS_TIMEOUT_MS, the whole request within OTA_BODY_TIMEOUT_MS): send it again, faster', body)
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return rawErrorAnswer(431, 'Request Header Fields Too Large', 'headers_too_large', 'the request headers are too large: send fewer or shorter headers', body)
  }
  return rawErrorAnswer(400, 'Bad Request', 'bad_request', `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'}): fix the client`, body)
}

/**
 * The socket's response in progress, if Node has started one (its headers may be out already):
 * the answer to the oldest request on the connection still unanswered, `req` its request.
 */
function responseOf(socket: Socket): Pick<ServerResponse, 'headersSent' | 'req'> | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage
}

/**
 * The method of a request that Node failed to parse, read from the start of the bytes it was
 * parsing (Node's error carries them as `rawPacket`) when they start with a request line. Node
 * surfaces a method only once the headers are complete; a request whose headers overflow never
 * gets there. Undefined when the request line arrived in an earlier read.
 */
function methodAtStart(packet: unknown): string | undefined {
  // @types/node types rawPacket as a Buffer's JSON; Node gives the Buffer itself.
  if (!Buffer.isBuffer(packet)) return undefined
  return /^([A-Z]{1,16}) (?:\/|\*|https?:\/\/)/.exec(packet.subarray(0, 32).toString('latin1'))?.[1]
}

/** Fastify's `clientErrorHandler`: answers what Node could not hand to a route, then closes. */
export function answerClientError(this: { log: FastifyBaseLogger }, err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  this.log.debug({ err }, 'client error')
  // Nothing can be said once an answer's headers are out: the connection just ends. Before that,
  // the client reads what is written as the answer to its oldest request (several may be in
  // flight on a kept-alive connection), or, with none in flight, to the one that failed to parse:
  // to a HEAD, a body would be bytes after the answer.
  const inFlight = responseOf(socket)
  const method = inFlight ? inFlight.req?.method : methodAtStart(err.rawPacket)
  if (socket.writable && !inFlight?.headersSent) socket.write(clientErrorAnswer(err, method !== 'HEAD'))
  socket.destroy()
}

/** The server's `checkExpectation` listener: any Expect but 100-continue is 417, as JSON. */
export function answerExpectation(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({
    error: 'expectation_failed' satisfies ErrorCode,
    message: `Expect: ${String(req.headers.expect).slice(0, 100)} is not supported; send the request without it (or with Expect: 100-continue)`,
  })
  res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' })
  res.end(body)
}

/** Fastify's `frameworkErrors`: a URL the router cannot read (bad percent-encoding, a parameter too long). */
export function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void reply.code(414).send({ error: 'uri_too_long', message: 'a path segment of the URL is too long: no identifier here is over 100 characters' })
    return
  }
  void reply.code(400).send({ error: 'bad_request', message: `the URL cannot be read (${error.code}): percent-encode it as RFC 3986 says` })
}
