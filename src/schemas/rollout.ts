import { Type, type Static } from '@sinclair/typebox'
import type { AuditRow } from '../repositories/audit'
import type { ChannelRollback, Pin, Policy, Rollout } from '../repositories/rollout-rows'
import { BoardName, ChannelName, Sequence, Version } from './common'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])
const iso = (ms: number) => new Date(ms).toISOString()
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms))

export const RolloutStateSchema = Type.Union([Type.Literal('active'), Type.Literal('paused'), Type.Literal('halted'), Type.Literal('rolled_back')])

/** How far a release reaches its channel (in /v1/releases and /v1/rollouts). */
export const RolloutSummary = Type.Object({
  percent: Type.Number(),
  state: RolloutStateSchema,
  started_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  halted_at: Nullable(Type.String({ format: 'date-time' })),
  halted_reason: Nullable(Type.String()),
  /** devices that failed or rolled back, and that tried, when it halted */
  halt_failed: Nullable(Type.Integer()),
  halt_tried: Nullable(Type.Integer()),
})
export type RolloutSummary = Static<typeof RolloutSummary>

export const RolloutView = Type.Object({
  board: BoardName,
  channel: ChannelName,
  version: Version,
  sequence: Sequence,
  ...RolloutSummary.properties,
})
export type RolloutView = Static<typeof RolloutView>

export function rolloutSummary(r: Rollout): RolloutSummary {
  return {
    percent: r.percent,
    state: r.state,
    started_at: iso(r.started_at),
    updated_at: iso(r.updated_at),
    halted_at: isoOrNull(r.halted_at),
    halted_reason: r.halted_reason,
    halt_failed: r.halt_failed,
    halt_tried: r.halt_tried,
  }
}

export function rolloutView(r: Rollout): RolloutView {
  return { board: r.board, channel: r.channel, version: r.version, sequence: r.sequence, ...rolloutSummary(r) }
}

export const PolicyView = Type.Object({
  default_percent: Type.Number(),
  halt_min_count: Type.Integer(),
  halt_min_ratio: Type.Number(),
})
export const policyView = (p: Policy) => ({ ...p })

export const RollbackView = Type.Object({ version: Version, sequence: Sequence, at: Type.String({ format: 'date-time' }) })
export const rollbackView = (r: ChannelRollback) => ({ version: r.version, sequence: r.sequence, at: iso(r.at) })

export const ChannelRolloutView = Type.Object({
  board: BoardName,
  channel: ChannelName,
  /** the rollout of the channel's newest release with a binary */
  current: Nullable(RolloutView),
  rollback: Nullable(RollbackView),
  policy: PolicyView,
})

export const PinView = Type.Object({
  device: Type.String(),
  board: BoardName,
  version: Version,
  sequence: Sequence,
  pinned_at: Type.String({ format: 'date-time' }),
  pinned_by: Type.String(),
  reason: Nullable(Type.String()),
})
export const pinView = (p: Pin) => ({
  device: p.device,
  board: p.board,
  version: p.version,
  sequence: p.sequence,
  pinned_at: iso(p.pinned_at),
  pinned_by: p.pinned_by,
  reason: p.reason,
})

/** Where one device stands with rollouts: its pin, what it is offered and why, and whether the current rollout includes it. */
export const DeviceRolloutView = Type.Object({
  pinned: Type.Union([PinView, Type.Null()]),
  target: Type.Union([
    Type.Object({
      version: Type.String(),
      sequence: Type.Integer(),
      allow_downgrade: Type.Boolean(),
      basis: Type.Union([Type.Literal('pinned'), Type.Literal('rollback'), Type.Literal('rollout')]),
    }),
    Type.Null(),
  ]),
  /** the device's bucket falls within the percentage of its channel's newest release */
  in_rollout: Type.Boolean(),
})

export const AuditView = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  actor: Type.String({ description: 'token name, or "system" for an automatic halt' }),
  action: Type.String(),
  board: Nullable(Type.String()),
  channel: Nullable(Type.String()),
  version: Nullable(Type.String()),
  device: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
})
export const auditView = (a: AuditRow) => ({ ...a, at: iso(a.at) })

/** `reason` in every operator call: why, in the operator's words, for the audit log. */
export const Reason = Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'why, recorded in the audit log' }))
