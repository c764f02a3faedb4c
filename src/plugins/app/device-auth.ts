import fp from 'fastify-plugin'
import type { FastifyRequest, onRequestAsyncHookHandler, onRequestHookHandler } from 'fastify'
import { Refusal } from '../../errors'
import { DeviceAdmission } from '../../fleet/device-admission'
import { DEVICE_TOKEN_PREFIX, DeviceTokens, RevocationCache } from '../../fleet/device-tokens'
import { EnrolledDevices } from '../../fleet/enrolled-devices'
import { addRouteHook } from '../../http/route-options'
import { bearer } from './auth'

declare module 'fastify' {
  interface FastifyInstance {
    deviceTokens: DeviceTokens
    admission: DeviceAdmission
    /** Whether a device has an accepted key, held in memory (src/fleet/enrolled-devices.ts). */
    enrolledDevices: EnrolledDevices
  }
  interface FastifyRequest {
    /** The device a valid device token proves the request comes from; null without one. */
    provenDevice: string | null
  }
  interface FastifyContextConfig {
    /** The route reads `Authorization: Bearer <device token>` (and, with OTA_DEVICE_AUTH=required, insists on it). */
    deviceCredentials?: boolean
  }
}

/**
 * Device credentials on the routes that ask for them (`config.deviceCredentials`). A device token
 * is checked by its HMAC and expiry, and against the revocations read from the database at most
 * every few seconds: no query and no write per request. A token that does not check out is a 401
 * in every mode but off (the device then renews it); a request without one is let through as
 * unproven, except with OTA_DEVICE_AUTH=required, where only an ota-gate role token (an operator
 * looking) stands in for it.
 */
export default fp(
  async function deviceAuthPlugin(app) {
    const mode = app.config.OTA_DEVICE_AUTH
    const revocations = new RevocationCache(app.repos.credentials, app.clock)
    const tokens = new DeviceTokens(await app.repos.credentials.tokenSecret(), app.config.OTA_DEVICE_TOKEN_TTL * 1000, (d) => revocations.get(d), app.clock)
    // With PostgreSQL, a revocation made through another instance or the CLI is seen at once.
    app.changes?.subscribe(['device_revocations'], () => revocations.changed())
    const enrolled = new EnrolledDevices(app.repos.credentials, app.clock)
    app.changes?.subscribe(['device_keys'], () => enrolled.changed())
    app.decorate('deviceTokens', tokens)
    app.decorate('enrolledDevices', enrolled)
    app.decorate('admission', new DeviceAdmission(app.repos, () => revocations.changed(), app.clock, (device) => enrolled.decided(device)))
    app.decorateRequest('provenDevice', null)

    const check: onRequestAsyncHookHandler = async function checkDeviceToken(request: FastifyRequest) {
      const token = bearer(request)
      if (token?.startsWith(DEVICE_TOKEN_PREFIX)) {
        const result = await tokens.verify(token)
        if (!result.ok) throw new Refusal(result.code, result.message)
        request.provenDevice = result.device
        return
      }
      if (mode !== 'required') return
      if (token !== undefined) {
        const identity = await app.repos.tokens.authenticate(token)
        if (identity) {
          request.identity = identity
          return
        }
      }
      throw new Refusal('device_token_required',
        'this server requires device credentials: send Authorization: Bearer <device token> (enroll, then POST /v1/devices/:device/token)'
      )
    }

    // Most polls carry no token: answered without the promise of an async hook.
    const onRequest: onRequestHookHandler = function deviceCredentials(request, reply, done) {
      if (request.headers.authorization === undefined && mode !== 'required') return done()
      check.call(this, request, reply).then(() => done(), done)
    }

    app.addHook('onRoute', (route) => {
      if (mode !== 'off' && route.config?.deviceCredentials) addRouteHook(route, 'onRequest', onRequest)
    })
  },
  { name: 'device-auth', dependencies: ['config', 'clock', 'repositories', 'auth', 'change-feed'] }
)
