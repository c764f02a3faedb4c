import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { levels } from 'pino'

/**
 * One log line per request, without headers (so no Authorization). A device hanging up
 * mid-download is normal on weak Wi-Fi: it is recorded on the request's line, not as an error.
 */
export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // At OTA_LOG_LEVEL=warn most requests write nothing: no line is put together for them.
    if (!error && (levels.values[reply.log.level] ?? Infinity) > levels.values.info) return
    const line = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ip: request.ip,
      ...(reply.raw.writableFinished ? {} : { aborted: true }),
    }
    if (error && !isHangUp(error)) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request')
  }

  override streamError(error: Error, _request: FastifyRequest, reply: FastifyReply): void {
    if (isHangUp(error)) reply.log.debug('client closed the connection mid-response')
    else reply.log.warn({ err: error }, 'response stream failed after headers were sent')
  }
}

function isHangUp(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE'
}
