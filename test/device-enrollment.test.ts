import fs from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import pino, { type LoggerOptions } from 'pino'
import t from 'tap'
import { loadConfig } from '../src/config'
import { loggerOptions } from '../src/logger'
import { CHALLENGE_TTL_MS, RevocationCache } from '../src/fleet/device-tokens'
import { decide, deviceToken, enroll, newDeviceKey, pollWith, requestToken, sign } from './support/device-credentials'
import { publishRelease } from './support/publish'
import { operatorToken } from './support/rollouts'
import { cli, startServer } from './support/server'
import { call, getJson } from './support/http'
import { FLEET_NO_DELTAS_ENV } from './support/env'
import { eachBackend } from './support/backends'
import { TestClock } from './support/clock'


t.test('enroll, wait, accept, token: the admission of one device, every decision audited', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const ops = await operatorToken(server)
  const key = newDeviceKey()
  const device = 'a4cf12000001'

  const pending = await enroll(server, device, key)
  t.same(pending, { status: 202, body: { device, key_id: key.keyId, state: 'pending' } })
  t.same((await enroll(server, 'A4:CF:12:00:00:01', key)).status, 202, 'asking again (any MAC form) is the same request')
  const waiting = await requestToken(server, device, key)
  t.same([waiting.status, waiting.body.error], [403, 'device_pending'])
  const list = await getJson<{ keys: Array<Record<string, unknown>> }>(server, '/v1/device-keys?state=pending', ops)
  t.match(list.body.keys, [{ device, key_id: key.keyId, state: 'pending', board: 'esp32cam', address: '127.0.0.1', public_key_pem: /BEGIN PUBLIC KEY/ }])

  const accepted = await decide(server, ops, 'accept', device, { reason: 'batch 7 inspected' })
  t.match(accepted, { status: 200, body: { state: 'accepted', decided_by: 'ops-alice' } })
  t.same((await enroll(server, device, key)).status, 200, 'enrolling an accepted key answers 200 accepted')
  const token = await deviceToken(server, device, key)
  t.match(token, /^otd_a4cf12000001\./)

  // A signature by another key, or over another challenge, gets nothing.
  const challenge = (await getJson<{ challenge: string }>(server, `/v1/devices/${device}/challenge`, '')).body.challenge
  const statement = `ota-gate device token v1\ndevice: ${device}\nchallenge: ${challenge}\n`
  const impostor = await call(server, 'POST', `/v1/devices/${device}/token`, '', { challenge, signature: sign(newDeviceKey(), statement) })
  t.same([impostor.status, impostor.body.error], [401, 'unauthorized'])
  const stolenChallenge = await call(server, 'POST', `/v1/devices/a4cf12000002/token`, '', { challenge, signature: sign(key, statement) })
  t.same([stolenChallenge.status, stolenChallenge.body.error], [401, 'challenge_invalid'], "a challenge given to one device is no good for another")
  const unknown = await requestToken(server, 'a4cf120000ff', key)
  t.same([unknown.status, unknown.body.error], [404, 'device_not_enrolled'])

  // Rejecting a second, pending key leaves the accepted one working.
  const other = newDeviceKey()
  t.equal((await enroll(server, device, other)).status, 202, 'a new key of an accepted device waits')
  // curl -X POST, no body: a decision without a reason.
  const rejected = await fetch(`${server.url}/v1/devices/${device}/reject`, { method: 'POST', headers: { authorization: `Bearer ${ops}` } })
  t.equal(rejected.status, 200)
  t.equal(((await rejected.json()) as { key_id: string }).key_id, other.keyId, 'reject picks the pending key')
  t.same([(await enroll(server, device, other)).status], [403], 'a rejected key stays rejected')
  t.equal((await pollWith(server, device, { version: 'v0', sequence: 1 }, token)).status, 404, 'the token still works (no release yet)')

  const { body } = await call<{ entries: Array<Record<string, unknown>> }>(server, 'GET', '/v1/audit', ops)
  t.match(body.entries.slice(0, 2), [
    { actor: 'ops-alice', action: 'device_reject', device, details: { key_id: other.keyId, from: 'pending' } },
    { actor: 'ops-alice', action: 'device_accept', device, reason: 'batch 7 inspected', details: { key_id: key.keyId, from: 'pending' } },
  ])
})

