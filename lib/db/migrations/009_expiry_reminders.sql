-- Expiry reminders already published (contract §11): one per account, credential
-- generation (the password's created_at: a renewal starts a new one) and threshold, so
-- ticks running at once or again publish each reminder once.
CREATE TABLE expiry_reminders (
  username   TEXT NOT NULL,
  generation TIMESTAMPTZ NOT NULL,
  threshold  INTERVAL NOT NULL,
  sent_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (username, generation, threshold)
);
