-- The audit trail and the transactional outbox of identity events (contract §11).
--
-- audit_log is append-only: a record is written in the transaction of the change it
-- describes (or alone, for a refusal) and never changed; only housekeeping deletes records
-- older than AUDIT_RETENTION. Never a secret, token, password, code or hash in `details`.
CREATE TABLE audit_log (
  id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  time           TIMESTAMPTZ NOT NULL DEFAULT now(),
  type           TEXT NOT NULL,
  username       TEXT,
  actor          TEXT NOT NULL,
  request_id     TEXT,
  client_address TEXT,
  details        JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_username_time ON audit_log (username, time);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Identity events waiting for the broker: written with the audit record (same id, the
-- CloudEvent id), sent after the commit, retried with backoff until the sink answers 2xx.
CREATE TABLE outbox (
  id              UUID PRIMARY KEY REFERENCES audit_log (id) ON DELETE CASCADE,
  type            TEXT NOT NULL,
  source          TEXT NOT NULL,
  subject         TEXT NOT NULL,
  data            JSONB NOT NULL,
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  delivered_at    TIMESTAMPTZ
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
