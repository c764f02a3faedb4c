import { execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { buildReleaseStatement } from '../src/release/release-statement'
import { generateKeyPair, keyIdOf, ReleaseKeyError, signStatement, verifyStatement } from '../src/release/keys'
import { tempDir } from './support/server'

const run = promisify(execFile)

const example = {
  board: 'esp32cam',
  version: 'mason',
  sequence: 12,
  size: 1234567,
  sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  tag: 'prod-mason',
  commit: '3b18e512dba79e4c8300dd08aeb37f8e728b8dad',
}

t.test('the statement is exactly the contract text: LF line ends, final LF, nothing else', async (t) => {
  t.equal(
    buildReleaseStatement(example),
    [
      'ota-gate release v1',
      'board: esp32cam',
      'version: mason',
      'sequence: 12',
      'size: 1234567',
      'sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      'tag: prod-mason',
      'commit: 3b18e512dba79e4c8300dd08aeb37f8e728b8dad',
      '',
    ].join('\n')
  )
  t.throws(() => buildReleaseStatement({ ...example, tag: 'prod-x\nsequence: 99' }), /line break/)
  t.throws(() => buildReleaseStatement({ ...example, sequence: 1.5 }), /sequence/)
})

t.test('key id is the first 16 hex of SHA-256 over the DER SPKI, as openssl computes it', async (t) => {
  const dir = tempDir(t)
  const priv = path.join(dir, 'key.pem')
  const pub = path.join(dir, 'key.pub')
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', priv])
  await run('openssl', ['ec', '-in', priv, '-pubout', '-out', pub])
  const der = (await run('openssl', ['pkey', '-pubin', '-in', pub, '-outform', 'DER'], { encoding: 'buffer' })).stdout
  const expected = crypto.createHash('sha256').update(der).digest('hex').slice(0, 16)
  const pem = fs.readFileSync(pub, 'utf8')
  t.equal(keyIdOf(pem), expected)
  t.equal(keyIdOf(crypto.createPublicKey(pem)), expected, 'a key object gives the same id')
  t.match(expected, /^[0-9a-f]{16}$/)
})

t.test('sign and verify round trip; any change to the statement breaks the signature', async (t) => {
  const pair = generateKeyPair()
  t.equal(pair.keyId, keyIdOf(pair.publicKeyPem))
  const statement = buildReleaseStatement(example)
  const signature = signStatement(statement, pair.privateKeyPem)
  t.match(signature, /^[A-Za-z0-9+/]+={0,2}$/, 'standard padded base64')
  t.ok(verifyStatement(statement, signature, pair.publicKeyPem))
  t.notOk(verifyStatement(buildReleaseStatement({ ...example, sequence: 13 }), signature, pair.publicKeyPem))
  t.notOk(verifyStatement(statement, signature, generateKeyPair().publicKeyPem), 'another key does not verify')
  t.notOk(verifyStatement(statement, 'bm90IGEgc2lnbmF0dXJl', pair.publicKeyPem), 'garbage DER is false, not a throw')
  t.notOk(verifyStatement(statement, 'not base64!', pair.publicKeyPem))
})

t.test('a signature made by openssl dgst verifies', async (t) => {
  const dir = tempDir(t)
  const priv = path.join(dir, 'key.pem')
  const pub = path.join(dir, 'key.pub')
  const stmt = path.join(dir, 'statement.txt')
  const sig = path.join(dir, 'statement.sig')
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', priv])
  await run('openssl', ['ec', '-in', priv, '-pubout', '-out', pub])
  const statement = buildReleaseStatement(example)
  fs.writeFileSync(stmt, statement)
  await run('openssl', ['dgst', '-sha256', '-sign', priv, '-out', sig, stmt])
  const signature = fs.readFileSync(sig).toString('base64')
  t.ok(verifyStatement(statement, signature, fs.readFileSync(pub, 'utf8')))

  // And the other way: our signature verifies with openssl.
  fs.writeFileSync(sig, Buffer.from(signStatement(statement, fs.readFileSync(priv, 'utf8')), 'base64'))
  const { stdout } = await run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sig, stmt])
  t.match(stdout, /Verified OK/)
})

t.test('keys other than P-256, and private keys given as public, are refused clearly', async (t) => {
  const statement = buildReleaseStatement(example)
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
  t.throws(() => verifyStatement(statement, 'AAAA', rsa), new ReleaseKeyError('release keys must be ECDSA P-256; this is a rsa key'))
  const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
  t.throws(() => verifyStatement(statement, 'AAAA', p384), /P-256 \(prime256v1\); this key is on secp384r1/)
  t.throws(() => verifyStatement(statement, 'AAAA', generateKeyPair().privateKeyPem), /private key/)
  t.throws(() => verifyStatement(statement, 'AAAA', 'hello'), /not a PEM public key/)
})
