-- Account lifecycle: invited → pending → active (→ expired flag) / disabled, with the
-- tokens that tie one step to the next stored as SHA-256 digests only.

-- Invited accounts have no password yet.
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;

ALTER TABLE users
  ADD COLUMN status                TEXT,
  ADD COLUMN last_totp_step        INTEGER,
  ADD COLUMN enrollment_token_hash TEXT,
  ADD COLUMN enrollment_expires_at TIMESTAMPTZ,
  ADD COLUMN renewal_token_hash    TEXT,
  ADD COLUMN renewal_expires_at    TIMESTAMPTZ,
  ADD COLUMN invitation_token_hash TEXT,
  ADD COLUMN invitation_expires_at TIMESTAMPTZ,
  ADD COLUMN activated_at          TIMESTAMPTZ,
  ADD COLUMN disabled_at           TIMESTAMPTZ;

-- A seed row with a second factor is in use: active. One without never finished
-- enrolling: pending, with no enrollment window open, so a new password may be issued.
UPDATE users
   SET status = CASE WHEN mfa_secret IS NOT NULL THEN 'active' ELSE 'pending' END,
       activated_at = CASE WHEN mfa_secret IS NOT NULL THEN created_at END;

ALTER TABLE users
  ALTER COLUMN status SET NOT NULL,
  ALTER COLUMN status SET DEFAULT 'pending',
  ADD CONSTRAINT users_status_check CHECK (status IN ('invited', 'pending', 'active', 'disabled')),
  ADD CONSTRAINT users_password_unless_invited CHECK (status = 'invited' OR password_hash IS NOT NULL);

-- The seed stored usernames as typed; ours are trimmed, NFC and lower case. Rename the
-- rows whose normalised name no other row shares; the rest keep their name (and
-- cannot sign in until an operator merges them by hand).
WITH normalised AS (
  SELECT username, lower(btrim(normalize(username, NFC))) AS wanted FROM users
), unshared AS (
  SELECT wanted FROM normalised GROUP BY wanted HAVING count(*) = 1
)
UPDATE users u
   SET username = n.wanted
  FROM normalised n JOIN unshared USING (wanted)
 WHERE u.username = n.username AND n.username <> n.wanted;

-- Failed sign-ins per username (existing or not), shared by every replica.
CREATE TABLE auth_throttle (
  username     TEXT PRIMARY KEY,
  failures     INTEGER NOT NULL,
  locked_until TIMESTAMPTZ
);
