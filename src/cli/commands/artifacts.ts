import { printJson } from '../flags'
import { durationFlag } from '../identifiers'
import { apiClient, serverOptions } from '../api-client'
import { print, table } from '../io'
import type { Command } from '../command'

interface PruneAnswer {
  dry_run: boolean
  older_than: string
  removed: Array<{ sha256: string; size: number; uploaded_at: string }>
  bytes: number
}

const prune: Command = {
  name: 'artifacts prune',
  usage: 'artifacts prune [--older-than 7d] [--dry-run] [--server URL --token TOKEN] [--json]',
  summary: 'delete uploaded binaries that no release names, uploaded longer ago than --older-than (default 7d)',
  options: { ...serverOptions, 'older-than': { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values }, io) {
    const olderThan = durationFlag(values, 'older-than')
    const answer = await apiClient(values, io).post<PruneAnswer>('/v1/artifacts/prune', {
      ...(olderThan === undefined ? {} : { older_than: olderThan }),
      ...(values['dry-run'] ? { dry_run: true } : {}),
    })
    if (values.json) return printJson(io, answer)
    if (answer.removed.length > 0) print(io, table(answer.removed, ['sha256', 'size', 'uploaded_at']))
    const verb = answer.dry_run ? 'would delete' : 'deleted'
    print(io, `${verb} ${answer.removed.length} unreleased upload(s) older than ${answer.older_than}, ${answer.bytes} bytes`)
  },
}

export const artifactsCommands: Command[] = [prune]
