import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { eachBackend, type BackendCase } from './support/backends'
import { generateKeyPair } from '../src/release/keys'
import type { ReleaseView } from '../src/schemas/release'
import { buildEspImage } from './support/esp-image-builder'
import { releaseRequest, sha256Of, trustedKey, uploadAndPost, uploadArtifact } from './support/publish'
import { call, getJson, type JsonAnswer, type Target } from './support/http'
import { buildApp, cli, createToken, startServer, tempDir, dataFolderEnv } from './support/server'

const run = promisify(execFile)

eachBackend(t, 'published as a new user would, with openssl and curl only', async (t, backend) => {
  const server = await startServer(t, await backend.serverEnv(t))
  const work = tempDir(t)
  const file = (name: string) => path.join(work, name)
  const token = await createToken(server.dataDir, 'releaser', 'alice')

  // A release key, made with openssl and trusted by the admin with the CLI.
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('release.pem')])
  await run('openssl', ['ec', '-in', file('release.pem'), '-pubout', '-out', file('release.pub')])
  const trusted = await cli(['keys', 'trust', file('release.pub'), '--name', 'alice laptop'], dataFolderEnv(server.dataDir))
  t.equal(trusted.code, 0, trusted.stderr)
  await run('openssl', ['pkey', '-pubin', '-in', file('release.pub'), '-outform', 'DER', '-out', file('release.der')])
  const keyId = (await run('openssl', ['dgst', '-sha256', '-r', file('release.der')])).stdout.slice(0, 16)
  t.equal(trusted.lastLine, keyId, 'the CLI prints the key id the contract defines')

  // The build, uploaded with curl.
  fs.writeFileSync(file('firmware.bin'), buildEspImage({ version: 'mason', projectName: 'hivehive-cam' }))
  const sha256 = (await run('openssl', ['dgst', '-sha256', '-r', file('firmware.bin')])).stdout.slice(0, 64)
  const size = fs.statSync(file('firmware.bin')).size
  const auth = `Authorization: Bearer ${token}`
  const put = await run('curl', ['-sS', '-o', file('put.json'), '-w', '%{http_code}', '-X', 'PUT', '-H', auth, '--data-binary', `@${file('firmware.bin')}`, `${server.url}/v1/artifacts/${sha256}`])
  t.equal(put.stdout, '201', fs.readFileSync(file('put.json'), 'utf8'))

  // The statement typed from the contract, signed with openssl dgst, sent with curl.
  const commit = '3b18e512dba79e4c8300dd08aeb37f8e728b8dad'
  fs.writeFileSync(
    file('statement.txt'),
    `ota-gate release v1\nboard: esp32cam\nversion: mason\nsequence: 12\nsize: ${size}\nsha256: ${sha256}\ntag: prod-mason\ncommit: ${commit}\n`
  )
  await run('openssl', ['dgst', '-sha256', '-sign', file('release.pem'), '-out', file('statement.sig'), file('statement.txt')])
  const signature = (await run('openssl', ['base64', '-A', '-in', file('statement.sig')])).stdout.trim()
  fs.writeFileSync(
    file('release.json'),
    JSON.stringify({ board: 'esp32cam', version: 'mason', sequence: 12, sha256, tag: 'prod-mason', commit, signature, key_id: keyId, notes: 'first release through ota-gate' })
  )
  const post = await run('curl', ['-sS', '-o', file('post.json'), '-w', '%{http_code}', '-H', auth, '-H', 'Content-Type: application/json', '--data-binary', `@${file('release.json')}`, `${server.url}/v1/releases`])
  const release = JSON.parse(fs.readFileSync(file('post.json'), 'utf8')) as ReleaseView
  t.equal(post.stdout, '201', JSON.stringify(release))
  t.match(release, {
    board: 'esp32cam',
    channel: 'stable',
    version: 'mason',
    sequence: 12,
    sha256,
    size,
    has_binary: true,
    tag: 'prod-mason',
    commit,
    signature,
    key_id: keyId,
    provenance: 'attested',
    image: { chip: 'esp32', project_name: 'hivehive-cam', app_version: 'mason', idf_version: 'v5.2.1', secure_version: 0 },
    notes: 'first release through ota-gate',
    published_by: 'alice',
  })
  t.match(release.md5, /^[0-9a-f]{32}$/)
  t.ok(Math.abs(Date.parse(release.created_at) - Date.now()) < 60_000, 'created_at is an ISO time of now')

  const get = await run('curl', ['-sS', '-H', auth, `${server.url}/v1/releases/esp32cam/mason`])
  // The publish answer adds where first flash stands (test/first-flash.test.ts); the one-release view adds
  // what delta updates do for it (docs/delta.md; the first release has no base); the rest is the release.
  const { first_flash: _firstFlash, ...published } = release as typeof release & { first_flash: unknown }
  const { delta, ...same } = JSON.parse(get.stdout)
  t.same(same, published)
  t.same(delta, { board_enabled: true, devices: 0, bytes_saved: 0, patches: [] })
})

