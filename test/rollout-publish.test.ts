import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { eachBackend } from './support/backends'
import type { ReleaseView } from '../src/schemas/release'
import { buildEspImage } from './support/esp-image-builder'
import { makeFirmwareRepo } from './support/git-repo'
import { call, operatorToken } from './support/rollouts'
import { cli, createToken, startServer, tempDir, dataFolderEnv } from './support/server'

eachBackend(t, 'release publish --rollout N starts the release at N%, recorded as the publisher’s change', async (t, backend) => {
  const repo = makeFirmwareRepo(t)
  repo.releaseCommit('mason', 1)
  repo.promote()
  repo.tag('prod-mason')
  const server = await startServer(t, await backend.serverEnv(t))
  const work = tempDir(t, 'ota-gate-rollout-publish-')
  const keyFile = path.join(work, 'release.pem')
  t.equal((await cli(['keys', 'generate', '--out', keyFile], {})).code, 0)
  t.equal((await cli(['keys', 'trust', `${keyFile}.pub`, '--name', 'release manager'], dataFolderEnv(server.dataDir))).code, 0)
  const releaser = await createToken(server.dataDir, 'releaser', 'rel-frank')
  const image = path.join(work, 'mason.bin')
  fs.writeFileSync(image, buildEspImage({ version: 'mason', seed: 1, size: 100_000 }))

  const published = await cli(
    ['release', 'publish', '--board', 'esp32cam', '--key', keyFile, '--file', image, '--rollout', '10', '--server', server.url, '--token', releaser, '--json'],
    {},
    repo.dir
  )
  t.equal(published.code, 0, published.stderr)
  const { body } = await call<{ releases: ReleaseView[] }>(server, 'GET', '/v1/releases?board=esp32cam', releaser)
  t.match(body.releases, [{ version: 'mason', rollout: { percent: 10, state: 'active' } }])
  const ops = await operatorToken(server)
  const { body: audit } = await call<{ entries: Array<Record<string, unknown>> }>(server, 'GET', '/v1/audit', ops)
  t.match(audit.entries, [{ action: 'start', actor: 'rel-frank', version: 'mason', details: { percent: 10, source: 'publish' } }])
})
