import { Type, type Static } from '@sinclair/typebox'
import type { DeltaPatchView, DeltaSavings } from '../repositories/delta-patches'
import { Sha256Hex } from './common'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

export const DeltaSavingsView = Type.Object({
  devices: Type.Integer({ description: 'devices now running the release that took it as a delta' }),
  bytes_saved: Type.Integer({ description: 'full image bytes not downloaded by those devices' }),
})

export const DeltaPatchSummary = Type.Object({
  base_sha256: Sha256Hex,
  base_version: Nullable(Type.String({ description: 'the release whose binary is the base, if it is still known' })),
  state: Type.Union([Type.Literal('building'), Type.Literal('ready'), Type.Literal('failed')]),
  size: Nullable(Type.Integer({ description: 'bytes of the patch file' })),
  fraction: Nullable(Type.Number({ description: 'patch size / full image size' })),
  offered: Type.Boolean({ description: 'whether devices running the base are offered it (ready, under half the image, not switched off)' }),
  failures: Type.Integer({ description: 'devices that reported a failed apply (status delta_failed)' }),
  disabled_at: Nullable(Type.String({ format: 'date-time', description: 'when failures switched it off for everyone' })),
  build_ms: Nullable(Type.Integer()),
  error: Nullable(Type.String({ description: 'why the build failed' })),
})

/** The delta side of a release: its board's switch, its patches, what they saved. */
export const ReleaseDeltaView = Type.Object({
  board_enabled: Type.Boolean({ description: 'deltas are on for the board (PUT /v1/boards/:board/delta)' }),
  ...DeltaSavingsView.properties,
  patches: Type.Array(DeltaPatchSummary),
})
export type ReleaseDeltaView = Static<typeof ReleaseDeltaView>

export function releaseDeltaView(
  target: { size: number },
  boardEnabled: boolean,
  patches: DeltaPatchView[],
  baseVersions: Map<string, string>,
  savings: DeltaSavings
): ReleaseDeltaView {
  return {
    board_enabled: boardEnabled,
    devices: savings.devices,
    bytes_saved: savings.bytes_saved,
    patches: patches.map((p) => ({
      base_sha256: p.base_sha256,
      base_version: baseVersions.get(p.base_sha256) ?? null,
      state: p.state,
      size: p.size,
      fraction: p.size === null ? null : Math.round((p.size / target.size) * 10_000) / 10_000,
      offered: boardEnabled && p.state === 'ready' && p.disabled_at === null && p.size !== null && p.size * 2 < target.size,
      failures: p.failures,
      disabled_at: p.disabled_at === null ? null : new Date(p.disabled_at).toISOString(),
      build_ms: p.build_ms,
      error: p.error,
    })),
  }
}
