-- The seed's table, exactly as its handlers use it. On a database the seed already
-- populated this changes nothing; later migrations upgrade it in place.
CREATE TABLE IF NOT EXISTS users (
  username      TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  mfa_secret    TEXT,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  expired       BOOLEAN NOT NULL DEFAULT FALSE
);
