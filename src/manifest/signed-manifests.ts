import crypto from 'node:crypto'
import type { ServerKey } from './server-key'
import type { Target } from '../fleet/target'
import type { DeltaOffer } from '../fleet/delta-offer'
import type { Clock } from '../clock'

/** ESP32 clients refuse a longer manifest. */
export const MAX_MANIFEST_BYTES = 1024
/**
 * The longest base URL (scheme, host, optional path prefix) a manifest may carry. With every field
 * at its longest (identifiers, 10-digit size, 96-character signature, a 200-character ASCII tag as
 * the release gate allows) the body is 893 bytes plus the base URL: 1013 at most.
 */
export const MAX_URL_BASE_LENGTH = 120
const MAX_ISSUANCE_WINDOW_MS = 3600_000
/** Distinct (release, channel, downgrade, url base, delta) entries kept; bounds memory against odd Host headers. */
const MAX_CACHED = 1024

/** A manifest signed once and served as is, byte for byte, until its issuance window ends. */
export interface SignedManifest {
  body: Buffer
  /** strong validator, quoted */
  etag: string
  issuedAt: number
  /** Response headers of a 200, ready to send. */
  headers: Record<string, string>
  /** Whether the body carries the delta asked for (it is left out when it would not fit in 1024 bytes). */
  hasDelta: boolean
}

export class ManifestTooLarge extends Error {
  override name = 'ManifestTooLarge'
}

/** ISO 8601 UTC without milliseconds, as the contract writes times. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/**
 * Signs manifests with the server key, once per issuance window: the body names no device, so
 * one signature serves every device with the same target. A new window re-signs with a fresh
 * issued_at, long before the previous manifest expires.
 */
export class SignedManifests {
  private readonly cache = new Map<string, SignedManifest>()
  private readonly windowMs: number

  constructor(
    private readonly key: ServerKey,
    private readonly ttlSeconds: number,
    private readonly clock: Clock
  ) {
    this.windowMs = Math.min(MAX_ISSUANCE_WINDOW_MS, (ttlSeconds * 1000) / 2)
  }

  /**
   * The current signed manifest of `target` on `channel`, with binaries under `urlBase` (no trailing
   * slash), and with `delta` beside the full image when given: one signed body per base, shared by
   * every device running that base. A delta that would push the body past 1024 bytes is left out.
   */
  get(target: Target, channel: string, urlBase: string, delta?: DeltaOffer): SignedManifest {
    const cacheKey = `${target.release.id}|${channel}|${target.allowDowngrade}|${urlBase}|${delta?.sha256 ?? ''}`
    const now = this.clock.now()
    const cached = this.cache.get(cacheKey)
    if (cached && now - cached.issuedAt < this.windowMs) return cached
    let fresh: SignedManifest
    try {
      fresh = this.sign(target, channel, urlBase, now, delta)
    } catch (err) {
      if (!(err instanceof ManifestTooLarge) || delta === undefined) throw err
      fresh = this.sign(target, channel, urlBase, now)
    }
    this.cache.delete(cacheKey)
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string)
    this.cache.set(cacheKey, fresh)
    return fresh
  }

  private sign(target: Target, channel: string, urlBase: string, now: number, delta?: DeltaOffer): SignedManifest {
    const r = target.release
    // Whole seconds, so that issued_at in the body is exactly the signing time the window counts from.
    const issuedAt = Math.floor(now / 1000) * 1000
    const body = Buffer.from(
      JSON.stringify({
        board: r.board,
        channel,
        version: r.version,
        sequence: r.sequence,
        size: r.size,
        sha256: r.sha256,
        md5: r.md5,
        url: `${urlBase}/v1/firmware/${r.sha256}.bin`,
        tag: r.tag,
        commit: r.commit_sha,
        release_signature: r.signature,
        release_key_id: r.key_id,
        allow_downgrade: target.allowDowngrade,
        issued_at: isoSeconds(issuedAt),
        expires_at: isoSeconds(issuedAt + this.ttlSeconds * 1000),
        ...(delta === undefined ? {} : { delta }),
      }),
      'utf8'
    )
    if (body.length > MAX_MANIFEST_BYTES) {
      throw new ManifestTooLarge(
        `the manifest of release ${r.board}/${r.version} would be ${body.length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit of ESP32 clients (tag ${r.tag.length} characters, url base ${urlBase.length})`
      )
    }
    const signature = crypto.sign('sha256', body, { key: this.key.privateKey, dsaEncoding: 'der' }).toString('base64')
    const etag = `"${crypto.createHash('sha256').update(body).digest('base64url')}"`
    return {
      body,
      etag,
      issuedAt,
      hasDelta: delta !== undefined,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        etag,
        // Devices and proxies may keep it but must revalidate: a new release changes it at once.
        'cache-control': 'no-cache',
        'x-ota-signature': signature,
        'x-ota-key-id': this.key.keyId,
      },
    }
  }
}
