-- Staged rollouts: how far each release reaches its channel, per board/channel policies, device
-- pins, channel rollbacks and the audit log of every change. The device endpoints read this state
-- from a cache that re-reads it when rollout_generation moves (triggers below bump it on every
-- change, whichever process makes it).

-- One row per published release with a binary. A release without a row (published before this
-- migration) counts as fully rolled out.
CREATE TABLE rollouts (
  release_id    INTEGER PRIMARY KEY REFERENCES releases (id),
  board         TEXT NOT NULL,
  channel       TEXT NOT NULL,
  percent       REAL NOT NULL CHECK (percent BETWEEN 0 AND 100),
  state         TEXT NOT NULL CHECK (state IN ('active', 'paused', 'halted', 'rolled_back')),
  started_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  halted_at     INTEGER,
  halted_reason TEXT, -- why the rollout stopped itself: the counts against the thresholds
  halt_failed   INTEGER,
  halt_tried    INTEGER
);
CREATE INDEX rollouts_channel ON rollouts (board, channel);

INSERT INTO rollouts (release_id, board, channel, percent, state, started_at, updated_at)
SELECT id, board, channel, 100, 'active', created_at, created_at FROM releases WHERE sha256 IS NOT NULL;

-- The devices that failed or rolled back a release, counted after each setback to decide on an
-- automatic halt: few rows, unlike the release's whole device_releases range.
CREATE INDEX device_releases_setbacks ON device_releases (release_id)
  WHERE failed_at IS NOT NULL OR rolled_back_at IS NOT NULL;

-- Per board and channel; a missing row or column means the defaults (100%, 5 devices, 20%).
CREATE TABLE rollout_policies (
  board           TEXT NOT NULL,
  channel         TEXT NOT NULL,
  default_percent REAL CHECK (default_percent BETWEEN 0 AND 100),
  halt_min_count  INTEGER CHECK (halt_min_count >= 1),
  halt_min_ratio  REAL CHECK (halt_min_ratio > 0 AND halt_min_ratio <= 1),
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (board, channel)
) WITHOUT ROWID;

-- While a row exists every device of the channel (but pinned ones) is offered this older release
-- with allow_downgrade; the next release published to the channel deletes it.
CREATE TABLE channel_rollbacks (
  board      TEXT NOT NULL,
  channel    TEXT NOT NULL,
  release_id INTEGER NOT NULL REFERENCES releases (id),
  at         INTEGER NOT NULL,
  PRIMARY KEY (board, channel)
) WITHOUT ROWID;

-- A device held on one release whatever its channel's rollout does.
CREATE TABLE device_pins (
  device     TEXT PRIMARY KEY, -- 12 lowercase hex
  board      TEXT NOT NULL,
  release_id INTEGER NOT NULL REFERENCES releases (id),
  pinned_at  INTEGER NOT NULL,
  pinned_by  TEXT NOT NULL,
  reason     TEXT
) WITHOUT ROWID;
CREATE INDEX device_pins_board ON device_pins (board);

-- Who changed what, when and why. actor is a token name, or 'system' for an automatic halt.
CREATE TABLE audit_log (
  id      INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  actor   TEXT NOT NULL,
  action  TEXT NOT NULL,
  board   TEXT,
  channel TEXT,
  version TEXT,
  device  TEXT,
  reason  TEXT,
  details TEXT -- JSON: what the action changed (percent from/to, counts, device lists)
);
CREATE INDEX audit_log_board ON audit_log (board, channel, id);

CREATE TABLE rollout_generation (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  n  INTEGER NOT NULL
);
INSERT INTO rollout_generation (id, n) VALUES (1, 0);

CREATE TRIGGER rollouts_gen_insert AFTER INSERT ON rollouts BEGIN UPDATE rollout_generation SET n = n + 1; END;
CREATE TRIGGER rollouts_gen_update AFTER UPDATE ON rollouts BEGIN UPDATE rollout_generation SET n = n + 1; END;
CREATE TRIGGER rollouts_gen_delete AFTER DELETE ON rollouts BEGIN UPDATE rollout_generation SET n = n + 1; END;
CREATE TRIGGER rollbacks_gen_insert AFTER INSERT ON channel_rollbacks BEGIN UPDATE rollout_generation SET n = n + 1; END;
CREATE TRIGGER rollbacks_gen_update AFTER UPDATE ON channel_rollbacks BEGIN UPDATE rollout_generation SET n = n + 1; END;
CREATE TRIGGER rollbacks_gen_delete AFTER DELETE ON channel_rollbacks BEGIN UPDATE rollout_generation SET n = n + 1; END;
CREATE TRIGGER pins_gen_insert AFTER INSERT ON device_pins BEGIN UPDATE rollout_generation SET n = n + 1; END;
CREATE TRIGGER pins_gen_update AFTER UPDATE ON device_pins BEGIN UPDATE rollout_generation SET n = n + 1; END;
CREATE TRIGGER pins_gen_delete AFTER DELETE ON device_pins BEGIN UPDATE rollout_generation SET n = n + 1; END;
-- A release inserted without going through the publish service (tests, tools) still shows up.
CREATE TRIGGER releases_gen_insert AFTER INSERT ON releases BEGIN UPDATE rollout_generation SET n = n + 1; END;
