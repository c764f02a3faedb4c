import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Refusal } from '../errors'
import { firstFlashOf, type FirstFlash } from '../fleet/first-flash'
import { publishRelease } from '../release/publish'
import { BoardName, ChannelName, errors, Sequence, Sha256Hex, Version } from '../schemas/common'
import { releaseView, ReleaseView } from '../schemas/release'
import type { FactoryImage } from '../repositories/factory-images'
import type { Release } from '../repositories/release-rows'
import type { Rollout } from '../repositories/rollout-rows'
import { rolloutSummary } from '../schemas/rollout'
import { ReleaseDeltaView, releaseDeltaView } from '../schemas/delta'
import { routePlugin } from './route-plugin'

/** A release with its rollout (a historical release without binary has none) and its factory image. */
const withRollout = (r: Release, rollout: Rollout | undefined, factory: FactoryImage | undefined) =>
  releaseView(r, rollout ? rolloutSummary(rollout) : null, factory ?? null)

const FirstFlashView = Type.Object({
  /** the release whose factory image a first flash installs now, null when none of the channel has one */
  release: Type.Union([
    Type.Object({ version: Version, sequence: Sequence, sha256: Sha256Hex, md5: Type.String(), built_at: Type.String() }),
    Type.Null(),
  ]),
  this_release: Type.Boolean(),
  note: Type.String(),
})

const PublishAnswer = Type.Composite([ReleaseView, Type.Object({ first_flash: FirstFlashView })])

/**
 * The publish answer's account of first flash (web installer, /firmware.bin): which release's
 * factory image a new module gets now, and why it is not this release when it is not.
 */
function firstFlashView(release: Release, hasFactory: boolean, ff: FirstFlash | undefined) {
  const where = `first flash of ${release.board}/${release.channel} (web installer, /firmware.bin)`
  const own = ff !== undefined && ff.release.id === release.id
  const other = ff ? `${ff.release.version} (sequence ${ff.release.sequence})` : undefined
  const note = own
    ? `${where} installs this release's factory image`
    : !hasFactory
      ? `this release has no factory image: ${where} ${other ? `stays on ${other}` : 'has nothing to install (404) until a release carries one (publish with --factory)'}`
      : `this release's factory image is installed once its rollout reaches everyone; until then ${where} ${other ? `installs ${other}` : 'has nothing to install'}`
  return {
    release: ff
      ? { version: ff.release.version, sequence: ff.release.sequence, sha256: ff.factory.sha256, md5: ff.factory.md5, built_at: ff.factory.built_at }
      : null,
    this_release: own,
    note,
  }
}

const PublishBody = Type.Object({
  board: BoardName,
  version: Version,
  sequence: Sequence,
  sha256: Sha256Hex,
  // Beyond "one line, no spaces" (they are lines of the signed statement), the form of tag and
  // commit is left to the provenance check, whose refusal says what to fix.
  tag: Type.String({ pattern: '^\\S{1,200}$' }),
  commit: Type.String({ pattern: '^\\S{1,100}$' }),
  signature: Type.String({ minLength: 1, maxLength: 512, description: 'base64 DER ECDSA P-256/SHA-256 over the release statement' }),
  key_id: Type.String({ pattern: '^[0-9a-f]{16}$', description: 'first 16 hex of SHA-256 of the key’s DER SPKI' }),
  channel: Type.Optional(ChannelName),
  notes: Type.Optional(Type.String({ maxLength: 2000 })),
  factory: Type.Optional(
    Type.Object(
      {
        sha256: Sha256Hex,
        built_at: Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$', description: 'build time, ISO 8601 UTC to the second' }),
        signature: Type.String({ minLength: 1, maxLength: 512, description: 'base64 DER ECDSA P-256/SHA-256 over the factory statement, by the same key' }),
      },
      { description: 'the factory image (esptool merge_bin output, uploaded with PUT /v1/artifacts) that first flash installs' }
    )
  ),
  rollout_percent: Type.Optional(
    Type.Number({ minimum: 0, maximum: 100, description: 'share of the channel’s devices offered it at first (default: the channel’s rollout policy, 100 unless set)' })
  ),
})

