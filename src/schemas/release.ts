import { Type, type Static } from '@sinclair/typebox'
import type { FactoryImage } from '../repositories/factory-images'
import type { Release } from '../repositories/release-rows'
import { BoardName, ChannelName, CommitHex, Sequence, Sha256Hex, Version } from './common'
import { RolloutSummary } from './rollout'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

/** What the ESP application descriptor of the binary says (null for an imported release without binary). */
export const ReleaseImage = Type.Object({
  chip: Nullable(Type.String()),
  project_name: Nullable(Type.String()),
  app_version: Nullable(Type.String()),
  idf_version: Nullable(Type.String()),
  secure_version: Nullable(Type.Integer()),
  build_date: Nullable(Type.String()),
  build_time: Nullable(Type.String()),
})

/** A release's factory image: the merged flash image a browser installer writes to a new module. */
export const FactoryView = Type.Object({
  sha256: Sha256Hex,
  md5: Type.String(),
  size: Type.Integer(),
  built_at: Type.String({ description: 'ISO 8601 UTC, as signed and as /firmware.json serves it' }),
  signature: Type.String({ description: 'base64 DER ECDSA P-256/SHA-256 over the factory statement, by the release key' }),
  app_offset: Type.Integer({ description: 'flash offset of the application (the partition the first boot runs)' }),
  flash_size: Type.Integer({ description: 'bytes of flash the bootloader header declares' }),
})
export type FactoryView = Static<typeof FactoryView>

export function factoryView(f: FactoryImage): FactoryView {
  return {
    sha256: f.sha256,
    md5: f.md5,
    size: f.size,
    built_at: f.built_at,
    signature: f.signature,
    app_offset: f.app_offset,
    flash_size: f.flash_size,
  }
}

/** A release as the API renders it (GET /v1/releases…, POST /v1/releases). */
export const ReleaseView = Type.Object({
  id: Type.Integer(),
  board: BoardName,
  channel: ChannelName,
  version: Version,
  sequence: Sequence,
  sha256: Nullable(Sha256Hex),
  md5: Nullable(Type.String()),
  size: Nullable(Type.Integer()),
  has_binary: Type.Boolean(),
  tag: Type.String(),
  commit: CommitHex,
  signature: Nullable(Type.String()),
  key_id: Nullable(Type.String()),
  provenance: Type.Union([Type.Literal('verified'), Type.Literal('attested'), Type.Literal('imported')]),
  image: ReleaseImage,
  notes: Nullable(Type.String()),
  published_by: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  /** how far it reaches its channel; null for a historical release without binary */
  rollout: Type.Optional(Nullable(RolloutSummary)),
  /** its factory image, null when it has none */
  factory: Type.Optional(Nullable(FactoryView)),
})
export type ReleaseView = Static<typeof ReleaseView>

/** Renders a stored release for the API: ISO times, `commit`, image facts grouped under `image`. */
export function releaseView(r: Release, rollout?: RolloutSummary | null, factory?: FactoryImage | null): ReleaseView {
  return {
    id: r.id,
    board: r.board,
    channel: r.channel,
    version: r.version,
    sequence: r.sequence,
    sha256: r.sha256,
    md5: r.md5,
    size: r.size,
    has_binary: r.sha256 !== null,
    tag: r.tag,
    commit: r.commit_sha,
    signature: r.signature,
    key_id: r.key_id,
    provenance: r.provenance,
    image: {
      chip: r.chip,
      project_name: r.project_name,
      app_version: r.app_version,
      idf_version: r.idf_version,
      secure_version: r.secure_version,
      build_date: r.build_date,
      build_time: r.build_time,
    },
    notes: r.notes,
    published_by: r.published_by,
    created_at: new Date(r.created_at).toISOString(),
    ...(rollout === undefined ? {} : { rollout }),
    ...(factory === undefined ? {} : { factory: factory === null ? null : factoryView(factory) }),
  }
}
