import type { AuditEntry } from './audit'
import type { Release } from './releases'

// The rows of staged rollouts, shared by the cached read model, the operator queries and the writes.

export type RolloutState = 'active' | 'paused' | 'halted' | 'rolled_back'

/** How far one release reaches its channel. */
export interface Rollout {
  release_id: number
  board: string
  channel: string
  version: string
  sequence: number
  percent: number
  state: RolloutState
  started_at: number
  updated_at: number
  halted_at: number | null
  halted_reason: string | null
  halt_failed: number | null
  halt_tried: number | null
}

export interface Policy {
  default_percent: number
  halt_min_count: number
  halt_min_ratio: number
}

/**
 * What a missing rollout_policies row or column means (migration 003): hawkBit-like, a release
 * reaches everyone unless told otherwise; 5 devices and 20% halt it.
 */
export const DEFAULT_POLICY: Policy = { default_percent: 100, halt_min_count: 5, halt_min_ratio: 0.2 }

/** A release of a channel with a binary, and how far it reaches. */
export interface StagedRelease {
  release: Release
  percent: number
  state: RolloutState
}

/** What the device endpoints need to choose a target on one board and channel. */
export interface ChannelPlan {
  /** releases with a binary, newest first */
  releases: StagedRelease[]
  /** the release every unpinned device is sent back to, while an operator's rollback lasts */
  rollback: Release | null
  /** the newest release with a binary, whatever its rollout */
  newest: Release | null
}

export interface Pin {
  device: string
  board: string
  release_id: number
  version: string
  sequence: number
  pinned_at: number
  pinned_by: string
  reason: string | null
}

export interface ChannelRollback {
  version: string
  sequence: number
  at: number
}

/** Devices of a release that tried it (downloading or further) and those that failed or rolled back. */
export interface SetbackCounts {
  failed: number
  tried: number
}

/** Who asks for a change, and why. */
export interface Actor {
  actor: string
  reason: string | null
}

/** The rollout a release starts with when published: `percent`, else its channel's default. */
export interface RolloutStart {
  percent: number | undefined
  who: Actor
}

/**
 * The checks a rollout change must pass, run inside its transaction on what the database holds
 * then; each throws to refuse. The rules are the fleet's (src/fleet/rollout-rules.ts): the
 * repository only gives them the rows.
 */
export interface RolloutChecks {
  /** the channel's current rollout, which the change needs */
  current(board: string, channel: string, current: Rollout | undefined): Rollout
  /** a new percent for `current` */
  percent(current: Rollout): void
  /** pause or resume: the state `current` goes to */
  state(current: Rollout, action: 'pause' | 'resume'): RolloutState
  /** the release a rollback of the channel goes back to */
  rollbackTarget(current: Rollout, version: string, target: Release | undefined): Release
  /** the release devices are pinned to */
  pinTarget(board: string, version: string, release: Release | undefined): Release
  /** the pin an unpin removes */
  unpin(device: string, pin: Pin | undefined): Pin
}

/** A rollout row with its release's version and sequence. */
export const ROLLOUT_SELECT = 'SELECT ro.*, r.version, r.sequence FROM rollouts ro JOIN releases r ON r.id = ro.release_id'

/** A pin with its release's version and sequence. */
export const PIN_SELECT = `SELECT p.device, p.board, p.release_id, r.version, r.sequence, p.pinned_at, p.pinned_by, p.reason
  FROM device_pins p JOIN releases r ON r.id = p.release_id`

/** A policy row: absent columns mean the defaults. */
export function policyOf(row: { [K in keyof Policy]: number | null } | undefined): Policy {
  return {
    default_percent: row?.default_percent ?? DEFAULT_POLICY.default_percent,
    halt_min_count: row?.halt_min_count ?? DEFAULT_POLICY.halt_min_count,
    halt_min_ratio: row?.halt_min_ratio ?? DEFAULT_POLICY.halt_min_ratio,
  }
}

/** The audit entry of a rollout change by `who` about `subject`. */
export function rolloutAudit(
  who: Actor,
  action: AuditEntry['action'],
  subject: { board: string; channel: string; version?: string; device?: string | null },
  details: Record<string, unknown>
): AuditEntry {
  return {
    actor: who.actor,
    action,
    board: subject.board,
    channel: subject.channel,
    version: subject.version ?? null,
    device: subject.device ?? null,
    reason: who.reason,
    details,
  }
}
