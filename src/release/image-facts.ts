import type { EspImage } from '../esp/esp-image'

/** What a release records about its binary, from the image header and its esp_app_desc_t. */
export interface ReleaseImageFacts {
  chip: string | null
  project_name: string
  app_version: string
  idf_version: string
  secure_version: number
  build_date: string
  build_time: string
}

/**
 * The image facts stored with a release (columns of `releases`). One function for the server's
 * publish and for `release verify`, which shows what the server would record.
 */
export function releaseImageFacts(image: EspImage): ReleaseImageFacts {
  return {
    chip: image.chip ?? null,
    project_name: image.app.projectName,
    app_version: image.app.version,
    idf_version: image.app.idfVersion,
    secure_version: image.app.secureVersion,
    build_date: image.app.compileDate,
    build_time: image.app.compileTime,
  }
}
