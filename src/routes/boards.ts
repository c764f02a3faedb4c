import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Board } from '../repositories/boards'
import { BoardName, errors } from '../schemas/common'
import { requireBoard } from '../fleet/known-board'
import { routePlugin } from './route-plugin'

const BoardView = Type.Object(
  {
    name: BoardName,
    chip: Type.String({ description: 'ESP-IDF target name, e.g. esp32' }),
    chip_id: Type.Integer({ description: 'the image header chip_id this board runs' }),
    slot_size: Type.Integer({ description: 'bytes of one OTA app slot: the largest image the board can take' }),
    delta_enabled: Type.Boolean({ description: 'whether manifests offer delta patches (PUT /v1/boards/:board/delta)' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Board' }
)

const boardView = (b: Board) => ({ ...b, delta_enabled: b.delta_enabled === 1, created_at: new Date(b.created_at).toISOString() })

/** The boards the server knows: what the release tool checks an image against before uploading it. */
const boards: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/boards',
    {
      schema: {
        summary: 'Boards, with their chip and OTA slot size',
        tags: ['boards'],
        response: { 200: Type.Object({ boards: Type.Array(BoardView) }), ...errors(401, 403) },
      },
      onRequest: app.requireRole('releaser', 'operator'),
    },
    async () => ({ boards: (await app.repos.boards.list()).map(boardView) })
  )

  app.get(
    '/v1/boards/:board',
    {
      schema: {
        summary: 'One board',
        tags: ['boards'],
        params: Type.Object({ board: BoardName }),
        response: { 200: BoardView, ...errors(400, 401, 403, 404) },
      },
      onRequest: app.requireRole('releaser', 'operator'),
    },
    async (request) => {
      return boardView(await requireBoard(app.repos, request.params.board))
    }
  )
}

export default routePlugin('boards', boards)
