-- The change feed (004) for artifacts too: every instance holds the rows of the binaries it found
-- (src/repositories/postgres/catalog.ts), and an upload another instance prunes must not stay
-- "stored" there. Only deletions: a row is never updated, and a new one is read on its first miss.
CREATE TRIGGER artifacts_changed AFTER DELETE OR TRUNCATE ON artifacts
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
