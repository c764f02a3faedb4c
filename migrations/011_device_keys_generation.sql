-- Whether a device has an accepted key is read from memory on every poll (src/fleet/enrolled-devices.ts).
-- Every instance re-reads this counter at most once a second and drops what it holds when it moved:
-- a key accepted, rejected, revoked or replaced through another instance (or the CLI) is known here
-- within that second. Key decisions are rare; polls are not.
ALTER TABLE device_auth ADD COLUMN keys_generation INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER device_keys_gen_insert AFTER INSERT ON device_keys BEGIN UPDATE device_auth SET keys_generation = keys_generation + 1; END;
CREATE TRIGGER device_keys_gen_update AFTER UPDATE OF state ON device_keys BEGIN UPDATE device_auth SET keys_generation = keys_generation + 1; END;
CREATE TRIGGER device_keys_gen_delete AFTER DELETE ON device_keys BEGIN UPDATE device_auth SET keys_generation = keys_generation + 1; END;
