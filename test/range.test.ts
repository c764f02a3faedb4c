import t from 'tap'
import { planDownload, type DownloadRequest, type DownloadPlan } from '../src/http/range'

// planDownload decides every answer of GET/HEAD /v1/firmware/:sha256.bin without I/O; these tables
// pin each rule of RFC 9110 it follows and each device quirk it absorbs.

const SHA = 'ab'.repeat(32)
const ETAG = `"${SHA}"`
const SIZE = 1000
// Half a second past the full second: HTTP dates have one-second resolution.
const MODIFIED = new Date('2026-11-01T10:00:00.500Z')
const MODIFIED_HTTP = 'Sun, 01 Nov 2026 10:00:00 GMT'
const EARLIER_HTTP = 'Sun, 01 Nov 2026 09:59:59 GMT'
const LATER_HTTP = 'Sun, 01 Nov 2026 10:00:01 GMT'
const FILE = { size: SIZE, etag: ETAG, lastModified: MODIFIED }

function plan(headers: DownloadRequest['headers'], method = 'GET', file = FILE): DownloadPlan {
  return planDownload({ method, headers }, file)
}

t.test('no condition and no range: 200 with every header, exactly', async (t) => {
  t.same(plan({}), {
    status: 200,
    headers: {
      'Accept-Ranges': 'bytes',
      ETag: ETAG,
      'Last-Modified': MODIFIED_HTTP,
      'Cache-Control': 'public, max-age=31536000, immutable',
      'Content-Type': 'application/octet-stream',
      'Content-Length': '1000',
    },
    body: true,
  })
  const noDate = planDownload({ method: 'GET', headers: {} }, { size: SIZE, etag: ETAG })
  t.notOk('Last-Modified' in noDate.headers, 'no Last-Modified unless one is given')
})

t.test('single ranges: 206 with exact Content-Length and Content-Range', async (t) => {
  const cases: Array<[string, number, number, string]> = [
    ['bytes=0-99', 0, 99, 'a closed range'],
    ['bytes=0-0', 0, 0, 'the first byte (ESP-IDF v6 probe)'],
    ['bytes=100-', 100, 999, 'an open range'],
    ['bytes=999-', 999, 999, 'the last byte, open'],
    ['bytes=999-999', 999, 999, 'the last byte, closed'],
    ['bytes=-100', 900, 999, 'a suffix'],
    ['bytes=-5000', 0, 999, 'a suffix longer than the file is the whole file'],
    ['bytes=990-1000', 990, 999, 'one byte past the end (ESP-IDF last chunk) is clamped'],
    ['bytes=0-99999999999999999999999', 0, 999, 'a huge end is clamped'],
    ['BYTES=10-19', 10, 19, 'the unit is case-insensitive'],
    ['bytes=10-19,', 10, 19, 'an empty list element is skipped'],
    [' bytes=10-19 ', 10, 19, 'surrounding whitespace'],
  ]
  for (const [range, start, end, why] of cases) {
    const p = plan({ range })
    t.equal(p.status, 206, `${range}: ${why}`)
    t.same(p.range, { start, end }, `${range}: bytes ${start}-${end}`)
    t.equal(p.headers['Content-Length'], String(end - start + 1), `${range}: Content-Length`)
    t.equal(p.headers['Content-Range'], `bytes ${start}-${end}/${SIZE}`, `${range}: Content-Range`)
    t.equal(p.headers.ETag, ETAG)
    t.equal(p.headers['Content-Type'], 'application/octet-stream')
    t.equal(p.body, true)
  }
})

t.test('unsatisfiable ranges: 416 with Content-Range bytes */size', async (t) => {
  for (const range of ['bytes=1000-', 'bytes=1000-1000', 'bytes=5000-6000', 'bytes=-0', 'bytes=99999999999999999999-']) {
    t.same(
      plan({ range }),
      { status: 416, headers: { 'Accept-Ranges': 'bytes', 'Content-Range': 'bytes */1000' }, body: false },
      range
    )
  }
})

