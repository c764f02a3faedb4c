-- The field fleet (/firmware.json, /firmware.app.bin) sends no identity: its clients are counted per
-- address and user agent (legacy_clients, migration 001). This adds which release each such client
-- downloaded whole, and when, so that operators see the fleet in the field converge.
CREATE TABLE legacy_downloads (
  address    TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  release_id INTEGER NOT NULL REFERENCES releases (id),
  first_at   INTEGER NOT NULL,
  last_at    INTEGER NOT NULL,
  downloads  INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (address, user_agent, release_id)
);
CREATE INDEX legacy_downloads_release ON legacy_downloads (release_id);
CREATE INDEX legacy_clients_last_seen ON legacy_clients (last_seen);
