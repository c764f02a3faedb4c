import crypto from 'node:crypto'
import t from 'tap'
import { DELTA_FORMAT, deltaPath, type DeltaOffer } from '../src/fleet/delta-offer'
import type { Target } from '../src/fleet/target'
import { MAX_MANIFEST_BYTES, MAX_URL_BASE_LENGTH, SignedManifests } from '../src/manifest/signed-manifests'
import type { Release } from '../src/repositories/release-rows'
import { TestClock } from './support/clock'

// The signed manifest with a delta: one signature per base, covering the delta object, and never
// more than the 1024 bytes ESP32 clients accept (the delta is left out before that).

const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
const key = { keyId: '0123456789abcdef', privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
const hex = (seed: string, n = 64) => crypto.createHash('sha512').update(seed).digest('hex').slice(0, n)

/** A release as a small fleet has them: a short version and tag, sequence 12, a 1.5 MB image. */
function target(tag: string): Target {
  const release = {
    id: 7, board: 'esp32cam', channel: 'stable', version: 'mason', sequence: 12, sha256: hex('target'), size: 1_500_000,
    md5: hex('md5', 32), tag, commit_sha: hex('commit', 40), signature: 'A'.repeat(96), key_id: key.keyId,
  } as Release & { sha256: string; size: number; md5: string }
  return { release, allowDowngrade: false, passedOver: [], basis: 'rollout' }
}

function offer(urlBase: string, base: string): DeltaOffer {
  return { format: DELTA_FORMAT, base_sha256: base, url: `${urlBase}${deltaPath(base, hex('target'))}`, size: 23_646, sha256: hex(`patch ${base}`) }
}

t.test('the delta object is signed with the rest, once per base', async (t) => {
  const manifests = new SignedManifests(key, 3600, new TestClock())
  const urlBase = 'https://ota.example.com'
  const plain = manifests.get(target('prod-mason'), 'stable', urlBase)
  const a = manifests.get(target('prod-mason'), 'stable', urlBase, offer(urlBase, hex('a')))
  const b = manifests.get(target('prod-mason'), 'stable', urlBase, offer(urlBase, hex('b')))
  t.equal(plain.hasDelta, false)
  t.ok(a.hasDelta && b.hasDelta)
  t.same(JSON.parse(a.body.toString()).delta, offer(urlBase, hex('a')))
  t.not(a.etag, b.etag, 'each base has its own body')
  t.equal(manifests.get(target('prod-mason'), 'stable', urlBase, offer(urlBase, hex('a'))), a, 'and is signed once')
  t.ok(crypto.verify('sha256', a.body, publicKey, Buffer.from(a.headers['x-ota-signature'], 'base64')))
  const { delta, ...rest } = JSON.parse(a.body.toString())
  t.ok(delta)
  t.same(rest, JSON.parse(plain.body.toString()), 'everything else is the plain manifest')
})

t.test('a delta that would pass 1024 bytes is left out, never the manifest', async (t) => {
  const manifests = new SignedManifests(key, 3600, new TestClock())
  const longBase = `https://${'o'.repeat(MAX_URL_BASE_LENGTH - 'https://'.length)}`
  const longTag = `prod-${'x'.repeat(195)}`
  const m = manifests.get(target(longTag), 'stable', longBase, offer(longBase, hex('a')))
  t.equal(m.hasDelta, false)
  t.ok(m.body.length <= MAX_MANIFEST_BYTES, `${m.body.length} bytes`)
  t.equal(JSON.parse(m.body.toString()).delta, undefined)
  // The body carries the URL base twice with a delta: only short ones leave room (docs/delta.md, Limits).
  const short = manifests.get(target('prod-mason'), 'stable', 'https://ota.example.com', offer('https://ota.example.com', hex('a')))
  t.equal(short.hasDelta, true)
  t.ok(short.body.length <= MAX_MANIFEST_BYTES, `${short.body.length} bytes`)
})
