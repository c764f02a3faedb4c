import { VERSION_FORM } from '../schemas/common'
import type { Target } from '../fleet/target'
import { isBuiltAt } from '../release/factory-statement'

/** The largest app_size the field firmware's parser accepts (its board slot is 1,966,080 bytes). */
export const FIELD_FIRMWARE_MAX_APP_SIZE = 1_900_000
// What the field firmware parses: a version of at most 31 characters that needs no JSON escape.

/**
 * The body of /firmware.json, the manifest the ESP32-CAM fleet already in the field reads:
 * exactly version, sequence, app_md5, app_size and allow_downgrade. When the release carries a
 * factory image, also its `md5` and `built_at` for the homepage's browser installer, in the order
 * the seed's build writes them (version, md5, built_at, app_md5, app_size, sequence,
 * allow_downgrade). Throws when the release breaks
 * one of the firmware's parsing rules, which the release gate and chooseTarget's size limit make
 * impossible: serving it anyway would make every device skip the update silently.
 */
export function fieldManifestBody(target: Target, factory?: { md5: string; built_at: string }): Buffer {
  const r = target.release
  const problems = [
    factory === undefined || /^[0-9a-f]{32}$/.test(factory.md5) ? null : `factory md5 "${factory.md5}" is not 32 lowercase hex`,
    factory === undefined || isBuiltAt(factory.built_at) ? null : `built_at "${factory.built_at}" is not YYYY-MM-DDTHH:MM:SSZ`,
    VERSION_FORM.test(r.version) ? null : `version "${r.version}" is not a plain label of at most 31 characters`,
    /^[0-9a-f]{32}$/.test(r.md5) ? null : `md5 "${r.md5}" is not 32 lowercase hex`,
    r.size >= 1 && r.size <= FIELD_FIRMWARE_MAX_APP_SIZE ? null : `size ${r.size} is outside 1…${FIELD_FIRMWARE_MAX_APP_SIZE}`,
    Number.isInteger(r.sequence) && r.sequence >= 1 && r.sequence <= 0xffffffff ? null : `sequence ${r.sequence} is not a uint32 above 0`,
  ].filter((p): p is string => p !== null)
  if (problems.length > 0) {
    throw new Error(`release ${r.board}/${r.version} cannot be described to the field firmware: ${problems.join('; ')}`)
  }
  // At most about 230 bytes with these rules, well inside the firmware's 1024.
  const body = factory
    ? {
        version: r.version,
        md5: factory.md5,
        built_at: factory.built_at,
        app_md5: r.md5,
        app_size: r.size,
        sequence: r.sequence,
        allow_downgrade: target.allowDowngrade,
      }
    : { version: r.version, sequence: r.sequence, app_md5: r.md5, app_size: r.size, allow_downgrade: target.allowDowngrade }
  return Buffer.from(JSON.stringify(body), 'utf8')
}
