-- Times are milliseconds since the Unix epoch (UTC); the API renders them as ISO 8601.

CREATE TABLE boards (
  name       TEXT PRIMARY KEY,
  chip       TEXT NOT NULL,
  chip_id    INTEGER NOT NULL,
  slot_size  INTEGER NOT NULL CHECK (slot_size > 0),
  created_at INTEGER NOT NULL
);
-- AI-Thinker ESP32-CAM with the min_spiffs partition table: two app slots of 0x1E0000 bytes.
INSERT INTO boards (name, chip, chip_id, slot_size, created_at)
VALUES ('esp32cam', 'esp32', 0, 1966080, CAST(unixepoch('subsec') * 1000 AS INTEGER));

CREATE TABLE tokens (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('releaser', 'operator', 'admin')),
  hash         TEXT NOT NULL UNIQUE, -- SHA-256 of the token; the token itself is never stored
  created_at   INTEGER NOT NULL,
  revoked_at   INTEGER,
  last_used_at INTEGER
);
CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE release_keys (
  key_id         TEXT PRIMARY KEY, -- first 16 hex of SHA-256 of the DER SubjectPublicKeyInfo
  name           TEXT NOT NULL,
  public_key_pem TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  retired_at     INTEGER
);

-- Bytes live in the artifact store, addressed by sha256; this row is written only after the
-- file is durably in place.
CREATE TABLE artifacts (
  sha256     TEXT PRIMARY KEY,
  md5        TEXT NOT NULL,
  size       INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE releases (
  id             INTEGER PRIMARY KEY,
  board          TEXT NOT NULL REFERENCES boards (name),
  channel        TEXT NOT NULL,
  version        TEXT NOT NULL,
  sequence       INTEGER NOT NULL CHECK (sequence BETWEEN 1 AND 4294967295),
  sha256         TEXT REFERENCES artifacts (sha256), -- NULL for an imported historical release
  size           INTEGER,
  md5            TEXT,
  tag            TEXT NOT NULL,
  commit_sha     TEXT NOT NULL,
  signature      TEXT,
  key_id         TEXT REFERENCES release_keys (key_id),
  provenance     TEXT NOT NULL CHECK (provenance IN ('verified', 'attested', 'imported')),
  chip           TEXT,
  project_name   TEXT,
  app_version    TEXT,
  idf_version    TEXT,
  secure_version INTEGER,
  build_date     TEXT,
  build_time     TEXT,
  notes          TEXT,
  published_by   TEXT,
  created_at     INTEGER NOT NULL,
  UNIQUE (board, sequence),
  UNIQUE (board, version),
  UNIQUE (board, tag)
);
CREATE UNIQUE INDEX releases_board_binary ON releases (board, sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX releases_board_channel_seq ON releases (board, channel, sequence);

-- One row per device, updated on every poll.
CREATE TABLE devices (
  device       TEXT PRIMARY KEY, -- 12 lowercase hex (the MAC)
  board        TEXT NOT NULL,
  channel      TEXT NOT NULL,
  version      TEXT NOT NULL,
  sequence     INTEGER NOT NULL,
  address      TEXT,
  user_agent   TEXT,
  free_space   INTEGER,
  sketch_md5   TEXT,
  first_seen   INTEGER NOT NULL,
  last_seen    INTEGER NOT NULL,
  polls        INTEGER NOT NULL DEFAULT 1,
  last_offered INTEGER REFERENCES releases (id), -- the release the last poll was offered, if any
  note         TEXT -- why the device cannot take its target (e.g. too little free space)
);
CREATE INDEX devices_version ON devices (board, channel, version, sequence);
CREATE INDEX devices_last_seen ON devices (last_seen);

-- A row only when what the device runs changes, so history shows every version change without
-- growing with every poll.
CREATE TABLE device_history (
  id       INTEGER PRIMARY KEY,
  device   TEXT NOT NULL REFERENCES devices (device),
  board    TEXT NOT NULL,
  channel  TEXT NOT NULL,
  version  TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  at       INTEGER NOT NULL
);
CREATE INDEX device_history_device ON device_history (device, id);

-- Devices of the field fleet send no identity: count their polls per address and user agent.
CREATE TABLE legacy_clients (
  address    TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL,
  polls      INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (address, user_agent)
);
