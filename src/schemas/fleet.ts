import { Type, type Static } from '@sinclair/typebox'
import { ChannelRolloutView, DeviceRolloutView } from './rollout'
import { BoardName, ChannelName, Version } from './common'
import { DeltaSavingsView } from './delta'

const Time = Type.String({ format: 'date-time', description: 'ISO 8601 UTC' })
const NullableTime = Type.Union([Time, Type.Null()])

/** How the field fleet is labelled wherever it is shown beside devices. */
export const FIELD_FLEET_LABEL = 'field fleet (unidentified)'

export const COUNTED_BY = 'address and user agent: the field fleet polls /firmware.json without naming a device, so one client may be several devices behind one NAT, and one device may change address'

/** The field fleet's line in fleet views: counted by address, never mixed into device counts. */
export const FieldFleetSummary = Type.Object(
  {
    label: Type.Literal(FIELD_FLEET_LABEL),
    board: BoardName,
    channel: ChannelName,
    counted_by: Type.String({ description: COUNTED_BY }),
    clients: Type.Integer({ description: 'distinct address and user agent pairs that polled /firmware.json' }),
    addresses: Type.Integer({ description: 'distinct addresses among them' }),
    stale: Type.Integer({ description: 'clients not seen within stale_after' }),
    polls: Type.Integer(),
  },
  { description: 'clients of /firmware.json and /firmware.app.bin: not devices, and not included in total or versions' }
)

export const DeviceView = Type.Object({
  device: Type.String({ description: '12 lowercase hex (the MAC)' }),
  board: BoardName,
  channel: ChannelName,
  version: Type.String({ description: 'the version the device last said it runs' }),
  sequence: Type.Integer(),
  first_seen: Time,
  last_seen: Time,
  address: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  polls: Type.Integer(),
  free_space: Type.Union([Type.Integer(), Type.Null()], { description: 'bytes of the free OTA slot, when the device sends it' }),
  sketch_md5: Type.Union([Type.String(), Type.Null()]),
  offered_version: Type.Union([Type.String(), Type.Null()], { description: 'the release the last poll was offered, if any' }),
  note: Type.Union([Type.String(), Type.Null()], { description: 'why the device cannot take its target, if it cannot' }),
  running_sha256: Type.Union([Type.String(), Type.Null()], { description: 'SHA-256 of the image it runs, as its last delta-capable poll said' }),
  verified: Type.Boolean({ description: 'its check-ins come with its device token: only such devices count when device credentials are on' }),
})
export type DeviceView = Static<typeof DeviceView>

export const VersionsQuery = Type.Object({
  board: Type.Optional(BoardName),
  channel: Type.Optional(ChannelName),
  stale_after: Type.Optional(Type.String({ description: 'a device not seen for this long is stale, e.g. 26h (default OTA_STALE_AFTER)' })),
})

const DeviceAuthMode = Type.Union([Type.Literal('off'), Type.Literal('optional'), Type.Literal('required')], {
  description: 'OTA_DEVICE_AUTH: with optional or required, only verified devices count toward rollouts and adoption',
})

export const VersionsResponse = Type.Object({
  total: Type.Integer(),
  verified: Type.Integer({ description: 'devices whose check-ins come with their device token' }),
  unverified: Type.Integer({ description: 'devices that have not proved who they are' }),
  device_auth: DeviceAuthMode,
  stale: Type.Integer({ description: 'devices not seen within stale_after' }),
  stale_after: Type.String(),
  versions: Type.Array(
    Type.Object({
      board: BoardName,
      channel: ChannelName,
      version: Type.String(),
      sequence: Type.Integer(),
      devices: Type.Integer({ description: 'all devices running it' }),
      verified: Type.Integer(),
      unverified: Type.Integer(),
    })
  ),
  channels: Type.Array(
    Type.Object({ board: BoardName, channel: ChannelName, devices: Type.Integer(), stale: Type.Integer({ description: 'not seen within stale_after' }) }),
    { description: 'devices and stale devices of each board and channel listed' }
  ),
  rollouts: Type.Optional(Type.Array(ChannelRolloutView, { description: 'the current rollout of each board and channel listed' })),
  delta: Type.Optional({ ...DeltaSavingsView, description: 'what delta updates saved over the releases of the boards listed' }),
  field_fleet: Type.Optional(FieldFleetSummary),
})

export const DevicesQuery = Type.Object({
  prefix: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f:-]{1,17}$', description: 'devices whose id starts with these hex digits (a whole id finds one)' })),
  board: Type.Optional(BoardName),
  channel: Type.Optional(ChannelName),
  version: Type.Optional(Version),
  seen_within: Type.Optional(Type.String({ description: 'seen within this duration, e.g. 24h' })),
  not_seen_within: Type.Optional(Type.String({ description: 'not seen within this duration, e.g. 7d' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 64, description: 'next_cursor of the previous page' })),
})

