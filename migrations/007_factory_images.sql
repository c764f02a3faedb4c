-- A release's factory image: the whole flash (bootloader, partition table, otadata, the release's
-- application) that a browser installer writes to a new module, signed by the release key over
-- its own statement. At most one per release, recorded with the release in one transaction.
CREATE TABLE factory_images (
  release_id INTEGER PRIMARY KEY REFERENCES releases (id),
  sha256     TEXT NOT NULL REFERENCES artifacts (sha256),
  size       INTEGER NOT NULL,
  md5        TEXT NOT NULL,
  built_at   TEXT NOT NULL, -- ISO 8601 UTC as signed (YYYY-MM-DDTHH:MM:SSZ), served as /firmware.json's built_at
  signature  TEXT NOT NULL,
  key_id     TEXT NOT NULL REFERENCES release_keys (key_id),
  app_offset INTEGER NOT NULL, -- where the application sits (the partition the first boot runs)
  flash_size INTEGER NOT NULL, -- bytes, from the bootloader header
  created_at INTEGER NOT NULL
);
