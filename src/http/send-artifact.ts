import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { Refusal } from '../errors'
import type { ArtifactCache } from '../store/artifact-cache'
import type { ArtifactStore } from '../store/artifact-store'
import { planDownload, type DownloadFile, type DownloadRequest } from './range'

/** Where the bytes come from; the Fastify instance itself fits (`app.artifacts`, `app.artifactCache`). */
export interface ArtifactSource {
  artifacts: ArtifactStore
  artifactCache: ArtifactCache
}

/** A stored binary as the artifacts table records it (an ArtifactRow fits, as does a delta patch). */
export interface DownloadableArtifact {
  sha256: string
  size: number
}

export interface SendArtifactOptions {
  /** Extra response headers, e.g. `{ 'x-MD5': md5 }` for Arduino HTTPUpdate, or Content-Disposition. */
  headers?: Record<string, string>
  /**
   * True (the default) when the URL names these exact bytes forever (/v1/firmware/<sha256>.bin):
   * a year of immutable caching. A URL whose bytes change with each release (/firmware.app.bin,
   * /v1/arduino/:board) must pass false: it gets `Cache-Control: no-cache`, so caches revalidate
   * with the ETag (the sha256, so If-None-Match and If-Range stay exact across releases).
   */
  immutable?: boolean
  /**
   * Sent as Last-Modified and used for If-Modified-Since / If-Range dates. Pass it only for an
   * immutable URL: on a URL that changes, an older artifact released later would look unmodified.
   */
  lastModified?: Date
}

/**
 * Answers a GET or HEAD for an artifact: conditional requests, one byte range (206, or 416 as
 * JSON), and always an exact Content-Length, never chunked. Bytes come from the in-memory cache
 * when the artifact fits in it (zero-copy slices), else are streamed from the store.
 *
 * Use it from a GET route (Fastify's automatic HEAD route works, as does `method: ['GET', 'HEAD']`):
 *
 *     return sendArtifact(request, reply, row, app, { immutable: false, headers: { 'x-MD5': row.md5 } })
 *
 * Throws Refusal 412 (precondition_failed) or 416 (range_not_satisfiable) for the error handler.
 */
export async function sendArtifact(
  request: DownloadRequest,
  reply: FastifyReply,
  artifact: DownloadableArtifact,
  source: ArtifactSource,
  options: SendArtifactOptions = {}
): Promise<FastifyReply> {
  const immutable = options.immutable ?? true
  const plan = planDownload(request, downloadFile(artifact, options.lastModified))
  if (plan.status === 412) {
    throw new Refusal('precondition_failed',
      `If-Match or If-Unmodified-Since does not hold for this binary, whose ETag is "${artifact.sha256}"`,
      { headers: plan.headers }
    )
  }
  if (plan.status === 416) {
    const hint = artifact.size === 0 ? 'it is empty: ask without Range' : `ask for bytes=0-${artifact.size - 1} or a part of it`
    throw new Refusal('range_not_satisfiable',
      `the range "${(request.headers.range ?? '').slice(0, 100)}" selects no byte of this ${artifact.size}-byte binary; ${hint}`,
      { headers: plan.headers }
    )
  }
  // Headers go on the reply only with the body: an error thrown before (a store that lost the file)
  // must not answer with a download's headers. Set one after another rather than merged into a
  // new object per request; a later one wins.
  const send = (body: Buffer | Readable) => {
    reply.code(plan.status).headers(plan.headers)
    if (!immutable) reply.header('Cache-Control', 'no-cache')
    if (options.headers) reply.headers(options.headers)
    return reply.send(body)
  }

  // Without a body, an empty stream rather than nothing: Fastify's automatic HEAD route rewrites
  // Content-Length to 0 for an empty reply but leaves it alone for a stream.
  if (!plan.body) return send(Readable.from([]))

  const { start, end } = plan.range ?? { start: 0, end: artifact.size - 1 }
  // A held artifact without a promise to wait for: each await is a turn of the microtask queue.
  const cached = source.artifactCache.peek(artifact.sha256) ?? (await source.artifactCache.get(artifact.sha256, artifact.size))
  if (cached) return send(cached.subarray(start, end + 1))

  // Not @fastify/send: it serves paths, and the store is an interface (object storage later), and it
  // would decide the conditional and range logic a second time. The size is checked first so that a
  // missing or truncated file is a logged 500 before any header goes out, never a short body under
  // a promised Content-Length.
  const stored = await source.artifacts.size(artifact.sha256)
  if (stored !== artifact.size) {
    throw new Error(`artifact ${artifact.sha256} has ${stored ?? 'no'} bytes in the store, ${artifact.size} recorded`)
  }
  // Fastify destroys this stream (closing its file) when the client hangs up.
  return send(source.artifacts.stream(artifact.sha256, plan.range))
}

/**
 * The DownloadFile of an artifact, the same object for every download of it, so that planDownload
 * reuses the headers it built for it (range.ts). Keyed by digest; a different size or date (a
 * delta patch rebuilt) replaces the entry.
 */
const files = new Map<string, DownloadFile>()

function downloadFile(artifact: DownloadableArtifact, lastModified: Date | undefined): DownloadFile {
  const held = files.get(artifact.sha256)
  if (held && held.size === artifact.size && held.lastModified?.getTime() === lastModified?.getTime()) return held
  const file: DownloadFile = Object.freeze({ size: artifact.size, etag: `"${artifact.sha256}"`, lastModified })
  // One entry per artifact served; a bound all the same.
  if (files.size >= 1024) files.clear()
  files.set(artifact.sha256, file)
  return file
}
