import { execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { buildReleaseStatement } from '../src/release/release-statement'
import { signStatement, verifyStatement } from '../src/release/keys'
import { cli, tempDir } from './support/server'

const run = promisify(execFile)

t.test('keys generate: private key 0600, public key beside it, the key id printed; never overwrites', async (t) => {
  const dir = tempDir(t)
  const r = await cli(['keys', 'generate', '--out', 'release.pem'], {}, dir)
  t.equal(r.code, 0, r.stderr)
  const priv = path.join(dir, 'release.pem')
  const pub = path.join(dir, 'release.pem.pub')
  t.equal(fs.statSync(priv).mode & 0o777, 0o600)
  t.match(fs.readFileSync(priv, 'utf8'), /BEGIN PRIVATE KEY/)
  t.match(fs.readFileSync(pub, 'utf8'), /BEGIN PUBLIC KEY/)
  // The contract's key id: SHA-256 of the DER SPKI, as openssl writes it, first 16 hex.
  const der = (await run('openssl', ['pkey', '-pubin', '-in', pub, '-outform', 'DER'], { encoding: 'buffer' })).stdout
  t.equal(r.lastLine, crypto.createHash('sha256').update(der).digest('hex').slice(0, 16))
  // The pair works together.
  const statement = buildReleaseStatement({ board: 'b', version: 'v', sequence: 1, size: 1, sha256: 'a'.repeat(64), tag: 'prod-v', commit: 'c'.repeat(40) })
  t.ok(verifyStatement(statement, signStatement(statement, fs.readFileSync(priv, 'utf8')), fs.readFileSync(pub, 'utf8')))

  const before = fs.readFileSync(priv)
  const again = await cli(['keys', 'generate', '--out', 'release.pem'], {}, dir)
  t.equal(again.code, 1)
  t.match(again.stderr, /exists; a key is never overwritten/)
  t.ok(fs.readFileSync(priv).equals(before), 'the existing key is untouched')
  t.equal((await cli(['keys', 'generate'], {}, dir)).code, 2, '--out is required')
})

t.test('keys trust, list, retire on the data folder', async (t) => {
  const dir = tempDir(t)
  const env = { OTA_DATA_DIR: path.join(dir, 'data') }
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(dir, 'ci.pem')])
  await run('openssl', ['ec', '-in', path.join(dir, 'ci.pem'), '-pubout', '-out', path.join(dir, 'ci.pub')])
  const der = (await run('openssl', ['pkey', '-pubin', '-in', path.join(dir, 'ci.pub'), '-outform', 'DER'], { encoding: 'buffer' })).stdout
  const keyId = crypto.createHash('sha256').update(der).digest('hex').slice(0, 16)

  const trusted = await cli(['keys', 'trust', 'ci.pub'], env, dir)
  t.equal(trusted.code, 0, trusted.stderr)
  t.equal(trusted.lastLine, keyId)
  const twice = await cli(['keys', 'trust', 'ci.pub', '--name', 'other'], env, dir)
  t.equal(twice.code, 1)
  t.match(twice.stderr, /already trusted, as "ci"/)

  const named = await cli(['keys', 'generate', '--out', 'laptop.pem'], {}, dir)
  t.equal((await cli(['keys', 'trust', 'laptop.pem.pub', '--name', 'alice laptop'], env, dir)).code, 0)

  const list = await cli(['keys', 'list'], env, dir)
  t.equal(list.code, 0)
  t.match(list.stdout, new RegExp(`${keyId}\\s+ci\\s+active`))
  t.match(list.stdout, new RegExp(`${named.lastLine}\\s+alice laptop\\s+active`))

  const retired = await cli(['keys', 'retire', keyId], env, dir)
  t.equal(retired.code, 0, retired.stderr)
  t.match(retired.stdout, /releases it signed stay valid/)
  t.match((await cli(['keys', 'list'], env, dir)).stdout, new RegExp(`${keyId}\\s+ci\\s+retired`))
  const back = await cli(['keys', 'trust', 'ci.pub'], env, dir)
  t.equal(back.code, 1)
  t.match(back.stderr, /was retired/)

  const unknown = await cli(['keys', 'retire', '0123456789abcdef'], env, dir)
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /no release key 0123456789abcdef/)
  t.equal((await cli(['keys', 'retire', 'nothex'], env, dir)).code, 2)
  t.equal((await cli(['keys', 'retire'], env, dir)).code, 2)
})