t.test('a Range header that is not one valid byte range is ignored: 200 with the whole file', async (t) => {
  const cases: Array<[string, string]> = [
    ['bytes=5-1', 'last before first'],
    ['bytes=abc', 'not numbers'],
    ['bytes=', 'no range'],
    ['bytes=-', 'neither end'],
    ['bytes=1-2-3', 'three numbers'],
    ['bytes=0x10-20', 'hex'],
    ['0-99', 'no unit'],
    ['items=0-99', 'another unit'],
    ['bytes=0-99,200-299', 'two ranges: never multipart'],
    ['bytes=0-1, 2000-3000', 'two ranges, one unsatisfiable'],
    ['bytes=0-99, bytes=0-99', 'a duplicated Range header as node joins it'],
  ]
  for (const [range, why] of cases) {
    const p = plan({ range })
    t.equal(p.status, 200, `${range}: ${why}`)
    t.equal(p.range, undefined)
    t.equal(p.headers['Content-Length'], '1000')
    t.notOk('Content-Range' in p.headers)
    t.equal(p.body, true)
  }
})

t.test('If-Range: a strong ETag or the exact Last-Modified date keeps the range, anything else gives the whole file', async (t) => {
  const cases: Array<[string, number, string]> = [
    [ETAG, 206, 'the same strong ETag'],
    ['"0000"', 200, 'another ETag'],
    [`W/${ETAG}`, 200, 'a weak tag never matches (strong comparison)'],
    [MODIFIED_HTTP, 206, 'the Last-Modified date'],
    ['Sunday, 01-Nov-26 10:00:00 GMT', 206, 'the same date in RFC 850 form'],
    ['Sun Nov  1 10:00:00 2026', 206, 'the same date in asctime form'],
    [EARLIER_HTTP, 200, 'an earlier date'],
    [LATER_HTTP, 200, 'a later date'],
    ['yesterday', 200, 'not a date'],
    ['1', 200, 'a number Date.parse would take'],
  ]
  for (const [ifRange, status, why] of cases) {
    const p = plan({ range: 'bytes=100-199', 'if-range': ifRange })
    t.equal(p.status, status, `${ifRange}: ${why}`)
    t.equal(p.headers['Content-Length'], status === 206 ? '100' : '1000')
  }
  const noDate = planDownload(
    { method: 'GET', headers: { range: 'bytes=0-9', 'if-range': MODIFIED_HTTP } },
    { size: SIZE, etag: ETAG }
  )
  t.equal(noDate.status, 200, 'a date cannot match a file without Last-Modified')
  t.equal(plan({ 'if-range': '"0000"' }).status, 200, 'If-Range without Range changes nothing')
  t.equal(plan({ range: 'bytes=5000-', 'if-range': '"0000"' }).status, 200, 'a failed If-Range turns a would-be 416 into 200')
})

t.test('If-None-Match (weak comparison) and If-Modified-Since: 304', async (t) => {
  const cases: Array<[DownloadRequest['headers'], number, string]> = [
    [{ 'if-none-match': ETAG }, 304, 'the current tag'],
    [{ 'if-none-match': `W/${ETAG}` }, 304, 'the weak form of the tag'],
    [{ 'if-none-match': `"one", ${ETAG}, "two"` }, 304, 'a list that holds it'],
    [{ 'if-none-match': '*' }, 304, '*'],
    [{ 'if-none-match': '"other"' }, 200, 'another tag'],
    [{ 'if-none-match': SHA }, 200, 'an unquoted tag is not an entity-tag'],
    [{ 'if-none-match': ETAG, range: 'bytes=0-9' }, 304, 'a match wins over Range'],
    [{ 'if-modified-since': MODIFIED_HTTP }, 304, 'the Last-Modified second'],
    [{ 'if-modified-since': LATER_HTTP }, 304, 'a later date'],
    [{ 'if-modified-since': EARLIER_HTTP }, 200, 'an earlier date'],
    [{ 'if-modified-since': 'soon' }, 200, 'not a date: ignored'],
    [{ 'if-none-match': '"other"', 'if-modified-since': LATER_HTTP }, 200, 'If-Modified-Since only without If-None-Match'],
  ]
  for (const [headers, status, why] of cases) {
    t.equal(plan(headers).status, status, why)
  }
  t.same(
    plan({ 'if-none-match': ETAG }),
    {
      status: 304,
      headers: {
        'Accept-Ranges': 'bytes',
        ETag: ETAG,
        'Last-Modified': MODIFIED_HTTP,
        'Cache-Control': 'public, max-age=31536000, immutable',
        'Content-Length': '1000',
      },
      body: false,
    },
    '304 keeps validators and caching, states the full length, sends no body'
  )
  const noDate = planDownload({ method: 'GET', headers: { 'if-modified-since': LATER_HTTP } }, { size: SIZE, etag: ETAG })
  t.equal(noDate.status, 200, 'If-Modified-Since is ignored for a file without Last-Modified')
  t.equal(plan({ 'if-none-match': ETAG }, 'POST').status, 412, 'a matching If-None-Match fails other methods')
})

