// The rows of devices, their history, reports and update states, shared by the check-in writes and the operator queries.

/** One device poll, as the manifest and Arduino routes saw it. */
export interface CheckIn {
  /** 12 lowercase hex */
  device: string
  board: string
  channel: string
  version: string
  sequence: number
  address: string
  userAgent: string | null
  freeSpace?: number | null
  sketchMd5?: string | null
  /** the release this answer offers; null when it offers nothing */
  offeredReleaseId: number | null
  /** the binary itself was sent in this answer (Arduino 200) */
  delivered?: boolean
  note?: string | null
  /** the SHA-256 of the image the device runs, when it says (delta-capable clients) */
  runningSha256?: string | null
  /** the delta patch this answer offers with the release: its base and size */
  delta?: { base: string; size: number } | null
  /**
   * The poll came with the device's token (true) or without (false); undefined leaves the device's
   * standing as it is (device credentials off). A device's first verified check-in drops what
   * unproven requests recorded about its updates: they named it, but may not have been it.
   */
  verified?: boolean
  at?: number
}

/** What a check-in writes to its device's row, named as the columns are: both backends bind these. */
export interface CheckInRow extends Pick<CheckIn, 'device' | 'board' | 'channel' | 'version' | 'sequence' | 'address'> {
  user_agent: string | null
  free_space: number | null
  sketch_md5: string | null
  last_offered: number | null
  note: string | null
  running_sha256: string | null
  /** 1 when the check-in came with the device's token */
  verified: 0 | 1
  at: number
}

export function checkInRow(c: CheckIn, at: number): CheckInRow {
  return {
    device: c.device,
    board: c.board,
    channel: c.channel,
    version: c.version,
    sequence: c.sequence,
    address: c.address,
    user_agent: c.userAgent,
    free_space: c.freeSpace ?? null,
    sketch_md5: c.sketchMd5 ?? null,
    last_offered: c.offeredReleaseId,
    note: c.note ?? null,
    running_sha256: c.runningSha256 ?? null,
    verified: c.verified ? 1 : 0,
    at,
  }
}

export const REPORT_STATUSES = ['downloading', 'downloaded', 'installed', 'booted', 'failed', 'rolled_back'] as const
export type ReportStatus = (typeof REPORT_STATUSES)[number]

/** What a device says about an update. */
export interface Report {
  device: string
  status: ReportStatus
  version: string
  sequence: number
  detail: string | null
  /** as for a check-in */
  verified?: boolean
  at?: number
}

export interface DeviceRow {
  device: string
  board: string
  channel: string
  version: string
  sequence: number
  address: string | null
  user_agent: string | null
  free_space: number | null
  sketch_md5: string | null
  first_seen: number
  last_seen: number
  polls: number
  /** the version of the release the last poll was offered */
  offered_version: string | null
  note: string | null
  running_sha256: string | null
  /** 1 when the device's check-ins come with its device token */
  verified: number
}

export interface HistoryRow {
  board: string
  channel: string
  version: string
  sequence: number
  at: number
}

export interface ReportRow {
  status: ReportStatus
  version: string
  sequence: number
  detail: string | null
  verified: number
  at: number
}

export interface DeviceReleaseRow {
  release_id: number
  board: string
  channel: string
  version: string
  sequence: number
  from_version: string
  offered_at: number | null
  downloading_at: number | null
  downloaded_at: number | null
  installed_at: number | null
  booted_at: number | null
  failed_at: number | null
  rolled_back_at: number | null
  rollback_silent: number
}

export interface DeviceDetail extends DeviceRow {
  history: HistoryRow[]
  reports: ReportRow[]
  releases: DeviceReleaseRow[]
}

export interface VersionCount {
  board: string
  channel: string
  version: string
  sequence: number
  devices: number
  /** of `devices`, those whose check-ins come with their device token */
  verified: number
}

export interface DeviceFilter {
  /** 1 to 12 lowercase hex: devices whose id starts with it */
  prefix?: string
  board?: string
  channel?: string
  version?: string
  /** last_seen at or after this time */
  seenSince?: number
  /** last_seen before this time */
  notSeenSince?: number
}

export interface Adoption {
  offered: number
  downloading: number
  downloaded: number
  installed: number
  booted: number
  failed: number
  rolled_back: number
  silent_rollbacks: number
  running: number
}

/** Told which releases a check-in or report just recorded a failure or rollback for, and whether the device proved who it is. */
export type SetbackListener = (releaseIds: number[], verified: boolean) => Promise<void>

/** The listeners a check-in writer tells of setbacks, after the commit and before the answer. */
export class SetbackListeners {
  private readonly listeners: SetbackListener[] = []

  add(listener: SetbackListener): void {
    this.listeners.push(listener)
  }

  async tell(releaseIds: number[], verified: boolean): Promise<void> {
    if (releaseIds.length === 0) return
    for (const listener of this.listeners) await listener(releaseIds, verified)
  }
}

/** How many of a device's latest reports, history rows and release states the device view shows. */
export const DEVICE_VIEW_LIMIT = 100
/** Reports kept per device: a device stuck in a loop cannot fill the disk. */
export const REPORTS_KEPT = 500

export const DEVICE_COLUMNS = `d.device, d.board, d.channel, d.version, d.sequence, d.address, d.user_agent, d.free_space, d.sketch_md5,
  d.first_seen, d.last_seen, d.polls, r.version AS offered_version, d.note, d.running_sha256, d.verified`

// One statement per status: the column a report fills is part of the SQL, never a parameter.
export const REPORT_COLUMN: Record<ReportStatus, string> = {
  downloading: 'downloading_at',
  downloaded: 'downloaded_at',
  installed: 'installed_at',
  booted: 'booted_at',
  failed: 'failed_at',
  rolled_back: 'rolled_back_at',
}

/** Counting only devices that proved who they are (dr: device_releases, d: devices), or every device. */
export const counted = (onlyVerified: boolean) => (onlyVerified ? 'AND d.verified = 1' : '')