/** An app (answering through inject) with a releaser token and a trusted key, and a way to publish fresh images on it. */
async function releaseServer(t: Test, backend: BackendCase) {
  const server = await buildApp(t, await backend.serverEnv(t))
  const token = await createToken(server.dataDir, 'releaser', 'ci')
  const key = await trustedKey(server)
  let seed = 0
  const image = (opts: Parameters<typeof buildEspImage>[0] = {}) => buildEspImage({ seed: ++seed, ...opts })
  return { server, token, key, image }
}

function refused(t: Test, answer: JsonAnswer, status: number, code: string, message: RegExp | string) {
  t.equal(answer.status, status, `answered ${status} ${code}`)
  t.equal(answer.body.error, code)
  t.match(answer.body.message, message)
}

async function list(server: Target, token: string, query = ''): Promise<ReleaseView[]> {
  return (await getJson<{ releases: ReleaseView[] }>(server, `/v1/releases${query}`, token)).body.releases
}

eachBackend(t, 'refusals about the binary: unknown board, not uploaded, not an application, wrong chip, too large', async (t, backend) => {
  const { server, token, key, image } = await releaseServer(t, backend)
  const img = image({ version: 'mason' })
  refused(t, await uploadAndPost(server, token, key, { board: 'nosuch', version: 'mason', sequence: 1, image: img }), 404, 'board_not_found', /board nosuch is not known .*ota-gate board add nosuch/)

  const notUploaded = image({ version: 'mason' })
  refused(t, await call(server, 'POST', '/v1/releases', token, releaseRequest(key, { version: 'mason', sequence: 1, image: notUploaded })), 404, 'artifact_not_found', `PUT /v1/artifacts/${sha256Of(notUploaded)}`)

  const damaged = Buffer.from(image({ version: 'mason' }))
  damaged[0x400] ^= 0x01
  refused(t, await uploadAndPost(server, token, key, { version: 'mason', sequence: 1, image: damaged }), 422, 'image_invalid', /not a valid ESP application image \((checksum|hash)_mismatch\)/)

  const noDescriptor = image({ appDescriptor: false })
  refused(t, await uploadAndPost(server, token, key, { version: 'mason', sequence: 1, image: noDescriptor }), 422, 'image_invalid', /\(no_app_descriptor\).*not an application/)

  refused(t, await uploadAndPost(server, token, key, { version: 'mason', sequence: 1, image: Buffer.from('#!/bin/sh\necho not firmware\n') }), 422, 'image_invalid', /\(bad_magic\)/)

  refused(
    t,
    await uploadAndPost(server, token, key, { version: 'mason', sequence: 1, image: image({ chipId: 2, version: 'mason' }) }),
    422,
    'chip_mismatch',
    'the image is built for esp32s2 (chip id 2), but board esp32cam is esp32 (chip id 0)'
  )

  t.equal((await cli(['board', 'add', 'tiny', '--chip', 'esp32', '--slot-size', '32768'], dataFolderEnv(server.dataDir))).code, 0)
  const big = image({ version: 'mason', size: 64 * 1024 })
  refused(t, await uploadAndPost(server, token, key, { board: 'tiny', version: 'mason', sequence: 1, image: big }), 422, 'too_large_for_slot', `the image is ${big.length} bytes, ${big.length - 32768} more than the 32768-byte OTA slot of board tiny`)
  t.equal((await uploadAndPost(server, token, key, { board: 'tiny', version: 'mason', sequence: 1, image: image({ version: 'mason', size: 16 * 1024 }) })).status, 201, 'a build that fits is published')
  t.same((await list(server, token)).map((r) => r.board), ['tiny'], 'nothing refused was recorded')
})

