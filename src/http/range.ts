/**
 * What to answer to a GET or HEAD of an immutable binary: conditional requests (RFC 9110 §13) and
 * single byte ranges (§14), decided without I/O so that every case can be tested as a table. The
 * caller writes the bytes (send-artifact.ts).
 */

export interface DownloadRequest {
  method: string
  headers: {
    range?: string
    'if-range'?: string
    'if-none-match'?: string
    'if-match'?: string
    'if-modified-since'?: string
    'if-unmodified-since'?: string
  }
}

export interface DownloadFile {
  size: number
  /** a strong entity-tag, quotes included: `"<sha256>"` */
  etag: string
  lastModified?: Date
}

export interface DownloadPlan {
  status: 200 | 206 | 304 | 412 | 416
  /**
   * Response headers. For 200, 206 and 304 they are complete, Content-Length included. For 412 and
   * 416 the caller sends an error body of its own, which sets Content-Type and Content-Length.
   * Shared by the plans of one file: read them, never change them.
   */
  headers: Readonly<Record<string, string>>
  /** the inclusive byte range to send; absent for the whole file */
  range?: { start: number; end: number }
  /** whether the file's bytes go into the body (false for HEAD, 304, 412, 416) */
  body: boolean
}

export const IMMUTABLE = 'public, max-age=31536000, immutable'

export function planDownload(request: DownloadRequest, file: DownloadFile): DownloadPlan {
  const h = request.headers
  const readOnly = request.method === 'GET' || request.method === 'HEAD'
  const sendsBody = request.method !== 'HEAD'
  const { validators, whole } = fileHeaders(file)

  // RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since; then If-None-Match, else If-Modified-Since;
  // then If-Range.
  if (h['if-match'] !== undefined) {
    if (!matchesIfMatch(h['if-match'], file.etag)) return refuse(412, validators)
  } else if (h['if-unmodified-since'] !== undefined && file.lastModified) {
    const since = parseHttpDate(h['if-unmodified-since'])
    if (since !== undefined && seconds(file.lastModified) > since) return refuse(412, validators)
  }

  if (h['if-none-match'] !== undefined) {
    if (matchesIfNoneMatch(h['if-none-match'], file.etag)) {
      // Methods other than GET and HEAD must fail instead (§13.1.2); only those reach this code.
      if (!readOnly) return refuse(412, validators)
      return notModified(whole)
    }
  } else if (readOnly && h['if-modified-since'] !== undefined && file.lastModified) {
    const since = parseHttpDate(h['if-modified-since'])
    if (since !== undefined && seconds(file.lastModified) <= since) return notModified(whole)
  }

  // HEAD answers what GET would, ranges included (RFC 9110 §9.3.2; nginx and @fastify/send do the
  // same), so a client may probe a range without its bytes.
  if (!readOnly || h.range === undefined) return { status: 200, headers: whole, body: sendsBody }
  if (h['if-range'] !== undefined && !ifRangeHolds(h['if-range'], file)) {
    return { status: 200, headers: whole, body: sendsBody }
  }

  const spec = parseRange(h.range)
  if (spec === 'ignore') return { status: 200, headers: whole, body: sendsBody }
  const range = satisfy(spec, file.size)
  if (range === 'whole') return { status: 200, headers: whole, body: sendsBody }
  if (range === undefined) {
    return {
      status: 416,
      headers: { 'Accept-Ranges': 'bytes', 'Content-Range': `bytes */${file.size}` },
      body: false,
    }
  }
  return {
    status: 206,
    headers: {
      ...whole,
      'Content-Length': String(range.end - range.start + 1),
      'Content-Range': `bytes ${range.start}-${range.end}/${file.size}`,
    },
    range,
    body: sendsBody,
  }
}

interface FileHeaders {
  validators: Readonly<Record<string, string>>
  /** the headers of a 200 */
  whole: Readonly<Record<string, string>>
}

/**
 * What does not change from one download of a file to the next, built once per DownloadFile
 * object (a caller that passes the same one each time, as send-artifact.ts does, builds them once)
 * and frozen, since every plan of the file shares them.
 */
const headersOf = new WeakMap<DownloadFile, FileHeaders>()

function fileHeaders(file: DownloadFile): FileHeaders {
  let held = headersOf.get(file)
  if (held === undefined) {
    const validators: Record<string, string> = { ETag: file.etag }
    if (file.lastModified) validators['Last-Modified'] = httpDate(file.lastModified)
    const whole = {
      'Accept-Ranges': 'bytes',
      ...validators,
      'Cache-Control': IMMUTABLE,
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(file.size),
    }
    held = { validators: Object.freeze(validators), whole: Object.freeze(whole) }
    headersOf.set(file, held)
  }
  return held
}

function refuse(status: 412, validators: Readonly<Record<string, string>>): DownloadPlan {
  return { status, headers: { ...validators }, body: false }
}