eachBackend(t, 'a challenge buys one token, on every instance sharing the database', async (t, backend) => {
  const clock = new TestClock()
  const env = { ...FLEET_NO_DELTAS_ENV, ...(await backend.serverEnv(t)) }
  const one = await startServer(t, env, { clock })
  const two = await startServer(t, env, { clock, dataDir: one.dataDir })
  const key = newDeviceKey()
  const device = 'a4cf12000020'
  await enroll(one, device, key)
  await decide(one, await operatorToken(one), 'accept', device)

  const challenge = (await getJson<{ challenge: string }>(one, `/v1/devices/${device}/challenge`, '')).body.challenge
  const answer = { challenge, signature: sign(key, `ota-gate device token v1\ndevice: ${device}\nchallenge: ${challenge}\n`) }
  // A wrong signature does not use the challenge up: anyone may send one.
  t.equal((await call(two, 'POST', `/v1/devices/${device}/token`, '', { ...answer, signature: sign(newDeviceKey(), 'x') })).status, 401, 'a wrong signature is refused')
  t.equal((await call(one, 'POST', `/v1/devices/${device}/token`, '', answer)).status, 200, 'the signed answer buys a token')
  for (const [which, server] of [['this instance', one], ['another instance', two]] as const) {
    const replay = await call<{ error: string; message: string }>(server, 'POST', `/v1/devices/${device}/token`, '', answer)
    t.same([replay.status, replay.body.error], [401, 'challenge_invalid'], `the same answer again gets nothing from ${which}`)
    t.match(replay.body.message, /answered already .*GET \/v1\/devices\/a4cf12000020\/challenge/)
  }
  clock.advance(CHALLENGE_TTL_MS)
  t.match(await deviceToken(two, device, key), /^otd_/, 'a fresh challenge buys the next token')
})

eachBackend(t, 'used challenges: each once, forgotten once expired', async (t, backend) => {
  const db = await backend.open(t)
  const [a, b] = ['a'.repeat(32), 'b'.repeat(32)]
  t.equal(await db.repos.credentials.useChallenge(a, 2_000, 1_000), true, 'first use')
  t.equal(await db.repos.credentials.useChallenge(a, 2_000, 1_500), false, 'second use')
  t.equal(await db.repos.credentials.useChallenge(b, 5_000, 2_000), true, 'another challenge')
  t.same(await db.sql('SELECT nonce FROM used_challenges'), [{ nonce: b }], 'the expired one is forgotten')
})

t.test('keys are P-256, PEM or base64 DER, bounded; boards must be known', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const key = newDeviceKey()
  t.equal((await enroll(server, 'a4cf12000010', key, { public_key: key.publicDer })).status, 202, 'base64 DER works')
  const rsa = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
  for (const [what, public_key, code] of [
    ['an RSA key', rsa, 'key_invalid'],
    ['text', 'hello', 'key_invalid'],
    ['a key over 1024 characters', 'A'.repeat(2000), 'bad_request'],
  ] as const) {
    const r = await enroll(server, 'a4cf12000011', key, { public_key })
    t.same([r.status, r.body.error], [400, code], what)
  }
  t.same((await enroll(server, 'a4cf12000011', key, { board: 'nosuch' })).body.error, 'board_not_found')
})

