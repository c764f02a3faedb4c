import { Refusal } from '../errors'
import type { Repositories } from '../repositories'
import type { Board } from '../repositories/boards'

/** The one refusal for a board this server does not know, naming those it knows and how to add one. */
export async function boardNotFound(repos: Pick<Repositories, 'boards'>, name: string): Promise<Refusal> {
  const known = (await repos.boards.list()).map((b) => b.name)
  return new Refusal(
    'board_not_found',
    `board ${name} is not known (known: ${known.join(', ') || 'none'}): add it with \`ota-gate board add ${name} --chip CHIP --slot-size BYTES\``
  )
}

/** The named board, or the board_not_found refusal. */
export async function requireBoard(repos: Pick<Repositories, 'boards'>, name: string): Promise<Board> {
  const board = await repos.boards.get(name)
  if (board) return board
  throw await boardNotFound(repos, name)
}
