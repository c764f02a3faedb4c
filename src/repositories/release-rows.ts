// A release as stored: the row every layer reads. Apart from the repository that writes it, so
// that the rollout modules the repository calls can name it without importing the repository back.
export type Provenance = 'verified' | 'attested' | 'imported'

/** A row of the releases table. `sha256`, `size`, `md5` are null for an imported historical release. */
export interface Release {
  id: number
  board: string
  channel: string
  version: string
  sequence: number
  sha256: string | null
  size: number | null
  md5: string | null
  tag: string
  commit_sha: string
  signature: string | null
  key_id: string | null
  provenance: Provenance
  chip: string | null
  project_name: string | null
  app_version: string | null
  idf_version: string | null
  secure_version: number | null
  build_date: string | null
  build_time: string | null
  notes: string | null
  published_by: string | null
  created_at: number
}

export type NewRelease = Omit<Release, 'id' | 'created_at'> & { created_at?: number }
