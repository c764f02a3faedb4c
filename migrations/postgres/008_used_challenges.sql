-- SQLite migration 012 on PostgreSQL: a challenge buys one device token; its nonce is kept until the
-- challenge expires, so that a signed answer seen on its way cannot be traded for another token.
CREATE TABLE used_challenges (
  nonce TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX used_challenges_expiry ON used_challenges (expires_at);
