-- The change feed (004) for artifacts too: every instance holds the rows of the binaries it found
-- (src/repositories/postgres/catalog.ts), and an upload another instance prunes must not stay
-- "stored" there. Only deletions: a row is never updated, and a new one is read on its first miss.
CREATE TRIGGER artifacts_changed AFTER DELETE OR TRUNCATE ON artifacts
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();

-- New devices are counted once a statement, not once a row: a group commit inserts hundreds of
-- devices in one INSERT (src/repositories/postgres/devices.ts), and a row trigger upserted the same
-- fleet_versions row once for each of them. Updates and deletes stay counted by the row trigger.
CREATE FUNCTION fleet_versions_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fleet_versions AS f (board, channel, version, sequence, devices, verified)
  SELECT board, channel, version, sequence, count(*), sum(verified) FROM inserted
  GROUP BY board, channel, version, sequence ORDER BY board, channel, version, sequence
  ON CONFLICT (board, channel, version, sequence) DO UPDATE SET devices = f.devices + excluded.devices, verified = f.verified + excluded.verified;
  RETURN NULL;
END $$;
DROP TRIGGER devices_count ON devices;
CREATE TRIGGER devices_count AFTER DELETE OR UPDATE OF board, channel, version, sequence, verified ON devices
  FOR EACH ROW EXECUTE FUNCTION fleet_versions_count();
CREATE TRIGGER devices_count_inserted AFTER INSERT ON devices REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION fleet_versions_count_inserted();
