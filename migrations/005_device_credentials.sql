-- Device credentials (Mender-style admission): each device proves who it is with a P-256 key the
-- server has accepted, then with a short-lived token the server checks with an HMAC. What devices
-- without a credential say is kept apart (devices.verified = 0) and never steers a rollout.

-- The keys devices enrolled with. A device may have several rows (a new key waiting while the old
-- one works) but at most one accepted key.
CREATE TABLE device_keys (
  device       TEXT NOT NULL,  -- 12 lowercase hex (the MAC)
  key_id       TEXT NOT NULL,  -- first 16 hex of SHA-256 of the DER SubjectPublicKeyInfo
  public_key   BLOB NOT NULL,  -- DER SubjectPublicKeyInfo of a P-256 key
  board        TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected', 'revoked', 'replaced')),
  requested_at INTEGER NOT NULL,
  address      TEXT,           -- where the enrollment came from
  decided_at   INTEGER,
  decided_by   TEXT,           -- a token name, 'enrollment:<name>', 'allow-list' or 'rotation'
  PRIMARY KEY (device, key_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX device_keys_accepted ON device_keys (device) WHERE state = 'accepted';
CREATE INDEX device_keys_pending ON device_keys (requested_at) WHERE state = 'pending';

-- Device ids accepted at once when they enroll (a factory's list of MACs).
CREATE TABLE device_allowlist (
  device   TEXT PRIMARY KEY, -- 12 lowercase hex
  added_at INTEGER NOT NULL,
  added_by TEXT NOT NULL,
  note     TEXT
) WITHOUT ROWID;

-- Secrets baked into a batch's factory image: a device enrolling with one is accepted at once.
CREATE TABLE enrollment_tokens (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  hash       TEXT NOT NULL UNIQUE, -- SHA-256 of the token; the token itself is never stored
  max_uses   INTEGER CHECK (max_uses >= 1),
  uses       INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
  expires_at INTEGER,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  revoked_at INTEGER
);
CREATE UNIQUE INDEX enrollment_tokens_active_name ON enrollment_tokens (name) WHERE revoked_at IS NULL;

-- The HMAC secret device tokens are signed with, in the database so that every instance sharing
-- it agrees, and a generation that moves whenever a device's tokens are revoked.
CREATE TABLE device_auth (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  secret     BLOB NOT NULL CHECK (length(secret) = 32),
  generation INTEGER NOT NULL
);
INSERT INTO device_auth (id, secret, generation) VALUES (1, randomblob(32), 0);

-- Device tokens issued before not_before are refused: a revoked device's tokens stop working.
CREATE TABLE device_revocations (
  device     TEXT PRIMARY KEY,
  not_before INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER device_revocations_gen_insert AFTER INSERT ON device_revocations BEGIN UPDATE device_auth SET generation = generation + 1; END;
CREATE TRIGGER device_revocations_gen_update AFTER UPDATE ON device_revocations BEGIN UPDATE device_auth SET generation = generation + 1; END;
CREATE TRIGGER device_revocations_gen_delete AFTER DELETE ON device_revocations BEGIN UPDATE device_auth SET generation = generation + 1; END;

-- Whether the device's check-ins come with its token. Rows written before credentials existed
-- were never proven.
ALTER TABLE devices ADD COLUMN verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1));
ALTER TABLE reports ADD COLUMN verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1));

-- Devices per running version, now with how many of them are verified.
ALTER TABLE fleet_versions ADD COLUMN verified INTEGER NOT NULL DEFAULT 0 CHECK (verified >= 0);

DROP TRIGGER IF EXISTS devices_count_insert;
DROP TRIGGER IF EXISTS devices_count_update;
DROP TRIGGER IF EXISTS devices_count_delete;

CREATE TRIGGER devices_count_insert AFTER INSERT ON devices
BEGIN
  INSERT INTO fleet_versions (board, channel, version, sequence, devices, verified)
  VALUES (NEW.board, NEW.channel, NEW.version, NEW.sequence, 1, NEW.verified)
  ON CONFLICT (board, channel, version, sequence) DO UPDATE SET devices = devices + 1, verified = verified + excluded.verified;
END;

CREATE TRIGGER devices_count_update AFTER UPDATE OF board, channel, version, sequence, verified ON devices
WHEN OLD.board IS NOT NEW.board OR OLD.channel IS NOT NEW.channel
  OR OLD.version IS NOT NEW.version OR OLD.sequence IS NOT NEW.sequence OR OLD.verified IS NOT NEW.verified
BEGIN
  DELETE FROM fleet_versions
  WHERE board = OLD.board AND channel = OLD.channel AND version = OLD.version AND sequence = OLD.sequence AND devices = 1;
  UPDATE fleet_versions SET devices = devices - 1, verified = verified - OLD.verified
  WHERE board = OLD.board AND channel = OLD.channel AND version = OLD.version AND sequence = OLD.sequence;
  INSERT INTO fleet_versions (board, channel, version, sequence, devices, verified)
  VALUES (NEW.board, NEW.channel, NEW.version, NEW.sequence, 1, NEW.verified)
  ON CONFLICT (board, channel, version, sequence) DO UPDATE SET devices = devices + 1, verified = verified + excluded.verified;
END;

CREATE TRIGGER devices_count_delete AFTER DELETE ON devices
BEGIN
  DELETE FROM fleet_versions
  WHERE board = OLD.board AND channel = OLD.channel AND version = OLD.version AND sequence = OLD.sequence AND devices = 1;
  UPDATE fleet_versions SET devices = devices - 1, verified = verified - OLD.verified
  WHERE board = OLD.board AND channel = OLD.channel AND version = OLD.version AND sequence = OLD.sequence;
END;