t.test('keys trust refuses a private key, a key not on P-256, and what is not a key', async (t) => {
  const dir = tempDir(t)
  const env = { OTA_DATA_DIR: path.join(dir, 'data') }
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(dir, 'key.pem')])
  const priv = await cli(['keys', 'trust', 'key.pem'], env, dir)
  t.equal(priv.code, 1)
  t.match(priv.stderr, /private key; give the public key/)

  await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path.join(dir, 'rsa.pem')])
  await run('openssl', ['pkey', '-in', path.join(dir, 'rsa.pem'), '-pubout', '-out', path.join(dir, 'rsa.pub')])
  const rsa = await cli(['keys', 'trust', 'rsa.pub'], env, dir)
  t.equal(rsa.code, 1)
  t.match(rsa.stderr, /must be ECDSA P-256; this is a rsa key/)

  await run('openssl', ['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', path.join(dir, 'p384.pem')])
  await run('openssl', ['ec', '-in', path.join(dir, 'p384.pem'), '-pubout', '-out', path.join(dir, 'p384.pub')])
  const p384 = await cli(['keys', 'trust', 'p384.pub'], env, dir)
  t.equal(p384.code, 1)
  t.match(p384.stderr, /secp384r1/)

  fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello')
  t.match((await cli(['keys', 'trust', 'notes.txt'], env, dir)).stderr, /not a PEM public key/)
  const missing = await cli(['keys', 'trust', 'missing.pub'], env, dir)
  t.equal(missing.code, 2, 'a file that cannot be read is a usage error')
  t.match(missing.stderr, /missing\.pub: no such file/)
  t.equal((await cli(['keys', 'trust'], env, dir)).code, 2)
  t.match((await cli(['keys', 'list'], env, dir)).stdout, /^KEY_ID\s+NAME\s+STATE/, 'nothing was trusted')
  t.equal((await cli(['keys', 'list'], env, dir)).stdout.trim().split('\n').length, 1)
})

t.test('board add and list', async (t) => {
  const dir = tempDir(t)
  const env = { OTA_DATA_DIR: path.join(dir, 'data') }
  const added = await cli(['board', 'add', 'saola', '--chip', 'esp32s2', '--slot-size', '0x1E0000'], env, dir)
  t.equal(added.code, 0, added.stderr)
  t.match(added.stdout, /added board saola: esp32s2 \(chip id 2\), OTA slot 1966080 bytes/)
  t.equal((await cli(['board', 'add', 'tiny', '--chip', 'esp32', '--slot-size', '4096'], env, dir)).code, 0)
  const list = await cli(['board', 'list'], env, dir)
  t.match(list.stdout, /esp32cam\s+esp32\s+0\s+1966080/, 'the board a fresh server has')
  t.match(list.stdout, /saola\s+esp32s2\s+2\s+1966080/)
  t.match(list.stdout, /tiny\s+esp32\s+0\s+4096/)

  const dup = await cli(['board', 'add', 'saola', '--chip', 'esp32', '--slot-size', '1'], env, dir)
  t.equal(dup.code, 1)
  t.match(dup.stderr, /already exists/)
  for (const argv of [
    ['board', 'add', 'x', '--chip', 'esp8266', '--slot-size', '1'],
    ['board', 'add', 'x', '--chip', 'esp32'],
    ['board', 'add', 'x', '--chip', 'esp32', '--slot-size', '0'],
    ['board', 'add', 'x', '--chip', 'esp32', '--slot-size', '12kb'],
    ['board', 'add', 'Bad Name', '--chip', 'esp32', '--slot-size', '1'],
    ['board', 'add', '--chip', 'esp32', '--slot-size', '1'],
    ['board', 'add', 'x', '--chip', 'esp32', '--slot-size', '1', '--colour', 'red'],
  ]) {
    const r = await cli(argv, env, dir)
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.stderr, /usage: ota-gate board add/)
  }
  t.match((await cli(['board', 'add', 'x', '--chip', 'esp8266', '--slot-size', '1'], env, dir)).stderr, /--chip must be one of esp32, esp32s2/)
})