t.test('enrollment tokens and the allow-list accept at once, never over an accepted key', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const ops = await operatorToken(server)
  const created = await call<Record<string, unknown>>(server, 'POST', '/v1/enrollment-tokens', ops, { name: 'batch-7', max_uses: 2, expires_in: '30d' })
  t.match(created, { status: 201, body: { name: 'batch-7', max_uses: 2, uses: 0, state: 'active', token: /^ote_/ } })
  const secret = created.body.token as string

  const k1 = newDeviceKey()
  t.match(await enroll(server, 'a4cf12000020', k1, { enrollment_token: secret }), { status: 200, body: { state: 'accepted' } })
  await deviceToken(server, 'a4cf12000020', k1)
  t.match(await enroll(server, 'a4cf12000021', newDeviceKey(), { enrollment_token: secret }), { status: 200 })
  const third = await enroll(server, 'a4cf12000022', newDeviceKey(), { enrollment_token: secret })
  t.match(third, { status: 401, body: { error: 'enrollment_token_invalid', message: /no use left/ } })
  t.match(await enroll(server, 'a4cf12000022', newDeviceKey(), { enrollment_token: 'ote_guess' }), { status: 401, body: { error: 'enrollment_token_invalid' } })
  // The token cannot hand an accepted device to a new key.
  const unlimited = (await call<{ token: string }>(server, 'POST', '/v1/enrollment-tokens', ops, { name: 'line-2' })).body.token
  t.match(await enroll(server, 'a4cf12000020', newDeviceKey(), { enrollment_token: unlimited }), { status: 202, body: { state: 'pending' } })
  t.match(await call(server, 'POST', '/v1/enrollment-tokens/line-2/revoke', ops, { reason: 'leaked' }), { status: 200 })
  t.match(await enroll(server, 'a4cf12000023', newDeviceKey(), { enrollment_token: unlimited }), { status: 401, body: { message: /was revoked/ } })
  const tokens = await getJson<{ tokens: Array<Record<string, unknown>> }>(server, '/v1/enrollment-tokens', ops)
  t.match(tokens.body.tokens, [{ name: 'batch-7', uses: 2, state: 'used_up' }, { name: 'line-2', state: 'revoked' }])
  t.notOk(JSON.stringify(tokens.body).includes(secret), 'the list never shows a token')
  const stored = fs.readdirSync(server.dataDir).filter((f) => f.startsWith('ota-gate.db')).map((f) => fs.readFileSync(path.join(server.dataDir, f)).toString('latin1'))
  t.notOk(stored.some((bytes) => bytes.includes(secret)), 'only its hash is stored')

  t.match(await call(server, 'POST', '/v1/device-allowlist/add', ops, { devices: ['A4:CF:12:00:00:30', 'a4cf12000031'], note: 'batch 8' }), { status: 200, body: { changed: 2 } })
  t.match(await enroll(server, 'a4cf12000030', newDeviceKey()), { status: 200, body: { state: 'accepted' } })
  t.match(await enroll(server, 'a4cf12000032', newDeviceKey()), { status: 202 }, 'a device not listed waits')
  const { body } = await call<{ entries: Array<Record<string, unknown>> }>(server, 'GET', '/v1/audit', ops)
  t.match(body.entries[0], { actor: 'allow-list', action: 'device_accept', device: 'a4cf12000030' })
  t.ok(body.entries.some((e) => e.action === 'device_accept' && e.actor === 'enrollment:batch-7'))
})

t.test('key rotation: a device vouches for its new key with its old one, or an operator accepts it', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  const ops = await operatorToken(server)
  const device = 'a4cf12000040'
  const old = newDeviceKey()
  await enroll(server, device, old)
  await decide(server, ops, 'accept', device)
  const oldToken = await deviceToken(server, device, old)

  const next = newDeviceKey()
  const statement = `ota-gate device key v1\ndevice: ${device}\nkey_id: ${next.keyId}\n`
  const forged = await enroll(server, device, next, { rotation_signature: sign(newDeviceKey(), statement) })
  t.same([forged.status, forged.body.error], [401, 'unauthorized'], 'vouched for by a key that is not the accepted one: refused')
  t.match(await enroll(server, device, next, { rotation_signature: sign(old, statement) }), { status: 200, body: { state: 'accepted', key_id: next.keyId } })
  await deviceToken(server, device, next)
  t.equal((await requestToken(server, device, old)).status, 401, 'the old key gets no more tokens')
  t.equal((await pollWith(server, device, { version: 'v0', sequence: 1 }, oldToken)).status, 404, 'a token it already holds works until it expires')

  // An operator may accept a new key for a device that lost its old one.
  const third = newDeviceKey()
  t.equal((await enroll(server, device, third)).status, 202)
  t.match(await decide(server, ops, 'accept', device, { key_id: third.keyId }), { status: 200, body: { key_id: third.keyId, state: 'accepted' } })
  const keys = await getJson<{ keys: Array<{ key_id: string; state: string }> }>(server, `/v1/devices/${device}/keys`, ops)
  t.same(new Map(keys.body.keys.map((k) => [k.key_id, k.state])), new Map([[old.keyId, 'replaced'], [next.keyId, 'replaced'], [third.keyId, 'accepted']]))
})

