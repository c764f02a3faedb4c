-- SQLite migration 009's indexes on PostgreSQL: polls that mostly only prove a device alive.

-- Every check-in moves last_seen, and an index on it keeps PostgreSQL from updating the row in
-- place (a HOT update): devices_channel_last_seen (board, channel, last_seen) serves the
-- `seen_within` listings one range per board and channel, so last_seen alone goes.
DROP INDEX IF EXISTS devices_last_seen;

-- A page of the devices on one version walks (board, channel, version) in device order; it serves
-- everything devices_version (board, channel, version, sequence) served, which it replaces.
CREATE INDEX devices_version_device ON devices (board, channel, version, device);
DROP INDEX IF EXISTS devices_version;
