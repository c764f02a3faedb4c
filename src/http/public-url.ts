import type { FastifyRequest } from 'fastify'
import { badRequest } from '../errors'
import { MAX_URL_BASE_LENGTH } from '../manifest/signed-manifests'

// A DNS name or an IPv4 address, or a bracketed IPv6 address, with an optional port.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/

/** OTA_PUBLIC_URL without trailing slashes; refused at start when a manifest could not hold it. */
export function configuredBaseUrl(publicUrl: string | undefined): string | undefined {
  if (publicUrl === undefined) return undefined
  const base = publicUrl.replace(/\/+$/, '')
  if (base.length > MAX_URL_BASE_LENGTH) {
    throw new Error(
      `OTA_PUBLIC_URL is ${base.length} characters; manifests (at most 1024 bytes) leave room for ${MAX_URL_BASE_LENGTH}: use a shorter URL`
    )
  }
  return base
}

/**
 * The base of absolute URLs in answers: the configured public URL, or else the scheme and host the
 * client used (through a trusted proxy, Fastify takes them from X-Forwarded-Proto/-Host).
 */
export function requestBaseUrl(request: FastifyRequest, configured: string | undefined): string {
  if (configured !== undefined) return configured
  const host = request.host
  if (!host || !HOST.test(host)) {
    throw badRequest('send a Host header naming this server (host[:port]), or have the operator set OTA_PUBLIC_URL')
  }
  const base = `${request.protocol}://${host}`
  if (base.length > MAX_URL_BASE_LENGTH) {
    throw badRequest(`the Host header is too long (a manifest holds a base URL of at most ${MAX_URL_BASE_LENGTH} characters)`)
  }
  return base
}
