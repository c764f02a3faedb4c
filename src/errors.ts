// Every refusal the API makes has a stable code from this module; clients branch on `error`,
// people read `message`.
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'no_release'
  | 'artifact_not_found'
  | 'release_not_found'
  | 'device_not_found'
  | 'board_not_found'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'digest_mismatch'
  | 'sequence_not_increasing'
  | 'version_exists'
  | 'tag_exists'
  | 'binary_exists'
  | 'version_in_field'
  | 'conflict'
  | 'import_conflict'
  | 'current_mismatch'
  | 'rollout_conflict'
  | 'pin_not_found'
  | 'signature_invalid'
  | 'unknown_key'
  | 'key_retired'
  | 'image_invalid'
  | 'chip_mismatch'
  | 'too_large_for_slot'
  | 'provenance_failed'
  | 'no_factory_image'
  | 'factory_signature_invalid'
  | 'factory_bootloader_invalid'
  | 'factory_bootloader_chip_mismatch'
  | 'factory_partition_table_invalid'
  | 'factory_partition_table_md5_mismatch'
  | 'factory_no_otadata'
  | 'factory_too_few_ota_slots'
  | 'factory_ota_slot_too_small'
  | 'factory_app_mismatch'
  | 'factory_too_large_for_flash'
  | 'range_not_satisfiable'
  | 'precondition_failed'
  | 'rate_limited'
  | 'overloaded'
  | 'internal_error'
  | 'device_token_required'
  | 'device_token_invalid'
  | 'device_token_expired'
  | 'device_not_enrolled'
  | 'device_pending'
  | 'device_rejected'
  | 'device_revoked'
  | 'enrollment_token_invalid'
  | 'enrollment_not_found'
  | 'key_invalid'
  | 'challenge_invalid'
  | 'too_many_pending'
  | 'request_timeout'
  | 'headers_too_large'
  | 'expectation_failed'
  | 'insufficient_storage'
  | 'database_unavailable'
  | 'uri_too_long'

/**
 * A refusal: what the request asked is not done, for a reason named by `code` and explained by
 * `message`. Domain code throws it without knowing HTTP; the error handler plugin alone maps each
 * code to a status. `headers` go out with the answer (Retry-After, Content-Range); `details` are
 * extra fields of the JSON body beside `error` and `message`.
 */
export class Refusal extends Error {
  readonly headers: Record<string, string>
  readonly details: Record<string, unknown>

  constructor(
    readonly code: ErrorCode,
    message: string,
    extra: { headers?: Record<string, string>; details?: Record<string, unknown> } = {}
  ) {
    super(message)
    this.name = 'Refusal'
    this.headers = extra.headers ?? {}
    this.details = extra.details ?? {}
  }
}

/**
 * A failed health check: this instance should be taken out of rotation, for the reason its code
 * names. The error handler answers it with the one status load balancers and deploy.sh read as
 * "not serving", whatever the code's status elsewhere (a full disk refuses an upload with 507).
 */
export class Unhealthy extends Refusal {}

export const badRequest = (message: string) => new Refusal('bad_request', message)
export const unauthorized = (message: string) => new Refusal('unauthorized', message)
export const forbidden = (message: string) => new Refusal('forbidden', message)

/** The disk under the data folder is full: a file write (ENOSPC, EDQUOT) or SQLite (SQLITE_FULL) said so. */
export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL'
}

export const databaseUnavailable = (retryAfterSeconds: number) =>
  new Refusal('database_unavailable', `the database does not answer; nothing was changed. Try again in ${retryAfterSeconds} s`, {
    headers: { 'retry-after': String(retryAfterSeconds) },
  })

export const insufficientStorage = (what: string) =>
  new Refusal('insufficient_storage', `${what}: the server's disk is full; nothing was kept. Try again once the operator has freed space`)
