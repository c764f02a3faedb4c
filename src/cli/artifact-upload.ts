import http from 'node:http'
import https from 'node:https'
import { Readable } from 'node:stream'
import { ApiRefusal } from './api-client'
import { CliRefusal } from './io'
import type { Progress } from './progress'

export interface UploadRequest {
  /** absolute URL of PUT /v1/artifacts/:sha256 (client.url(…)) */
  url: URL
  token: string
  /** the exact bytes that were hashed and signed (not the file again, which could change meanwhile) */
  body: Buffer
  progress: Progress
}

/** 201 stored now, 200 the server already had these bytes (a re-run after a cut). */
export type UploadResult = { status: 200 | 201 }

/** The server's refusal in the shape the API client gives every other answer. */
function refusalFrom(status: number, body: string): ApiRefusal {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown }
    if (typeof parsed.error === 'string' && typeof parsed.message === 'string') {
      return new ApiRefusal(status, parsed.error, `the upload was refused: ${parsed.message} (${status} ${parsed.error})`)
    }
  } catch {
    // not JSON (a proxy's error page): the status says enough
  }
  return new ApiRefusal(status, 'http_error', `the upload was refused: the server answered ${status}`)
}

const PIECE = 64 * 1024

function* pieces(body: Buffer): Generator<Buffer> {
  for (let at = 0; at < body.length; at += PIECE) yield body.subarray(at, at + PIECE)
}

/**
 * Streams the binary to the artifact store with an exact Content-Length (never chunked, so the server
 * and any proxy can refuse an oversized body before reading it), reporting progress as bytes go.
 */
export function uploadArtifact(req: UploadRequest): Promise<UploadResult> {
  const client = req.url.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const request = client.request(req.url, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${req.token}`,
        'content-type': 'application/octet-stream',
        'content-length': String(req.body.length),
        accept: 'application/json',
      },
    })
    const fail = (err: Error) =>
      reject(err instanceof CliRefusal ? err : new CliRefusal(`the upload to ${req.url.origin} failed (${err.message}): run the same command again to finish`))
    request.on('error', fail)
    request.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', fail)
      res.on('end', () => {
        const status = res.statusCode ?? 0
        if (status === 200 || status === 201) resolve({ status })
        else reject(refusalFrom(status, Buffer.concat(chunks).toString('utf8')))
      })
    })
    let sent = 0
    const source = Readable.from(pieces(req.body))
    source.on('data', (chunk: Buffer) => {
      sent += chunk.length
      req.progress.update(sent)
    })
    source.on('error', (err) => {
      request.destroy()
      fail(err)
    })
    source.on('end', () => req.progress.finish())
    source.pipe(request)
  })
}
