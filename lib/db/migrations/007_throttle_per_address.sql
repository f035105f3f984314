-- Sign-in throttling keyed so that an attacker cannot lock an employee out from elsewhere
-- (contract §6, issue 15 item 3): three counters instead of one per username.
--
-- auth_throttle: per username and client address, 5 consecutive failures lock that
-- address out of that username (30 s doubling to 15 min).
-- auth_throttle_username: per username, all addresses: 100 consecutive failures lock the
-- username everywhere (15 min doubling to 24 h).
-- auth_throttle_address: per client address, all usernames: the times of its failures in
-- the last 15 minutes (password spraying: more than 50 lock the address).

-- The old per-username rows become the ceiling's: their failures still count towards it,
-- and a lock in force stays in force until it lapses rather than lifting mid-attack.
CREATE TABLE auth_throttle_username (
  username     TEXT PRIMARY KEY,
  failures     INTEGER NOT NULL,
  locked_until TIMESTAMPTZ
);
INSERT INTO auth_throttle_username (username, failures, locked_until)
SELECT username, failures, locked_until FROM auth_throttle;

DROP TABLE auth_throttle;
CREATE TABLE auth_throttle (
  username       TEXT NOT NULL,
  client_address TEXT NOT NULL,
  failures       INTEGER NOT NULL,
  locked_until   TIMESTAMPTZ,
  PRIMARY KEY (username, client_address)
);
-- (The primary key's index, username first, also serves look-ups by username alone.)

CREATE TABLE auth_throttle_address (
  client_address TEXT PRIMARY KEY,
  -- Ascending; only those within the window are kept at each new failure.
  failed_at      TIMESTAMPTZ[] NOT NULL
);