eachBackend(t, 'refusals about the authorisation: unknown key, retired key, signature over other facts, provenance', async (t, backend) => {
  const { server, token, key, image } = await releaseServer(t, backend)
  refused(t, await uploadAndPost(server, token, generateKeyPair(), { version: 'mason', sequence: 1, image: image() }), 422, 'unknown_key', /is not trusted by this server: .*ota-gate keys trust/)

  const img = image({ version: 'mason' })
  await uploadArtifact(server, token, img)
  const otherSequence = releaseRequest(key, { version: 'mason', sequence: 1, image: img }, { sequence: 2 })
  refused(t, await call(server, 'POST', '/v1/releases', token, otherSequence), 422, 'signature_invalid', /does not verify with key .* sign exactly this text.*\nota-gate release v1\nboard: esp32cam\nversion: mason\nsequence: 1\n/s)
  const garbage = { ...releaseRequest(key, { version: 'mason', sequence: 1, image: img }), signature: 'AAAA' }
  refused(t, await call(server, 'POST', '/v1/releases', token, garbage), 422, 'signature_invalid', /does not verify/)

  refused(t, await call(server, 'POST', '/v1/releases', token, releaseRequest(key, { version: 'mason', sequence: 1, image: img, tag: 'v1.0' })), 422, 'provenance_failed', /tag "v1.0" does not match the release tag pattern "prod-\*"/)
  refused(t, await call(server, 'POST', '/v1/releases', token, releaseRequest(key, { version: 'mason', sequence: 1, image: img, commit: 'abc123' })), 422, 'provenance_failed', /commit "abc123" is not 40 lowercase hex/)

  // Key rotation: a release signed before the key was retired stays; the key signs nothing new.
  const first = await call(server, 'POST', '/v1/releases', token, releaseRequest(key, { version: 'mason', sequence: 1, image: img }))
  t.equal(first.status, 201, JSON.stringify(first.body))
  const retired = await cli(['keys', 'retire', key.keyId], dataFolderEnv(server.dataDir))
  t.equal(retired.code, 0, retired.stderr)
  refused(t, await uploadAndPost(server, token, key, { version: 'carder', sequence: 2, image: image({ version: 'carder' }) }), 422, 'key_retired', /was retired on .* sign with a current key/)
  const listed = await list(server, token)
  t.same(listed.map((r) => [r.version, r.key_id]), [['mason', key.keyId]], 'the release signed before stays listed')
  const next = await trustedKey(server, 'next key')
  t.equal((await uploadAndPost(server, token, next, { version: 'carder', sequence: 2, image: image({ version: 'carder' }) })).status, 201, 'the new key publishes')
})

eachBackend(t, 'refusals about what exists: sequence, version, tag, binary', async (t, backend) => {
  const { server, token, key, image } = await releaseServer(t, backend)
  const mason = image({ version: 'mason' })
  t.equal((await uploadAndPost(server, token, key, { version: 'mason', sequence: 5, image: mason })).status, 201)

  refused(t, await uploadAndPost(server, token, key, { version: 'carder', sequence: 5, image: image() }), 409, 'sequence_not_increasing', 'sequence 5 is not above 5, the highest sequence of board esp32cam: publish with sequence 6 or higher')
  refused(t, await uploadAndPost(server, token, key, { version: 'carder', sequence: 3, image: image() }), 409, 'sequence_not_increasing', /sequence 3 is not above 5/)
  refused(t, await uploadAndPost(server, token, key, { version: 'mason', sequence: 6, image: image(), tag: 'prod-mason-2' }), 409, 'version_exists', 'board esp32cam already has a release named mason (sequence 5)')
  refused(t, await uploadAndPost(server, token, key, { version: 'carder', sequence: 6, image: image(), tag: 'prod-mason' }), 409, 'tag_exists', 'tag prod-mason is already release mason of board esp32cam')
  refused(t, await uploadAndPost(server, token, key, { version: 'carder', sequence: 6, image: mason }), 409, 'binary_exists', /this binary .* is already release mason of board esp32cam/)
  t.equal((await uploadAndPost(server, token, key, { version: 'carder', sequence: 6, image: image() })).status, 201, 'the fixed request goes through')
  // Sequences are per board over all channels.
  refused(t, await uploadAndPost(server, token, key, { version: 'beta1', sequence: 6, channel: 'beta', image: image() }), 409, 'sequence_not_increasing', /not above 6/)
})

eachBackend(t, 'ten publishes racing for the same sequence: exactly one wins', async (t, backend) => {
  const { server, token, key, image } = await releaseServer(t, backend)
  const requests = []
  for (let i = 0; i < 10; i++) {
    const img = image({ version: `racer${i}` })
    await uploadArtifact(server, token, img)
    requests.push(releaseRequest(key, { version: `racer${i}`, sequence: 7, image: img }))
  }
  const answers = await Promise.all(requests.map((body) => call(server, 'POST', '/v1/releases', token, body)))
  const statuses = answers.map((a) => a.status).sort()
  t.same(statuses, [201, 409, 409, 409, 409, 409, 409, 409, 409, 409])
  t.ok(answers.filter((a) => a.status === 409).every((a) => a.body.error === 'sequence_not_increasing'))
  t.equal((await list(server, token)).length, 1)
})

