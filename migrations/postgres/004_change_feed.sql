-- The change feed (src/db/change-feed.ts): a commit that changes what the device endpoints or the
-- authentication read from a cache notifies every instance, with the table's name, once per
-- statement. NOTIFY is delivered at commit, and not at all on rollback.
CREATE FUNCTION ota_gate_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ota_gate_changes', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

CREATE TRIGGER releases_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON releases
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
CREATE TRIGGER rollouts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rollouts
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
CREATE TRIGGER rollout_policies_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rollout_policies
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
CREATE TRIGGER channel_rollbacks_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON channel_rollbacks
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
CREATE TRIGGER device_pins_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON device_pins
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
CREATE TRIGGER tokens_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tokens
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
CREATE TRIGGER release_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON release_keys
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
CREATE TRIGGER boards_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON boards
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
CREATE TRIGGER device_revocations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON device_revocations
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
CREATE TRIGGER delta_patches_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON delta_patches
  FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change();
