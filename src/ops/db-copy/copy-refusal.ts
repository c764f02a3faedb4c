/** Why `db copy` did not copy, each a stable code. */
export type CopyRefusalCode =
  | 'source_missing'
  | 'source_not_migrated'
  | 'source_newer'
  | 'schema_mismatch'
  | 'target_not_empty'
  | 'server_key_mismatch'
  | 'artifact_missing'
  | 'artifact_damaged'
  | 'digest_mismatch'
  | 'count_mismatch'

/** The copy cannot be done as things are; `message` says what to do. Nothing was left that blocks a new run. */
export class CopyRefusal extends Error {
  override name = 'CopyRefusal'
  constructor(
    readonly code: CopyRefusalCode,
    message: string
  ) {
    super(message)
  }
}