eachBackend(t, 'reading releases: newest first, filters, one release, image facts, who published', async (t, backend) => {
  const { server, token, key, image } = await releaseServer(t, backend)
  for (const [version, sequence, channel] of [['mason', 1, 'stable'], ['carder', 2, 'beta'], ['leafcutter', 3, undefined]] as const) {
    const r = await uploadAndPost(server, token, key, { version, sequence, image: image({ version, projectName: 'cam' }), ...(channel ? { channel } : {}) })
    t.equal(r.status, 201, JSON.stringify(r.body))
  }
  const operator = await createToken(server.dataDir, 'operator', 'ops')
  const all = await list(server, operator)
  t.same(all.map((r) => r.version), ['leafcutter', 'carder', 'mason'], 'highest sequence first, readable by an operator')
  t.match(all[0], { channel: 'stable', provenance: 'attested', published_by: 'ci', has_binary: true, image: { chip: 'esp32', project_name: 'cam', app_version: 'leafcutter' } })
  t.same((await list(server, token, '?channel=stable')).map((r) => r.version), ['leafcutter', 'mason'])
  t.same((await list(server, token, '?board=esp32cam&channel=beta')).map((r) => r.version), ['carder'])
  t.same(await list(server, token, '?board=other'), [])
  t.equal((await getJson(server, '/v1/releases?board=Bad%20Board', token)).status, 400)

  const one = await getJson<{ delta: { patches: Array<{ base_version: string }> } }>(server, '/v1/releases/esp32cam/carder', operator)
  t.equal(one.status, 200)
  const { delta, ...same } = one.body
  t.same(same, all[1])
  t.same(delta.patches.map((p) => p.base_version), ['mason'], 'a patch to it from the release before is under way or built')
  const missing = await getJson(server, '/v1/releases/esp32cam/nosuch', token)
  t.equal(missing.status, 404)
  t.equal(missing.body.error, 'release_not_found')
})

eachBackend(t, 'who may publish and read', async (t, backend) => {
  const { server, token, key, image } = await releaseServer(t, backend)
  const img = image({ version: 'mason' })
  await uploadArtifact(server, token, img)
  const body = releaseRequest(key, { version: 'mason', sequence: 1, image: img })
  refused(t, await call(server, 'POST', '/v1/releases', undefined, body), 401, 'unauthorized', /Authorization: Bearer/)
  const operator = await createToken(server.dataDir, 'operator', 'ops')
  refused(t, await call(server, 'POST', '/v1/releases', operator, body), 403, 'forbidden', /needs role releaser or admin/)
  const revoked = await createToken(server.dataDir, 'releaser', 'old-ci')
  t.equal((await cli(['token', 'revoke', 'old-ci'], dataFolderEnv(server.dataDir))).code, 0)
  refused(t, await call(server, 'POST', '/v1/releases', revoked, body), 401, 'unauthorized', /unknown or revoked/)
  t.equal((await call(server, 'GET', '/v1/releases')).status, 401, 'reading needs a token too')
  t.equal((await getJson(server, '/v1/releases', revoked)).status, 401)

  refused(t, await call(server, 'POST', '/v1/releases', token, { ...body, notes: 'x'.repeat(2001) }), 400, 'bad_request', /notes/)
  refused(t, await call(server, 'POST', '/v1/releases', token, { ...body, sequence: 0 }), 400, 'bad_request', /sequence/)
  refused(t, await call(server, 'POST', '/v1/releases', token, { ...body, version: 'has space' }), 400, 'bad_request', /version/)
  // Tag and commit are lines of the signed statement: a line break would let one statement pass for another.
  refused(t, await call(server, 'POST', '/v1/releases', token, { ...body, tag: 'prod-mason\nsequence: 9' }), 400, 'bad_request', /tag/)
  refused(t, await call(server, 'POST', '/v1/releases', token, { ...body, commit: 'abc\n' }), 400, 'bad_request', /commit/)
  const { signature: _s, ...unsigned } = body
  refused(t, await call(server, 'POST', '/v1/releases', token, unsigned), 400, 'bad_request', /signature is required/)
  t.equal((await call(server, 'POST', '/v1/releases', token, { ...body, notes: 'x'.repeat(2000) })).status, 201)
  t.equal((await list(server, operator))[0].published_by, 'ci')
})
