-- Delta updates (esp_delta_ota): patches from earlier releases of a board to a release, what devices
-- run, which delta offers they took and which failed, and the per-board switch.

-- One row per (base binary, target binary) pair the server has set out to build. The patch bytes
-- live in the artifact store under `sha256`, like release binaries.
CREATE TABLE delta_patches (
  base_sha256   TEXT NOT NULL,    -- whole-file SHA-256 of the base release's binary
  target_sha256 TEXT NOT NULL,    -- whole-file SHA-256 of the target release's binary
  board         TEXT NOT NULL REFERENCES boards (name),
  state         TEXT NOT NULL CHECK (state IN ('building', 'ready', 'failed')),
  sha256        TEXT,             -- of the patch file as served (64-byte header + detools patch)
  size          INTEGER,
  build_ms      INTEGER,
  error         TEXT,             -- why a build failed
  disabled_at   INTEGER,          -- switched off for everyone after too many failed applies
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (base_sha256, target_sha256)
) WITHOUT ROWID;
CREATE INDEX delta_patches_target ON delta_patches (target_sha256);

-- A device that reported a failed delta apply (report status delta_failed, kept here rather than in
-- reports, whose status list other migrations extend): it gets the full image of that target from then on.
-- verified: the report came with the device's token; with device credentials on, only those count
-- toward switching the patch off for everyone.
CREATE TABLE delta_failures (
  device        TEXT NOT NULL REFERENCES devices (device),
  base_sha256   TEXT NOT NULL,
  target_sha256 TEXT NOT NULL,
  detail        TEXT,
  at            INTEGER NOT NULL,
  verified      INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
  PRIMARY KEY (base_sha256, target_sha256, device)
) WITHOUT ROWID;

-- The SHA-256 of the image a device runs, as its last delta-capable poll said.
ALTER TABLE devices ADD COLUMN running_sha256 TEXT;
-- The delta a device was last offered with a release: with booted_at, what deltas saved.
ALTER TABLE device_releases ADD COLUMN delta_base TEXT;
ALTER TABLE device_releases ADD COLUMN delta_size INTEGER;
-- Savings are summed over devices that took a delta and run the release: few rows of many.
CREATE INDEX device_releases_delta ON device_releases (release_id) WHERE delta_base IS NOT NULL AND booted_at IS NOT NULL;
-- Operators turn deltas off per board.
ALTER TABLE boards ADD COLUMN delta_enabled INTEGER NOT NULL DEFAULT 1 CHECK (delta_enabled IN (0, 1));
