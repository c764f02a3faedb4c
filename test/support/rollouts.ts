import type { Target } from './http'
import { pollManifest } from './manifest-poll'
import { createToken, type RunningServer } from './server'

/** What /v1/manifest offers a device, as the parts rollout tests look at. */
export interface Offer {
  status: number
  version: string | null
  sequence: number | null
  allowDowngrade: boolean | null
}

/** One manifest poll naming the device and what it runs; resolves to the offered release. */
export async function offerFor(
  server: Target,
  device: string,
  runs: { version: string; sequence: number },
  opts: { board?: string; channel?: string } = {}
): Promise<Offer> {
  const { status, manifest } = await pollManifest(server, { ...opts, device, ...runs })
  return { status, version: manifest.version ?? null, sequence: manifest.sequence ?? null, allowDowngrade: manifest.allow_downgrade ?? null }
}

/** An operator token of the server, named `name` (the audit log records it). */
export function operatorToken(server: Pick<RunningServer, 'dataDir'>, name = 'ops-alice'): Promise<string> {
  return createToken(server.dataDir, 'operator', name)
}