t.test('the command line: enrollment create/list/revoke, device pending/accept/reject/revoke/allow', async (t) => {
  const server = await startServer(t, FLEET_NO_DELTAS_ENV)
  await publishRelease(server, { version: 'v1', sequence: 1 })
  const env = { OTA_SERVER: server.url, OTA_TOKEN: await operatorToken(server) }

  const created = await cli(['enrollment', 'create', '--name', 'batch-9', '--max-uses', '100', '--expires', '30d'], env)
  t.equal(created.code, 0, created.stderr)
  t.match(created.lastLine, /^ote_/)
  t.match(created.stderr, /created enrollment token "batch-9" \(100 uses, expires 20\d\d-/)
  t.match((await cli(['enrollment', 'list'], env)).stdout, /^batch-9\s+active\s+0\s+100\s/m)
  t.equal((await cli(['enrollment', 'create', '--name', 'batch-9'], env)).code, 1, 'an active name is not reused')
  t.equal((await cli(['enrollment', 'create', '--name', 'x', '--max-uses', '1e3'], env)).code, 2)
  t.equal((await cli(['enrollment', 'revoke', 'batch-9'], env)).code, 0)
  t.equal((await cli(['enrollment', 'revoke', 'batch-9'], env)).code, 1)

  const key = newDeviceKey()
  await enroll(server, 'a4cf12000050', key)
  await enroll(server, 'a4cf12000051', newDeviceKey())
  const pending = await cli(['device', 'pending'], env)
  t.match(pending.stdout, /^DEVICE\s+KEY_ID\s+BOARD\s+STATE/m)
  t.match(pending.stdout, /^a4cf12000050\s+[0-9a-f]{16}\s+esp32cam\s+pending/m)
  t.match(pending.lastLine, '2 keys pending')
  t.match((await cli(['device', 'accept', 'A4:CF:12:00:00:50', '--reason', 'ok'], env)).lastLine, `device a4cf12000050: key ${key.keyId} accepted`)
  t.match((await cli(['device', 'reject', 'a4cf12000051'], env)).lastLine, /rejected$/)
  const token = await deviceToken(server, 'a4cf12000050', key)
  t.match((await cli(['device', 'revoke', 'a4cf12000050'], env)).lastLine, /revoked$/)
  t.equal((await pollWith(server, 'a4cf12000050', { version: 'v0', sequence: 1 }, token)).status, 401)
  const refused = await cli(['device', 'revoke', 'a4cf12000050'], env)
  t.equal(refused.code, 1)
  t.match(refused.stderr, /no key that can be revoked.*409 conflict/)

  const file = path.join(server.dataDir, 'batch.txt')
  fs.writeFileSync(file, '# batch 10\nA4:CF:12:00:00:60\na4cf12000061\n')
  t.match((await cli(['device', 'allow', '--file', file, '--note', 'batch 10'], env)).lastLine, '2 devices added to the allow-list (0 were on it)')
  t.match((await cli(['device', 'allowlist'], env)).stdout, /^a4cf12000060\s+\S+\s+ops-alice\s+batch 10$/m)
  t.match((await cli(['device', 'disallow', 'a4cf12000061'], env)).lastLine, '1 devices taken off the allow-list')
  t.equal((await cli(['device', 'allow', 'not-a-mac'], env)).code, 2)
})

t.test('revocations are re-read when their generation moves, at most every few seconds (injected clock)', async (t) => {
  let now = 0
  let generation = 1
  let reads = 0
  const cache = new RevocationCache(
    {
      revocationGeneration: async () => generation,
      revocations: async () => {
        reads++
        return generation === 1 ? [] : [{ device: 'a4cf12000070', not_before: 42 }]
      },
    },
    { now: () => now }
  )
  t.equal(await cache.get('a4cf12000070'), undefined)
  generation = 2
  now = 4999
  t.equal(await cache.get('a4cf12000070'), undefined, 'within 5 s the cached answer stands')
  now = 5000
  t.equal(await cache.get('a4cf12000070'), 42, 'after 5 s the new generation is read')
  now = 20_000
  await cache.get('a4cf12000070')
  t.equal(reads, 2, 'an unchanged generation does not re-read the list')
})

t.test('enrollment and device tokens never reach the log', async (t) => {
  let written = ''
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString('utf8')
      done()
    },
  })
  const log = pino(loggerOptions(loadConfig({ OTA_LOG_LEVEL: 'trace' })) as LoggerOptions, sink)
  log.info({ body: { enrollment_token: 'ote_secret1', board: 'esp32cam' }, enrollment_token: 'ote_secret2' }, 'enroll')
  log.info({ headers: { authorization: 'Bearer otd_secret3' }, body: { token: 'otd_secret4' } }, 'token')
  t.notMatch(written, /secret/)
  t.match(written, /esp32cam/)
})
