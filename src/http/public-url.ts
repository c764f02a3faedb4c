import type { FastifyRequest } from 'fastify'
import { MAX_URL_BASE_LENGTH } from '../manifest/signed-manifests'

/** A configured base URL without trailing slashes; refused at start when a manifest could not hold it. */
export function configuredBaseUrl(url: string | undefined, variable = 'OTA_PUBLIC_URL'): string | undefined {
  if (url === undefined) return undefined
  const base = url.replace(/\/+$/, '')
  if (base.length > MAX_URL_BASE_LENGTH) {
    throw new Error(
      `${variable} is ${base.length} characters; manifests (at most 1024 bytes) leave room for ${MAX_URL_BASE_LENGTH}: use a shorter URL`
    )
  }
  return base
}

/** OTA_ALLOWED_HOSTS as a set of lowercase host[:port] names. */
function allowedHosts(list: string | undefined): Set<string> {
  return new Set(
    (list ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean)
  )
}

/** The address and port the request came in on, as a URL authority ("127.0.0.1:8080", "[::1]:8080"). */
function listeningAuthority(request: FastifyRequest, fallbackHost: string, fallbackPort: number): string {
  const socket = request.raw.socket
  const address = (socket.localAddress ?? fallbackHost).replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')
  const port = socket.localPort ?? fallbackPort
  return `${address.includes(':') ? `[${address}]` : address}:${port}`
}

export interface BaseUrlSettings {
  configured: string | undefined
  /** OTA_DOWNLOAD_BASE_URL: where the immutable binaries are fetched (a CDN or caching proxy), if not here. */
  download: string | undefined
  allowed: Set<string>
  host: string
  port: number
}

/** What requestBaseUrl needs from the configuration, read once per route plugin. */
export function baseUrlSettings(config: {
  OTA_PUBLIC_URL?: string
  OTA_DOWNLOAD_BASE_URL?: string
  OTA_ALLOWED_HOSTS?: string
  OTA_HOST: string
  OTA_PORT: number
}): BaseUrlSettings {
  return {
    configured: configuredBaseUrl(config.OTA_PUBLIC_URL),
    download: configuredBaseUrl(config.OTA_DOWNLOAD_BASE_URL, 'OTA_DOWNLOAD_BASE_URL'),
    allowed: allowedHosts(config.OTA_ALLOWED_HOSTS),
    host: config.OTA_HOST,
    port: config.OTA_PORT,
  }
}

/**
 * The base of absolute URLs in answers. The configured public URL when there is one; else the
 * scheme and Host the client used, but only a Host the operator listed in OTA_ALLOWED_HOSTS; else
 * the address the request came in on. A Host header is the client's to choose: followed blindly it
 * would put any URL in a signed manifest and make a fresh signature (an ECDSA signing) per name.
 */
export function requestBaseUrl(request: FastifyRequest, settings: BaseUrlSettings): string {
  if (settings.configured !== undefined) return settings.configured
  const host = request.host.toLowerCase()
  const authority = settings.allowed.has(host) ? host : listeningAuthority(request, settings.host, settings.port)
  return `${request.protocol}://${authority}`.slice(0, MAX_URL_BASE_LENGTH)
}

/**
 * The base of the immutable, content-addressed download URLs a manifest names (/v1/firmware/<sha256>.bin
 * and delta patches): OTA_DOWNLOAD_BASE_URL when set, so that a CDN or caching proxy serves the bytes
 * (they never change under one URL, so a cache is never stale), else the same base as other URLs.
 */
export function downloadBaseUrl(request: FastifyRequest, settings: BaseUrlSettings): string {
  return settings.download ?? requestBaseUrl(request, settings)
}
