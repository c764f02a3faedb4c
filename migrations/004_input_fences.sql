-- Numbers that devices send are whole numbers in range. The API refuses anything else; these
-- triggers are the second fence, for whatever writes the database (SQLite cannot add a CHECK to an
-- existing table). First, rows already holding a value out of range (a poll with sequence=1e309
-- stored Infinity, which broke the fleet views) are repaired: an unknown sequence reads as 0 (what a
-- hand-built binary reports; the device's next poll sets its real one), an unknown free space as NULL.

UPDATE devices SET sequence = 0
WHERE typeof(sequence) <> 'integer' OR sequence NOT BETWEEN 0 AND 4294967295;
UPDATE devices SET free_space = NULL
WHERE free_space IS NOT NULL AND (typeof(free_space) <> 'integer' OR free_space NOT BETWEEN 0 AND 4294967295);
UPDATE device_history SET sequence = 0
WHERE typeof(sequence) <> 'integer' OR sequence NOT BETWEEN 0 AND 4294967295;
UPDATE reports SET sequence = 0
WHERE typeof(sequence) <> 'integer' OR sequence NOT BETWEEN 0 AND 4294967295;
UPDATE device_releases SET from_sequence = 0
WHERE typeof(from_sequence) <> 'integer' OR from_sequence NOT BETWEEN 0 AND 4294967295;

-- The per-version counts, rebuilt from the repaired devices.
DELETE FROM fleet_versions;
INSERT INTO fleet_versions (board, channel, version, sequence, devices)
SELECT board, channel, version, sequence, count(*) FROM devices GROUP BY board, channel, version, sequence;

CREATE TRIGGER devices_numbers_insert BEFORE INSERT ON devices
WHEN typeof(NEW.sequence) <> 'integer' OR NEW.sequence NOT BETWEEN 0 AND 4294967295
  OR (NEW.free_space IS NOT NULL AND (typeof(NEW.free_space) <> 'integer' OR NEW.free_space NOT BETWEEN 0 AND 4294967295))
BEGIN
  SELECT RAISE(ABORT, 'devices: sequence and free_space must be whole numbers from 0 to 4294967295');
END;

CREATE TRIGGER devices_numbers_update BEFORE UPDATE OF sequence, free_space ON devices
WHEN typeof(NEW.sequence) <> 'integer' OR NEW.sequence NOT BETWEEN 0 AND 4294967295
  OR (NEW.free_space IS NOT NULL AND (typeof(NEW.free_space) <> 'integer' OR NEW.free_space NOT BETWEEN 0 AND 4294967295))
BEGIN
  SELECT RAISE(ABORT, 'devices: sequence and free_space must be whole numbers from 0 to 4294967295');
END;

CREATE TRIGGER device_history_numbers BEFORE INSERT ON device_history
WHEN typeof(NEW.sequence) <> 'integer' OR NEW.sequence NOT BETWEEN 0 AND 4294967295
BEGIN
  SELECT RAISE(ABORT, 'device_history: sequence must be a whole number from 0 to 4294967295');
END;

CREATE TRIGGER reports_numbers BEFORE INSERT ON reports
WHEN typeof(NEW.sequence) <> 'integer' OR NEW.sequence NOT BETWEEN 0 AND 4294967295
BEGIN
  SELECT RAISE(ABORT, 'reports: sequence must be a whole number from 0 to 4294967295');
END;

CREATE TRIGGER device_releases_numbers BEFORE INSERT ON device_releases
WHEN typeof(NEW.from_sequence) <> 'integer' OR NEW.from_sequence NOT BETWEEN 0 AND 4294967295
BEGIN
  SELECT RAISE(ABORT, 'device_releases: from_sequence must be a whole number from 0 to 4294967295');
END;

-- Devices are served only binaries a release names: looked up by digest alone.
CREATE INDEX releases_sha256 ON releases (sha256) WHERE sha256 IS NOT NULL;