t.test('If-Match (strong comparison) and If-Unmodified-Since: 412, checked first', async (t) => {
  const cases: Array<[DownloadRequest['headers'], number, string]> = [
    [{ 'if-match': ETAG }, 200, 'the current tag'],
    [{ 'if-match': `"one", ${ETAG}` }, 200, 'a list that holds it'],
    [{ 'if-match': '*' }, 200, '*: the file exists'],
    [{ 'if-match': '"other"' }, 412, 'another tag'],
    [{ 'if-match': `W/${ETAG}` }, 412, 'a weak tag never matches'],
    [{ 'if-match': '"other"', 'if-none-match': ETAG }, 412, 'If-Match before If-None-Match'],
    [{ 'if-match': '"other"', range: 'bytes=0-9' }, 412, 'If-Match before Range'],
    [{ 'if-unmodified-since': EARLIER_HTTP }, 412, 'modified since'],
    [{ 'if-unmodified-since': MODIFIED_HTTP }, 200, 'not modified since that second'],
    [{ 'if-unmodified-since': 'never' }, 200, 'not a date: ignored'],
    [{ 'if-match': ETAG, 'if-unmodified-since': EARLIER_HTTP }, 200, 'If-Unmodified-Since only without If-Match'],
    [{ 'if-match': ETAG, range: 'bytes=0-9' }, 206, 'a holding If-Match lets the range through'],
  ]
  for (const [headers, status, why] of cases) {
    t.equal(plan(headers).status, status, why)
  }
  t.same(plan({ 'if-match': '"other"' }), {
    status: 412,
    headers: { ETag: ETAG, 'Last-Modified': MODIFIED_HTTP },
    body: false,
  })
})

t.test('HEAD: the same status and headers as GET, without the body', async (t) => {
  const requests: Array<DownloadRequest['headers']> = [
    {},
    { range: 'bytes=0-99' },
    { range: 'bytes=990-1000' },
    { range: 'bytes=5000-' },
    { range: 'bytes=0-1,5-6' },
    { 'if-none-match': ETAG },
    { 'if-match': '"other"' },
    { range: 'bytes=0-9', 'if-range': '"other"' },
  ]
  for (const headers of requests) {
    const get = plan(headers, 'GET')
    const head = plan(headers, 'HEAD')
    t.equal(head.status, get.status, JSON.stringify(headers))
    t.same(head.headers, get.headers)
    t.same(head.range, get.range)
    t.equal(head.body, false)
  }
})

t.test('a zero-length file', async (t) => {
  const empty = { size: 0, etag: ETAG }
  const whole = planDownload({ method: 'GET', headers: {} }, empty)
  t.equal(whole.status, 200)
  t.equal(whole.headers['Content-Length'], '0')
  t.equal(planDownload({ method: 'GET', headers: { range: 'bytes=0-' } }, empty).status, 416, 'no first byte to start at')
  t.equal(planDownload({ method: 'GET', headers: { range: 'bytes=0-' } }, empty).headers['Content-Range'], 'bytes */0')
  t.equal(planDownload({ method: 'GET', headers: { range: 'bytes=-0' } }, empty).status, 416)
  const suffix = planDownload({ method: 'GET', headers: { range: 'bytes=-10' } }, empty)
  t.equal(suffix.status, 200, 'a suffix selects the whole (empty) file, which no Content-Range can express')
  t.equal(suffix.headers['Content-Length'], '0')
})
