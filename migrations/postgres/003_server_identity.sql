-- The public key manifests are signed with, recorded by the first instance that starts on the
-- database: every instance must sign with that key, or devices would get manifests that verify
-- under different keys depending on which instance answered.
CREATE TABLE server_identity (
  id             integer PRIMARY KEY CHECK (id = 1),
  key_id         text NOT NULL,
  public_key_pem text NOT NULL,
  recorded_at    BIGINT NOT NULL
);
