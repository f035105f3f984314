-- Staged renewal, helpdesk reset, recovery codes and provenance (contract §4–§8).
--
-- A renewal (or, later, a helpdesk reset or a recovery-code re-enrollment) no longer
-- clears the credentials in use: the new password hash and the new second factor wait
-- in the staged_* columns until the first sign-in with both, which promotes them. The
-- enrollment token of the staged credentials is the row's enrollment token.
ALTER TABLE users
  ADD COLUMN staged_password_hash TEXT,
  ADD COLUMN staged_mfa_secret    TEXT,
  ADD COLUMN provenance           TEXT,
  -- A single-use token the IT helpdesk issues (employee-events, reset-requested) to an
  -- employee who lost both the phone and the recovery codes: a renewal by another door.
  ADD COLUMN reset_token_hash     TEXT,
  ADD COLUMN reset_expires_at     TIMESTAMPTZ,
  -- Recovery codes (§5): SHA-256 digests of the unused codes in force; those enrolled
  -- with a staged second factor, promoted with it; and, while an enrollment token is
  -- valid, the codes it showed, Fernet-sealed like the TOTP secret, so that calling
  -- generate-2fa again with that token shows the same ones (dropped at activation).
  ADD COLUMN recovery_code_digests        TEXT[] NOT NULL DEFAULT '{}',
  ADD COLUMN staged_recovery_code_digests TEXT[],
  ADD COLUMN enrollment_recovery_codes    TEXT;

-- Who created the account: the seed's own functions, self-registration, or HR. Only a
-- self-registered (or seed) account that never became active may start over by name.
-- Rows that exist now are classified from what they left behind: an invitation, an
-- e-mail or a processed HR event means HR; a password older than our first migration
-- means the seed; anything else registered itself.
UPDATE users u
   SET provenance = CASE
     WHEN u.status = 'invited' OR u.email IS NOT NULL OR u.invitation_token_hash IS NOT NULL
          OR EXISTS (SELECT 1 FROM processed_events p WHERE p.username = u.username AND p.type = 'fr.cofrap.hr.employee.created')
       THEN 'hr'
     WHEN u.created_at < (SELECT applied_at FROM schema_migrations WHERE version = 1)
       THEN 'seed'
     ELSE 'self'
   END;

ALTER TABLE users
  ALTER COLUMN provenance SET NOT NULL,
  ADD CONSTRAINT users_provenance_check CHECK (provenance IN ('seed', 'self', 'hr'));

-- Before this version a renewal put an active account back to 'pending' and cleared its
-- activated_at: a row caught in the middle of one at upgrade time looks like a
-- self-registration that never finished (SECURITY.md, "Upgrading", says how to list them).
