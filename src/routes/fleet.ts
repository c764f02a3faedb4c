import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { badRequest, Refusal } from '../errors'
import { durationParam } from '../duration'
import { coversFieldFleet, fieldFleetAdoption, fieldFleetSummary } from '../fleet/field-fleet'
import { channelRollouts, deviceRollout } from '../fleet/rollout-views'
import type { DeviceDetail, DeviceReleaseRow, DeviceRow } from '../repositories/device-rows'
import { BoardName, DeviceId, Version, errors, normalizeDevice } from '../schemas/common'
import { requireBoard } from '../fleet/known-board'
import {
  AdoptionResponse,
  DeviceDetailResponse,
  DevicesQuery,
  DevicesResponse,
  VersionsQuery,
  VersionsResponse,
  type DeviceView,
  type UpdateState,
} from '../schemas/fleet'
import { routePlugin } from './route-plugin'

const iso = (ms: number) => new Date(ms).toISOString()
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms))

function deviceView(d: DeviceRow): DeviceView {
  return { ...d, first_seen: iso(d.first_seen), last_seen: iso(d.last_seen), verified: d.verified === 1 }
}

const STATE_ORDER = ['rolled_back', 'booted', 'failed', 'installed', 'downloaded', 'downloading', 'offered'] as const

function updateView(u: DeviceReleaseRow): UpdateState {
  const times = {
    offered_at: u.offered_at,
    downloading_at: u.downloading_at,
    downloaded_at: u.downloaded_at,
    installed_at: u.installed_at,
    booted_at: u.booted_at,
    failed_at: u.failed_at,
    rolled_back_at: u.rolled_back_at,
  }
  return {
    release_id: u.release_id,
    board: u.board,
    channel: u.channel,
    version: u.version,
    sequence: u.sequence,
    from_version: u.from_version === '' ? null : u.from_version,
    offered_at: isoOrNull(u.offered_at),
    downloading_at: isoOrNull(u.downloading_at),
    downloaded_at: isoOrNull(u.downloaded_at),
    installed_at: isoOrNull(u.installed_at),
    booted_at: isoOrNull(u.booted_at),
    failed_at: isoOrNull(u.failed_at),
    rolled_back_at: isoOrNull(u.rolled_back_at),
    rollback_silent: u.rollback_silent === 1,
    state: STATE_ORDER.find((s) => times[`${s}_at`] !== null) ?? 'offered',
  }
}

function detailView(d: DeviceDetail) {
  return {
    ...deviceView(d),
    history: d.history.map((h) => ({ ...h, at: iso(h.at) })),
    reports: d.reports.map((r) => ({ ...r, at: iso(r.at), verified: r.verified === 1 })),
    updates: d.releases.map(updateView),
  }
}

/** The cursor is the last device id of a page, opaque to clients. */
const encodeCursor = (device: string) => Buffer.from(device, 'utf8').toString('base64url')

function decodeCursor(cursor: string): string {
  const device = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!/^[0-9a-f]{12}$/.test(device)) throw badRequest('cursor is not one this server gave: pass next_cursor from the previous page as is')
  return device
}

/** A search prefix as typed (any case, with or without ':' or '-') as the ids are stored. */
function devicePrefix(typed: string): string {
  const prefix = normalizeDevice(typed)
  if (!/^[0-9a-f]{1,12}$/.test(prefix)) throw badRequest('prefix is 1 to 12 hex digits of a device id (separators : or - allowed)')
  return prefix
}

