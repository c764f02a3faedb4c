import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { buildEspImage } from '../test/support/esp-image-builder'
import { buildReleaseStatement } from '../src/release/release-statement'
import { BOARD, CHANNEL } from './fleet-seed'
import { PROJECT_ROOT, SERVER_CPU, run, start, waitForHttp, type Child } from './processes'

/**
 * The settings the server runs under in the benchmark, besides its data folder and port. The load
 * comes from one loopback address, so the per-address device rate limit (which protects a real
 * server from one misbehaving address) is off; load shedding on event-loop utilisation is off
 * because a server saturated on purpose runs near 100% (it would answer 503 instead of being
 * measured), and the event-loop delay threshold is raised from 200 ms to 1 s, as a guard only.
 */
export const BENCH_ENV = {
  OTA_LOG_LEVEL: 'warn',
  OTA_DEVICE_RATE_LIMIT: '0',
  OTA_OVERLOAD_EVENT_LOOP_UTILIZATION: '0',
  OTA_OVERLOAD_EVENT_LOOP_DELAY_MS: '1000',
}

export interface OtaServer {
  child: Child
  base: string
  pid: number
}

/** `node dist/server.js` on the server core over `dataDir` (and `settings`), ready once /healthz answers. */
export async function startOtaServer(dataDir: string, port: number, nodeFlags: string[] = [], settings: Record<string, string> = {}): Promise<OtaServer> {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    OTA_DATA_DIR: dataDir,
    OTA_HOST: '127.0.0.1',
    OTA_PORT: String(port),
    ...BENCH_ENV,
    ...settings,
  }
  const child = start(process.execPath, [...nodeFlags, path.join(PROJECT_ROOT, 'dist', 'server.js')], { cpu: SERVER_CPU, env, cwd: dataDir })
  const base = `http://127.0.0.1:${port}`
  await waitForHttp(`${base}/healthz`, child)
  return { child, base, pid: child.pid }
}

/** The command-line tool on the data folder (and `settings`: a database), as an operator runs it; its last output line. */
export async function cli(dataDir: string, args: string[], settings: Record<string, string> = {}): Promise<string> {
  const out = await run(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'cli', 'main.js'), ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, OTA_DATA_DIR: dataDir, ...settings },
    timeoutMs: 30_000,
  })
  return out.trim().split('\n').pop() ?? ''
}

export interface Credentials {
  releaser: string
  operator: string
  keyId: string
  privateKey: crypto.KeyObject
}

/** A releaser and an operator token and a trusted release key, made with the CLI on the data folder (or the database of `settings`). */
export async function makeCredentials(dataDir: string, settings: Record<string, string> = {}): Promise<Credentials> {
  const releaser = await cli(dataDir, ['token', 'create', '--role', 'releaser', '--name', 'bench-releaser'], settings)
  const operator = await cli(dataDir, ['token', 'create', '--role', 'operator', '--name', 'bench-operator'], settings)
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const pem = path.join(dataDir, 'bench-release-key.pub')
  fs.writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }))
  await cli(dataDir, ['keys', 'trust', pem, '--name', 'bench release key'], settings)
  const keyId = crypto.createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
  return { releaser, operator, keyId, privateKey }
}

export interface Published {
  sha256: string
  size: number
}

async function expectStatus(res: Response, what: string, ok: number[]): Promise<void> {
  if (!ok.includes(res.status)) throw new Error(`${what} answered ${res.status}: ${await res.text()}`)
  await res.arrayBuffer()
}

/** Publishes a release of a ~`size`-byte ESP32 image through the real API: PUT the artifact, POST the signed release. */
export async function publish(base: string, creds: Credentials, version: string, sequence: number, size: number): Promise<Published> {
  return publishImage(base, creds, version, sequence, buildEspImage({ version, seed: sequence, size }))
}

/** Publishes `image` as a release through the real API. */
export async function publishImage(base: string, creds: Credentials, version: string, sequence: number, image: Buffer): Promise<Published> {
  const sha256 = crypto.createHash('sha256').update(image).digest('hex')
  const auth = { authorization: `Bearer ${creds.releaser}` }
  await expectStatus(
    await fetch(`${base}/v1/artifacts/${sha256}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: image }),
    'PUT /v1/artifacts',
    [200, 201]
  )
  const tag = `prod-${version}`
  const commit = crypto.createHash('sha1').update(`bench ${version}`).digest('hex')
  const statement = buildReleaseStatement({ board: BOARD, version, sequence, size: image.length, sha256, tag, commit })
  const signature = crypto.sign('sha256', Buffer.from(statement, 'utf8'), { key: creds.privateKey, dsaEncoding: 'der' }).toString('base64')
  const body = { board: BOARD, channel: CHANNEL, version, sequence, sha256, tag, commit, signature, key_id: creds.keyId }
  await expectStatus(
    await fetch(`${base}/v1/releases`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    'POST /v1/releases',
    [201]
  )
  return { sha256, size: image.length }
}
