import type { Config } from '../config'
import type { Repositories } from '../repositories'
import { COUNTED_BY, FIELD_FLEET_LABEL, type AdoptionResponse, type FieldFleetSummary } from '../schemas/fleet'
import type { Static } from '@sinclair/typebox'

type Settings = Pick<Config, 'OTA_LEGACY_BOARD' | 'OTA_LEGACY_CHANNEL'>

/** Whether a fleet view filtered to this board and channel covers what /firmware.json serves. */
export function coversFieldFleet(settings: Settings, filter: { board?: string; channel?: string }): boolean {
  return (filter.board ?? settings.OTA_LEGACY_BOARD) === settings.OTA_LEGACY_BOARD && (filter.channel ?? settings.OTA_LEGACY_CHANNEL) === settings.OTA_LEGACY_CHANNEL
}

/** The field fleet's line: clients of /firmware.json by address and user agent, stale ones before `staleBefore`. */
export async function fieldFleetSummary(repos: Repositories, settings: Settings, staleBefore: number): Promise<Static<typeof FieldFleetSummary>> {
  const s = await repos.legacyClients.summary(staleBefore)
  return {
    label: FIELD_FLEET_LABEL,
    board: settings.OTA_LEGACY_BOARD,
    channel: settings.OTA_LEGACY_CHANNEL,
    counted_by: COUNTED_BY,
    ...s,
  }
}

/** For a release of the legacy board: how many field clients downloaded it whole (undefined for other boards). */
export async function fieldFleetAdoption(
  repos: Repositories,
  settings: Settings,
  release: { id: number; board: string }
): Promise<Static<typeof AdoptionResponse>['field_fleet']> {
  if (release.board !== settings.OTA_LEGACY_BOARD) return undefined
  const counted = (await repos.legacyClients.releaseCounts(release.board)).find((r) => r.release_id === release.id)
  return { label: FIELD_FLEET_LABEL, counted_by: COUNTED_BY, downloaded_clients: counted?.clients ?? 0, downloaded_addresses: counted?.addresses ?? 0 }
}