const releases: FastifyPluginAsyncTypebox = async (app) => {
  const deltaOf = async (release: Release): Promise<ReleaseDeltaView | null> => {
    if (release.sha256 === null || release.size === null) return null
    const boardReleases = await app.repos.releases.list({ board: release.board })
    const baseVersions = new Map(boardReleases.flatMap((r) => (r.sha256 === null ? [] : [[r.sha256, r.version] as const])))
    return releaseDeltaView(
      { size: release.size },
      await app.repos.deltaPatches.boardDeltaEnabled(release.board),
      await app.repos.deltaPatches.toTarget(release.sha256),
      baseVersions,
      await app.repos.deltaPatches.savings(release.id)
    )
  }

  app.post(
    '/v1/releases',
    {
      schema: {
        summary: 'Publish a signed release of an uploaded binary',
        tags: ['releases'],
        body: PublishBody,
        response: { 201: PublishAnswer, ...errors(400, 401, 403, 404, 409, 422) },
      },
      onRequest: app.requireRole('releaser'),
    },
    async (request, reply) => {
      const release = await publishRelease(
        { repos: app.repos, artifacts: app.artifacts, config: app.config, clock: app.clock },
        request.body,
        request.identity?.name ?? 'unknown'
      )
      request.log.info({ board: release.board, version: release.version, sequence: release.sequence }, 'release published')
      // Patches from earlier releases are built in the background; a failure to queue them never fails the publish.
      try {
        await app.deltaBuilds.releasePublished(release)
      } catch (err) {
        request.log.error({ err, board: release.board, version: release.version }, 'delta patches not queued')
      }
      const factory = await app.repos.factoryImages.ofRelease(release.id)
      const firstFlash = firstFlashView(release, factory !== undefined, await firstFlashOf(app.repos, release.board, release.channel))
      return reply.code(201).send({ ...withRollout(release, await app.repos.rolloutQueries.get(release.id), factory), first_flash: firstFlash })
    }
  )

  app.get(
    '/v1/releases',
    {
      schema: {
        summary: 'Releases, newest (highest sequence) first',
        tags: ['releases'],
        querystring: Type.Object({ board: Type.Optional(BoardName), channel: Type.Optional(ChannelName) }),
        response: { 200: Type.Object({ releases: Type.Array(ReleaseView) }), ...errors(400, 401, 403) },
      },
      onRequest: app.requireRole('releaser', 'operator'),
    },
    async (request) => {
      const list = await app.repos.releases.list({ board: request.query.board, channel: request.query.channel })
      const rollouts = await app.repos.rolloutQueries.byRelease({ board: request.query.board, channel: request.query.channel })
      const factories = await app.repos.factoryImages.byReleaseId(request.query.board)
      return { releases: list.map((r) => withRollout(r, rollouts.get(r.id), factories.get(r.id))) }
    }
  )

  app.get(
    '/v1/releases/:board/:version',
    {
      schema: {
        summary: 'One release, with its delta patches and what they saved',
        tags: ['releases'],
        params: Type.Object({ board: BoardName, version: Version }),
        response: {
          200: Type.Composite([ReleaseView, Type.Object({ delta: Type.Union([ReleaseDeltaView, Type.Null()], { description: 'null for a release without binary' }) })]),
          ...errors(400, 401, 403, 404),
        },
      },
      onRequest: app.requireRole('releaser', 'operator'),
    },
    async (request) => {
      const { board, version } = request.params
      const release = await app.repos.releases.get(board, version)
      if (!release) throw new Refusal('release_not_found', `board ${board} has no release named ${version}: list them with GET /v1/releases?board=${board}`)
      return {
        ...withRollout(release, await app.repos.rolloutQueries.get(release.id), await app.repos.factoryImages.ofRelease(release.id)),
        delta: await deltaOf(release),
      }
    }
  )
}

export default routePlugin('releases', releases)
