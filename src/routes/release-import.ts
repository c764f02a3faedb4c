import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { badRequest, Refusal } from '../errors'
import { importCurrentRelease } from '../release/current-import'
import { importLedger } from '../release/ledger-import'
import { checkProvenance } from '../release/provenance'
import { BoardName, CommitHex, Sequence, Sha256Hex, Version, errors } from '../schemas/common'
import { routePlugin } from './route-plugin'

const HistoricalRelease = Type.Object(
  {
    tag: Type.String({ minLength: 1, maxLength: 200 }),
    commit: CommitHex,
    version: Version,
    sequence: Sequence,
  },
  { additionalProperties: false }
)

const ImportBody = Type.Object(
  {
    board: BoardName,
    releases: Type.Array(HistoricalRelease, {
      minItems: 0,
      maxItems: 5000,
      description: 'the release history, oldest first along the release branch (as `ota-gate ledger import` computes it)',
    }),
    dry_run: Type.Optional(Type.Boolean({ default: false })),
    current: Type.Optional(
      Type.Object(
        {
          version: Version,
          sequence: Sequence,
          sha256: Sha256Hex,
          app_md5: Type.String({ pattern: '^[0-9a-f]{32}$' }),
          app_size: Type.Integer({ minimum: 1 }),
          tag: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          commit: Type.Optional(CommitHex),
        },
        {
          additionalProperties: false,
          description:
            'the release served today as static files: firmware.json\'s version, sequence, app_md5 and app_size, the binary (uploaded first with PUT /v1/artifacts), and its prod-* tag when one was found',
        }
      )
    ),
  },
  { additionalProperties: false }
)

const ImportResult = Type.Object({
  board: BoardName,
  dry_run: Type.Boolean(),
  releases: Type.Array(
    Type.Object({
      tag: Type.String(),
      commit: CommitHex,
      version: Version,
      sequence: Sequence,
      status: Type.Union(['imported', 'would_import', 'already_imported', 'already_published'].map((s) => Type.Literal(s))),
    })
  ),
  imported: Type.Integer(),
  skipped: Type.Integer(),
  current: Type.Optional(
    Type.Object({
      status: Type.Union(['imported', 'would_import', 'already_imported'].map((st) => Type.Literal(st))),
      version: Version,
      sequence: Sequence,
      tag: Type.String(),
      commit: CommitHex,
      provenance: Type.String(),
      sha256: Sha256Hex,
    })
  ),
})

/**
 * POST /v1/releases/import: records releases published before ota-gate as historical releases.
 * The server never reads a repository path from a request: the client sends the history it read
 * from its clone; with OTA_GIT_DIR each tag is checked there (exists, names that commit, lies on
 * the release branch), without it only the forms and the tag pattern are checked. The order of the
 * list (the branch's history) is taken as given.
 */
const releaseImport: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/releases/import',
    {
      onRequest: app.requireRole('admin'),
      // A long history is larger than the default body limit.
      bodyLimit: 1024 * 1024,
      schema: {
        summary: 'Import the releases published before ota-gate (historical, without binaries) and the one served today with its binary',
        tags: ['releases'],
        body: ImportBody,
        response: { 200: ImportResult, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request) => {
      const { board, releases, dry_run: dryRun = false, current } = request.body
      if (releases.length === 0 && current === undefined) {
        throw badRequest('body releases is empty and there is no current release: nothing to import')
      }
      const settings = {
        tagPattern: app.config.OTA_TAG_PATTERN,
        releaseBranch: app.config.OTA_RELEASE_BRANCH,
        gitDir: app.config.OTA_GIT_DIR,
      }
      const problems: string[] = []
      for (const release of releases) {
        const result = await checkProvenance(release, settings)
        if (!result.ok) problems.push(`${release.tag}: ${result.message}`)
      }
      if (problems.length > 0) {
        throw new Refusal('provenance_failed', `nothing was imported:${problems.map((p) => `\n  - ${p}`).join('')}`)
      }
      const importedBy = request.identity?.name ?? 'admin'
      const history = await importLedger(app.repos, { board, releases, dryRun, importedBy })
      if (current === undefined) return history
      const deps = { repos: app.repos, artifacts: app.artifacts, config: app.config }
      return { ...history, current: await importCurrentRelease(deps, { ...current, board }, { importedBy, dryRun }) }
    }
  )
}

export default routePlugin('release-import', releaseImport)
