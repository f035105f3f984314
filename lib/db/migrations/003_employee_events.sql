-- Onboarding and offboarding by HR CloudEvents: who the employee is, accounts that are
-- invited or disabled without a password, and the deliveries already processed.
ALTER TABLE users
  ADD COLUMN email        TEXT,
  ADD COLUMN display_name TEXT;

-- A departed employee who never had an account still gets a disabled row, so the
-- username cannot be self-registered afterwards.
ALTER TABLE users
  DROP CONSTRAINT users_password_unless_invited,
  ADD CONSTRAINT users_password_unless_invited_or_disabled
    CHECK (status IN ('invited', 'disabled') OR password_hash IS NOT NULL);

-- At-least-once delivery: an event is identified by source + id. It is recorded in the
-- transaction that applies it; a redelivery only counts.
CREATE TABLE processed_events (
  source        TEXT NOT NULL,
  id            TEXT NOT NULL,
  type          TEXT NOT NULL,
  username      TEXT NOT NULL,
  first_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  deliveries    INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (source, id)
);
