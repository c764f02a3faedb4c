import type { ServerIdentityRow } from '../repositories/server-identity'

/** The key this instance would sign with. */
export interface SigningKey {
  keyId: string
}

/**
 * Why this instance must not start, or undefined: several instances on one database sign
 * manifests with one key (the first one recorded there), whichever of them a device reaches.
 */
export function serverKeyMismatch(recorded: ServerIdentityRow, key: SigningKey): string | undefined {
  if (recorded.key_id === key.keyId) return undefined
  return (
    `this instance's server key (key id ${key.keyId}) is not the one the database records for signing manifests ` +
    `(key id ${recorded.key_id}, recorded ${new Date(recorded.recorded_at).toISOString()}): give every instance the same OTA_SERVER_KEY ` +
    `(the PEM of key ${recorded.key_id}); to change the key of the whole fleet on purpose, delete the row of server_identity first`
  )
}
