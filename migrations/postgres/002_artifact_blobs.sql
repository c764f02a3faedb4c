-- Release binaries in the database, so that every instance serves every binary. Each is cut into
-- fixed-size chunks (the chunk size is recorded with it), so a byte range reads only the chunks
-- it covers and nothing is ever held whole in memory. A blob row is written in the same
-- transaction as the last chunk, after the bytes hashed to its digest: a row means complete bytes.
CREATE TABLE artifact_blobs (
  sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  md5         text NOT NULL CHECK (md5 ~ '^[0-9a-f]{32}$'),
  size        bigint NOT NULL CHECK (size >= 0),
  chunk_bytes integer NOT NULL CHECK (chunk_bytes > 0),
  created_at  BIGINT NOT NULL
);

CREATE TABLE artifact_chunks (
  sha256 text NOT NULL,
  seq    integer NOT NULL CHECK (seq >= 0),
  data   bytea NOT NULL,
  PRIMARY KEY (sha256, seq)
);
-- Chunks are large values: stored out of line, uncompressed (firmware does not compress much).
ALTER TABLE artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