/** What operators read about the fleet: version counts, devices, one device, a release's adoption. */
const fleet: FastifyPluginAsyncTypebox = async (app) => {
  const operator = app.requireRole('operator')

  app.get(
    '/v1/fleet/versions',
    {
      onRequest: operator,
      schema: {
        summary: 'Devices per running version, and how many are stale',
        tags: ['fleet'],
        querystring: VersionsQuery,
        response: { 200: VersionsResponse, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const q = request.query
      const staleAfter = q.stale_after ?? app.config.OTA_STALE_AFTER
      const staleMs = q.stale_after === undefined ? app.config.staleAfterMs : durationParam('stale_after', q.stale_after)
      if (q.board !== undefined) await requireBoard(app.repos, q.board)
      const versions = (await app.repos.deviceQueries.versionCounts(q)).map((v) => ({ ...v, unverified: v.devices - v.verified }))
      const pairs = new Map<string, { board: string; channel: string }>()
      for (const v of versions) pairs.set(`${v.board}\n${v.channel}`, { board: v.board, channel: v.channel })
      const staleByChannel = await app.repos.deviceQueries.countNotSeenSince([...pairs.values()], app.clock.now() - staleMs)
      const channels = staleByChannel.map((c) => ({
        ...c,
        devices: versions.filter((v) => v.board === c.board && v.channel === c.channel).reduce((n, v) => n + v.devices, 0),
      }))
      const rollouts = await channelRollouts(app.repos, [...pairs.values()])
      const delta = { devices: 0, bytes_saved: 0 }
      for (const board of new Set(versions.map((v) => v.board))) {
        for (const saved of (await app.repos.deltaPatches.savingsByRelease(board)).values()) {
          delta.devices += saved.devices
          delta.bytes_saved += saved.bytes_saved
        }
      }
      const total = versions.reduce((n, v) => n + v.devices, 0)
      const verified = versions.reduce((n, v) => n + v.verified, 0)
      // The field fleet names no device: its own line, never added to total or versions.
      const fieldFleet = coversFieldFleet(app.config, q) ? await fieldFleetSummary(app.repos, app.config, app.clock.now() - staleMs) : undefined
      return {
        total,
        verified,
        unverified: total - verified,
        device_auth: app.config.OTA_DEVICE_AUTH,
        stale: channels.reduce((n, c) => n + c.stale, 0),
        stale_after: staleAfter,
        versions,
        channels,
        rollouts,
        delta,
        field_fleet: fieldFleet,
      }
    }
  )

  app.get(
    '/v1/devices',
    {
      onRequest: operator,
      schema: {
        summary: 'Devices, filtered, in pages ordered by device id',
        tags: ['fleet'],
        querystring: DevicesQuery,
        response: { 200: DevicesResponse, ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const q = request.query
      const now = app.clock.now()
      const limit = q.limit ?? 50
      const devices = await app.repos.deviceQueries.list(
        {
          prefix: q.prefix === undefined ? undefined : devicePrefix(q.prefix),
          board: q.board,
          channel: q.channel,
          version: q.version,
          seenSince: q.seen_within === undefined ? undefined : now - durationParam('seen_within', q.seen_within),
          notSeenSince: q.not_seen_within === undefined ? undefined : now - durationParam('not_seen_within', q.not_seen_within),
        },
        q.cursor === undefined ? null : decodeCursor(q.cursor),
        // One more than asked tells whether another page follows without a second query.
        limit + 1
      )
      const page = devices.slice(0, limit)
      const more = devices.length > limit
      return { devices: page.map(deviceView), next_cursor: more ? encodeCursor(page[page.length - 1].device) : null }
    }
  )

  app.get(
    '/v1/devices/:device',
    {
      onRequest: operator,
      schema: {
        summary: 'One device, its version history, latest reports and update states',
        tags: ['fleet'],
        params: Type.Object({ device: DeviceId }),
        response: { 200: DeviceDetailResponse, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const id = normalizeDevice(request.params.device)
      const detail = await app.repos.deviceQueries.get(id)
      if (!detail) throw new Refusal('device_not_found', `no device ${id} has polled this server`)
      return { ...detailView(detail), rollout: await deviceRollout(app.repos, detail) }
    }
  )

  app.get(
    '/v1/releases/:board/:version/adoption',
    {
      onRequest: operator,
      schema: {
        summary: "A release's devices per update state reached, and how many run it",
        tags: ['fleet'],
        params: Type.Object({ board: BoardName, version: Version }),
        response: { 200: AdoptionResponse, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { board, version } = request.params
      const release = await app.repos.releases.get(board, version)
      if (!release) throw new Refusal('release_not_found', `board ${board} has no release ${version}`)
      const adoption = await app.repos.deviceQueries.adoption(release, app.config.OTA_DEVICE_AUTH !== 'off')
      const delta = await app.repos.deltaPatches.savings(release.id)
      const fieldFleet = await fieldFleetAdoption(app.repos, app.config, release)
      return { board, channel: release.channel, version, sequence: release.sequence, ...adoption, delta, field_fleet: fieldFleet }
    }
  )
}

export default routePlugin('fleet', fleet)
