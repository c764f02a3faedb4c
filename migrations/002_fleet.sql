-- The fleet: what devices report about updates, where each device stands with each release, and
-- device counts per running version kept current by triggers (GROUP BY over a million devices is
-- too slow for the fleet view).

-- What devices say about an update, as they said it.
CREATE TABLE reports (
  id         INTEGER PRIMARY KEY,
  device     TEXT NOT NULL REFERENCES devices (device),
  status     TEXT NOT NULL CHECK (status IN ('downloading', 'downloaded', 'installed', 'booted', 'failed', 'rolled_back')),
  version    TEXT NOT NULL,
  sequence   INTEGER NOT NULL,
  detail     TEXT,
  release_id INTEGER REFERENCES releases (id), -- the device's board + version, when such a release exists
  at         INTEGER NOT NULL
);
CREATE INDEX reports_device ON reports (device, id);

-- One row per device and release it was offered or reported about: when it first reached each
-- state. from_version is what the device ran when the row began, so a later check-in on that
-- version after taking the release is recognised as a rollback even when the device says nothing.
CREATE TABLE device_releases (
  release_id      INTEGER NOT NULL REFERENCES releases (id),
  device          TEXT NOT NULL REFERENCES devices (device),
  from_version    TEXT NOT NULL,
  from_sequence   INTEGER NOT NULL,
  offered_at      INTEGER,
  downloading_at  INTEGER,
  downloaded_at   INTEGER,
  installed_at    INTEGER,
  booted_at       INTEGER, -- seen running the release: by a check-in on its version or a booted report
  failed_at       INTEGER,
  rolled_back_at  INTEGER,
  rollback_silent INTEGER NOT NULL DEFAULT 0 CHECK (rollback_silent IN (0, 1)),
  PRIMARY KEY (release_id, device)
) WITHOUT ROWID;
CREATE INDEX device_releases_device ON device_releases (device);
-- Releases a device has taken and not rolled back, by the version it left: every check-in probes
-- this small index with the version it runs.
CREATE INDEX device_releases_taken ON device_releases (device, from_version)
  WHERE rolled_back_at IS NULL
    AND (downloaded_at IS NOT NULL OR installed_at IS NOT NULL OR booted_at IS NOT NULL);

-- Stale counts per board and channel (devices_last_seen alone makes a board-filtered count read
-- every stale device's row).
CREATE INDEX devices_channel_last_seen ON devices (board, channel, last_seen);

-- Devices per running version. Triggers keep it exact whoever writes the devices table; they do
-- work only when a device's board, channel, version or sequence changes, not on every poll.
CREATE TABLE fleet_versions (
  board    TEXT NOT NULL,
  channel  TEXT NOT NULL,
  version  TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  devices  INTEGER NOT NULL CHECK (devices > 0),
  PRIMARY KEY (board, channel, version, sequence)
) WITHOUT ROWID;
CREATE INDEX fleet_versions_board_version ON fleet_versions (board, version);

INSERT INTO fleet_versions (board, channel, version, sequence, devices)
SELECT board, channel, version, sequence, count(*) FROM devices GROUP BY board, channel, version, sequence;

CREATE TRIGGER devices_count_insert AFTER INSERT ON devices
BEGIN
  INSERT INTO fleet_versions (board, channel, version, sequence, devices)
  VALUES (NEW.board, NEW.channel, NEW.version, NEW.sequence, 1)
  ON CONFLICT (board, channel, version, sequence) DO UPDATE SET devices = devices + 1;
END;

CREATE TRIGGER devices_count_update AFTER UPDATE OF board, channel, version, sequence ON devices
WHEN OLD.board IS NOT NEW.board OR OLD.channel IS NOT NEW.channel
  OR OLD.version IS NOT NEW.version OR OLD.sequence IS NOT NEW.sequence
BEGIN
  DELETE FROM fleet_versions
  WHERE board = OLD.board AND channel = OLD.channel AND version = OLD.version AND sequence = OLD.sequence AND devices = 1;
  UPDATE fleet_versions SET devices = devices - 1
  WHERE board = OLD.board AND channel = OLD.channel AND version = OLD.version AND sequence = OLD.sequence;
  INSERT INTO fleet_versions (board, channel, version, sequence, devices)
  VALUES (NEW.board, NEW.channel, NEW.version, NEW.sequence, 1)
  ON CONFLICT (board, channel, version, sequence) DO UPDATE SET devices = devices + 1;
END;

CREATE TRIGGER devices_count_delete AFTER DELETE ON devices
BEGIN
  DELETE FROM fleet_versions
  WHERE board = OLD.board AND channel = OLD.channel AND version = OLD.version AND sequence = OLD.sequence AND devices = 1;
  UPDATE fleet_versions SET devices = devices - 1
  WHERE board = OLD.board AND channel = OLD.channel AND version = OLD.version AND sequence = OLD.sequence;
END;