export const DevicesResponse = Type.Object({
  devices: Type.Array(DeviceView),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
})

export const UpdateState = Type.Object({
  release_id: Type.Integer(),
  board: BoardName,
  channel: ChannelName,
  version: Type.String(),
  sequence: Type.Integer(),
  from_version: Type.Union([Type.String(), Type.Null()], { description: 'what the device ran when this began' }),
  offered_at: NullableTime,
  downloading_at: NullableTime,
  downloaded_at: NullableTime,
  installed_at: NullableTime,
  booted_at: NullableTime,
  failed_at: NullableTime,
  rolled_back_at: NullableTime,
  rollback_silent: Type.Boolean({ description: 'the rollback was seen (back on its old version), not reported' }),
  state: Type.String({ description: 'the furthest point reached: rolled_back, booted, failed, installed, downloaded, downloading or offered' }),
})

export type UpdateState = Static<typeof UpdateState>

export const DeviceDetailResponse = Type.Composite([
  DeviceView,
  Type.Object({
    history: Type.Array(
      Type.Object({ board: BoardName, channel: ChannelName, version: Type.String(), sequence: Type.Integer(), at: Time }),
      { description: 'version changes, newest first' }
    ),
    reports: Type.Array(
      Type.Object({
        status: Type.String(),
        version: Type.String(),
        sequence: Type.Integer(),
        detail: Type.Union([Type.String(), Type.Null()]),
        verified: Type.Boolean({ description: 'sent with the device token' }),
        at: Time,
      }),
      { description: 'the latest reports, newest first' }
    ),
    updates: Type.Array(UpdateState, { description: 'where the device stands with each release it was offered or reported about, newest release first' }),
    rollout: Type.Optional(DeviceRolloutView),
  }),
])

export const AdoptionResponse = Type.Object({
  board: BoardName,
  channel: ChannelName,
  version: Type.String(),
  sequence: Type.Integer(),
  offered: Type.Integer(),
  downloading: Type.Integer(),
  downloaded: Type.Integer(),
  installed: Type.Integer(),
  booted: Type.Integer({ description: 'seen running the release (a check-in on its version or a booted report)' }),
  failed: Type.Integer(),
  rolled_back: Type.Integer({ description: 'includes silent rollbacks' }),
  silent_rollbacks: Type.Integer({ description: 'back on the old version after taking the release, without saying so' }),
  running: Type.Integer({ description: 'devices whose last check-in names this version (verified devices only when device credentials are on)' }),
  delta: DeltaSavingsView,
  field_fleet: Type.Optional(
    Type.Object(
      {
        label: Type.Literal(FIELD_FLEET_LABEL),
        counted_by: Type.String(),
        downloaded_clients: Type.Integer({ description: 'field clients (address and user agent) that downloaded it whole from /firmware.app.bin' }),
        downloaded_addresses: Type.Integer(),
      },
      { description: 'for a release of the legacy board: the field fleet, counted by address, never in the device counts above' }
    )
  ),
})

export const LegacyQuery = Type.Object({
  stale_after: Type.Optional(Type.String({ description: 'a client not seen for this long is stale, e.g. 26h (default OTA_STALE_AFTER)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200, description: 'clients listed, most recently seen first' })),
})

const LegacyDownload = Type.Object({
  version: Type.String(),
  sequence: Type.Integer(),
  first_at: Time,
  last_at: Time,
  downloads: Type.Integer({ description: 'binaries sent to their last byte: whole, or a resumed range reaching the end (what the client did with them is not known)' }),
})

export const LegacyResponse = Type.Object({
  field_fleet: FieldFleetSummary,
  stale_after: Type.String(),
  releases: Type.Array(
    Type.Object({
      version: Type.String(),
      sequence: Type.Integer(),
      clients: Type.Integer({ description: 'clients that downloaded it whole' }),
      addresses: Type.Integer(),
    }),
    { description: 'per release of the legacy board, how many field clients downloaded it; newest first' }
  ),
  clients: Type.Array(
    Type.Object({
      address: Type.String({ description: 'the client address (behind a proxy listed in OTA_TRUST_PROXY, the address it forwarded)' }),
      user_agent: Type.String(),
      first_seen: Time,
      last_seen: Time,
      polls: Type.Integer(),
      stale: Type.Boolean(),
      downloads: Type.Array(LegacyDownload, { description: 'releases downloaded, newest first' }),
    }),
    { description: 'most recently seen first' }
  ),
  more: Type.Boolean({ description: 'more clients than limit' }),
})
