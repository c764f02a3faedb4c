import crypto from 'node:crypto'
import type { Test } from 'tap'
import { buildEspImage, reviseEspImage, smallCodeChange } from './esp-image-builder'
import { pollManifest } from './manifest-poll'
import { publishRelease, type PublishedRelease } from './publish'
import { createToken, startServer, type RunningServer } from './server'
import { getJson } from './http'
import { FLEET_ENV } from './env'

// Delta updates against a real server: polling as a delta-capable device, and waiting for the
// server's patch builds by reading what it shows operators.

export const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex')

/** A device running `from` asks, saying it can apply esp_delta_ota patches. */
export const deltaPoll = (server: RunningServer, device: string, from: PublishedRelease, extra: Record<string, string> = {}) =>
  pollManifest(server, { device, version: from.release.version, sequence: from.release.sequence, delta: 'esp_delta_ota', running: from.sha256, ...extra })

export interface PatchSummary {
  base_sha256: string
  base_version: string | null
  state: string
  offered: boolean
  fraction: number | null
  failures: number
}

/**
 * The release's patches once none is still building, as an operator reads them. Builds run in the
 * server's worker thread; this waits on what the server says, not on a timer.
 */
export async function settledPatches(server: RunningServer, operator: string, version: string): Promise<PatchSummary[]> {
  for (let i = 0; i < 1200; i++) {
    const view = await getJson<{ delta: { patches: PatchSummary[] } }>(server, `/v1/releases/esp32cam/${version}`, operator)
    const patches = view.body.delta.patches
    if (!patches.some((p) => p.state === 'building')) return patches
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`patches to ${version} still building after two minutes`)
}

/** Three releases of esp32cam, each a small code change of the one before, as real releases are. */
export async function releases(server: RunningServer, operator: string) {
  const first = buildEspImage({ version: 'mason', size: 120_000 })
  const second = reviseEspImage(first, (code) => smallCodeChange(code, 2))
  const third = reviseEspImage(second, (code) => smallCodeChange(code, 3))
  const mason = await publishRelease(server, { version: 'mason', sequence: 1, image: first })
  const carder = await publishRelease(server, { version: 'carder', sequence: 2, image: second })
  await settledPatches(server, operator, 'carder')
  return { mason, carder, leafcutter: async () => publishRelease(server, { version: 'leafcutter', sequence: 3, image: third }) }
}

export async function startDeltaServer(t: Test, env: Record<string, string> = {}) {
  const server = await startServer(t, { ...FLEET_ENV, ...env })
  const operator = await createToken(server.dataDir, 'operator', 'ops')
  return { server, operator }
}

