-- A challenge buys one device token. Its nonce is kept until the challenge expires, so that a signed
-- answer seen on its way (over plain HTTP, in a proxy's log) cannot be traded for another token.
CREATE TABLE used_challenges (
  nonce TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX used_challenges_expiry ON used_challenges (expires_at);
