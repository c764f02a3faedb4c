-- The change feed (src/db/change-feed.ts): a commit that changes what the device endpoints or the
-- authentication read from a cache notifies every instance, with the table's name, once per
-- statement. NOTIFY is delivered at commit, and not at all on rollback.
CREATE FUNCTION ota_gate_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ota_gate_changes', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

-- The tables whose rows the instances cache (plans, pins, policies, tokens, keys, boards,
-- revocations, delta patches), each with a trigger named <table>_changed.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['releases', 'rollouts', 'rollout_policies', 'channel_rollbacks', 'device_pins',
                           'tokens', 'release_keys', 'boards', 'device_revocations', 'delta_patches'] LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION ota_gate_notify_change()', t || '_changed', t);
  END LOOP;
END
$$;
