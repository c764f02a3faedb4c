-- SQLite migration 011 on PostgreSQL: whether a device has an accepted key is read from memory on
-- every poll (src/fleet/enrolled-devices.ts). The change feed tells every instance of a key decision
-- at its commit; the counter, re-read at most once a second, covers the time the feed is away.
ALTER TABLE device_auth ADD COLUMN keys_generation BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION device_keys_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE device_auth SET keys_generation = keys_generation + 1;
  RETURN NULL;
END $$;
CREATE TRIGGER device_keys_gen AFTER INSERT OR UPDATE OF state OR DELETE ON device_keys
  FOR EACH STATEMENT EXECUTE FUNCTION device_keys_generation_bump();
CREATE TRIGGER device_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON device_keys
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
