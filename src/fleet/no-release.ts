import { Refusal } from '../errors'
import type { Repositories } from '../repositories'

/**
 * The 404 `no_release` answer, saying whether the board is unknown (a wrong URL or setting) or
 * simply has nothing published on the channel yet.
 */
export async function noRelease(
  repos: Repositories,
  board: string,
  channel: string
): Promise<{ error: Refusal; knownBoard: boolean }> {
  if (!(await repos.boards.get(board))) {
    return { error: new Refusal('no_release', `board ${board} is not known to this server (see \`ota-gate board list\`)`), knownBoard: false }
  }
  return { error: new Refusal('no_release', `board ${board} has no release on channel ${channel} yet`), knownBoard: true }
}