/**
 * A 304 keeps the validators and caching headers (§15.4.5). Its Content-Length is the size a 200
 * would have (allowed by §8.6), because our contract promises a Content-Length on every answer;
 * HTTP parsers know a 304 has no body whatever that header says.
 */
function notModified(whole: Readonly<Record<string, string>>): DownloadPlan {
  const { 'Content-Type': _type, ...headers } = whole
  return { status: 304, headers, body: false }
}

const SIMPLE_RANGE = /^bytes=(\d+)-(\d*)$/

type RangeSpec = { start: number; end?: number } | { suffix: number }

/**
 * A Range header we act on: exactly one `bytes=` range. A header we cannot parse is ignored, as
 * RFC 9110 §14.2 requires, and so is a request for SEVERAL ranges, which §14.2 allows: devices never
 * send them, and the answer would be multipart/byteranges, whose body has no size we state up
 * front like a single range's and whose length grows with the number of parts the client asks for.
 */
function parseRange(header: string): RangeSpec | 'ignore' {
  // What devices send, read at once; anything else takes the general path below.
  const simple = SIMPLE_RANGE.exec(header)
  if (simple) {
    const start = Number(simple[1])
    const end = simple[2] === '' ? undefined : Number(simple[2])
    return end !== undefined && end < start ? 'ignore' : { start, end }
  }
  const eq = header.indexOf('=')
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return 'ignore'
  // A list may contain empty elements and optional whitespace around commas (§5.6.1).
  const parts = header
    .slice(eq + 1)
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
  const specs: RangeSpec[] = []
  for (const part of parts) {
    const m = /^(\d*)-(\d*)$/.exec(part)
    if (!m || (m[1] === '' && m[2] === '')) return 'ignore'
    if (m[1] === '') {
      specs.push({ suffix: Number(m[2]) })
    } else {
      const start = Number(m[1])
      const end = m[2] === '' ? undefined : Number(m[2])
      if (end !== undefined && end < start) return 'ignore'
      specs.push({ start, end })
    }
  }
  if (specs.length !== 1) return 'ignore'
  return specs[0]
}

/**
 * The bytes a single range selects, clamped to the file (ESP-IDF asks for one byte past the end);
 * undefined when nothing can be served (416); 'whole' when the range covers a zero-length file,
 * which no Content-Range can express, so the empty 200 is the answer.
 */
function satisfy(spec: RangeSpec, size: number): { start: number; end: number } | 'whole' | undefined {
  if ('suffix' in spec) {
    if (spec.suffix === 0) return undefined
    if (size === 0) return 'whole'
    return { start: Math.max(0, size - spec.suffix), end: size - 1 }
  }
  if (spec.start >= size) return undefined
  return { start: spec.start, end: Math.min(spec.end ?? size - 1, size - 1) }
}

function ifRangeHolds(value: string, file: DownloadFile): boolean {
  const v = value.trim()
  if (v.startsWith('"') || v.startsWith('W/')) return v === file.etag // strong comparison (§13.1.5)
  const date = parseHttpDate(v)
  return date !== undefined && file.lastModified !== undefined && date === seconds(file.lastModified)
}

function entityTags(list: string): string[] | '*' {
  if (list.trim() === '*') return '*'
  return list.match(/(?:W\/)?"[^"]*"/g) ?? []
}

/** If-Match uses the strong comparison: a weak tag never matches (§13.1.1). */
function matchesIfMatch(list: string, etag: string): boolean {
  const tags = entityTags(list)
  return tags === '*' || tags.includes(etag)
}

/** If-None-Match uses the weak comparison: `W/"x"` matches `"x"` (§13.1.2). Also used for manifests. */
export function matchesIfNoneMatch(list: string, etag: string): boolean {
  const tags = entityTags(list)
  const opaque = etag.replace(/^W\//, '')
  return tags === '*' || tags.some((t) => t.replace(/^W\//, '') === opaque)
}

// The three HTTP-date forms of RFC 9110 §5.6.7: IMF-fixdate, obsolete RFC 850, asctime. Date.parse
// alone would accept strings such as "1" as dates.
const HTTP_DATE =
  /^(?:[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT|[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})$/

/** Seconds since the epoch, or undefined for a value that is not an HTTP-date. */
function parseHttpDate(value: string): number | undefined {
  const v = value.trim()
  if (!HTTP_DATE.test(v)) return undefined
  const ms = Date.parse(/GMT$/.test(v) ? v : `${v} GMT`)
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000)
}

/** Last-Modified values already formatted: toUTCString cost a microsecond or more of every download. */
const formatted = new Map<number, string>()

function httpDate(date: Date): string {
  const ms = date.getTime()
  let text = formatted.get(ms)
  if (text === undefined) {
    text = date.toUTCString()
    // One entry per artifact served; a bound all the same.
    if (formatted.size >= 1024) formatted.clear()
    formatted.set(ms, text)
  }
  return text
}

/** HTTP dates have one-second resolution. */
function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000)
}
