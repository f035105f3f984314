// The SQL of generate-password and generate-2fa on the users table (sign-in's is in
// sign-in.ts). Time comparisons use the database's clock (now()) and PostgreSQL
// intervals, so "6 months" means calendar months and replicas with skewed clocks agree.
//
// Credentials come in two sets: those in use (password_hash, mfa_secret) and, while a
// renewal is under way, the staged ones (staged_password_hash, staged_mfa_secret) that
// the first sign-in with both promotes (contract §4). A staged set without a password
// keeps the password in use (a new authenticator only).
import type { Queryable } from './database.js';
import type { AccountStatus, PasswordChangeState, Provenance, TokenKind } from '../lifecycle.js';

/** A token as the database knows it: its kind and SHA-256 digest. */
export interface TokenDigest {
  kind: TokenKind;
  hash: string;
}

export async function findForPasswordChange(
  db: Queryable,
  username: string,
  token: TokenDigest | undefined,
  lock: boolean,
): Promise<PasswordChangeState | undefined> {
  const [row] = await db.query<{
    status: AccountStatus;
    provenance: Provenance;
    ever_active: boolean;
    enrollment_open: boolean;
    token_valid: boolean;
  }>(
    `SELECT status, provenance,
            activated_at IS NOT NULL AS ever_active,
            COALESCE(enrollment_expires_at > now(), FALSE) AS enrollment_open,
            CASE $2::text
              WHEN 'invitation' THEN COALESCE(invitation_token_hash = $3 AND invitation_expires_at > now(), FALSE)
              WHEN 'renewal' THEN COALESCE(renewal_token_hash = $3 AND renewal_expires_at > now(), FALSE)
              WHEN 'reset' THEN COALESCE(reset_token_hash = $3 AND reset_expires_at > now(), FALSE)
              ELSE FALSE
            END AS token_valid
       FROM users
      WHERE username = $1
      ${lock ? 'FOR UPDATE' : ''}`,
    [username, token?.kind ?? null, token?.hash ?? null],
  );
  if (row === undefined) return undefined;
  return {
    status: row.status,
    provenance: row.provenance,
    everActive: row.ever_active,
    enrollmentOpen: row.enrollment_open,
    tokenValid: row.token_valid,
  };
}

export interface NewPassword {
  username: string;
  /** skeletonOf(username), from claimSkeleton() in the same transaction (read by insertPending only). */
  usernameSkeleton?: string;
  passwordHash: string;
  enrollmentTokenHash: string;
  enrollmentTtl: string;
}

/** Inserts a self-registered pending account; undefined when the username was taken meanwhile. */
export async function insertPending(db: Queryable, p: NewPassword): Promise<Date | undefined> {
  const [row] = await db.query<{ enrollment_expires_at: Date }>(
    `INSERT INTO users (username, username_skeleton, password_hash, status, provenance, created_at, expired, enrollment_token_hash, enrollment_expires_at)
     VALUES ($1, $5, $2, 'pending', 'self', now(), FALSE, $3, now() + $4::interval)
     ON CONFLICT (username) DO NOTHING
     RETURNING enrollment_expires_at`,
    [p.username, p.passwordHash, p.enrollmentTokenHash, p.enrollmentTtl, p.usernameSkeleton],
  );
  return row?.enrollment_expires_at;
}

/**
 * A new password on an account that never activated (an accepted invitation, or a
 * self-registration whose window lapsed): pending, its second factor cleared. The
 * invitation, if any, stays valid until activation or its own expiry.
 */
export async function restartEnrollment(db: Queryable, p: NewPassword): Promise<Date> {
  const [row] = await db.query<{ enrollment_expires_at: Date }>(
    `UPDATE users
        SET password_hash = $2, status = 'pending', created_at = now(), expired = FALSE,
            mfa_secret = NULL, last_totp_step = NULL, recovery_code_digests = '{}',
            staged_password_hash = NULL, staged_mfa_secret = NULL, staged_recovery_code_digests = NULL,
            enrollment_token_hash = $3, enrollment_expires_at = now() + $4::interval, enrollment_recovery_codes = NULL
      WHERE username = $1 AND activated_at IS NULL
      RETURNING enrollment_expires_at`,
    [p.username, p.passwordHash, p.enrollmentTokenHash, p.enrollmentTtl],
  );
  if (row === undefined) throw new Error('restartEnrollment: the locked row disappeared or was activated');
  return row.enrollment_expires_at;
}

/**
 * Stages a new password beside the credentials in use (a renewal or a helpdesk reset):
 * the renewal and reset tokens are used up, any earlier staged set is replaced, and
 * nothing the account signs in with today changes.
 */
export async function stageCredentials(db: Queryable, p: NewPassword): Promise<Date> {
  const [row] = await db.query<{ enrollment_expires_at: Date }>(
    `UPDATE users
        SET staged_password_hash = $2, staged_mfa_secret = NULL, staged_recovery_code_digests = NULL,
            enrollment_token_hash = $3, enrollment_expires_at = now() + $4::interval, enrollment_recovery_codes = NULL,
            renewal_token_hash = NULL, renewal_expires_at = NULL,
            reset_token_hash = NULL, reset_expires_at = NULL
      WHERE username = $1 AND status = 'active'
      RETURNING enrollment_expires_at`,
    [p.username, p.passwordHash, p.enrollmentTokenHash, p.enrollmentTtl],
  );
  if (row === undefined) throw new Error('stageCredentials: the locked row disappeared or is not active');
  return row.enrollment_expires_at;
}

/** A second factor as generate-2fa stores it: the sealed TOTP secret and its recovery codes. */
export interface Enrollment {
  sealedSecret: string;
  /** The codes as shown, sealed (JSON array), kept while the enrollment token is valid. */
  sealedCodes: string;
  codeDigests: string[];
}

/**
 * Stores `fresh` as the second factor that the enrollment token opens — the account's own
 * while it is pending, the staged one while it is active — unless one is stored already,
 * and returns the one stored: every call with one token, concurrent ones included, gets
 * the same secret and codes back (the row lock orders them, and each UPDATE re-reads the
 * row the previous one committed). undefined when the token opens nothing.
 */
export async function enrollSecondFactor(
  db: Queryable,
  username: string,
  enrollmentTokenHash: string,
  fresh: Enrollment,
): Promise<Omit<Enrollment, 'codeDigests'> | undefined> {
  const [row] = await db.query<{ sealed_secret: string; sealed_codes: string }>(
    `UPDATE users
        SET mfa_secret = CASE WHEN status = 'pending' THEN COALESCE(mfa_secret, $3) ELSE mfa_secret END,
            staged_mfa_secret = CASE WHEN status = 'active' THEN COALESCE(staged_mfa_secret, $3) ELSE staged_mfa_secret END,
            recovery_code_digests = CASE WHEN status = 'pending' AND enrollment_recovery_codes IS NULL THEN $5::text[] ELSE recovery_code_digests END,
            staged_recovery_code_digests = CASE WHEN status = 'active' AND enrollment_recovery_codes IS NULL THEN $5::text[] ELSE staged_recovery_code_digests END,
            enrollment_recovery_codes = COALESCE(enrollment_recovery_codes, $4)
      WHERE username = $1 AND status IN ('pending', 'active')
        AND enrollment_token_hash = $2 AND enrollment_expires_at > now()
      RETURNING CASE WHEN status = 'pending' THEN mfa_secret ELSE staged_mfa_secret END AS sealed_secret,
                enrollment_recovery_codes AS sealed_codes`,
    [username, enrollmentTokenHash, fresh.sealedSecret, fresh.sealedCodes, fresh.codeDigests],
  );
  return row === undefined ? undefined : { sealedSecret: row.sealed_secret, sealedCodes: row.sealed_codes };
}

/** The columns that hold Fernet-sealed secrets (TOTP secrets, and recovery codes while enrolling). */
export const SEALED_COLUMNS = ['mfa_secret', 'staged_mfa_secret', 'enrollment_recovery_codes'] as const;
export type SealedColumn = (typeof SEALED_COLUMNS)[number];

/** One batch of sealed values of one column, in username order after `after` (for key rotation). */
export async function sealedSecretsAfter(
  db: Queryable,
  column: SealedColumn,
  after: string,
  limit: number,
): Promise<Array<{ username: string; sealed: string }>> {
  return db.query<{ username: string; sealed: string }>(
    `SELECT username, ${column} AS sealed FROM users
      WHERE ${column} IS NOT NULL AND username > $1
      ORDER BY username LIMIT $2`,
    [after, limit],
  );
}

/**
 * Replaces a sealed value only if it is still the one that was read: a concurrent
 * re-enrollment or renewal wins, and the rotation simply skips that row.
 */
export async function resealSecret(
  db: Queryable,
  column: SealedColumn,
  username: string,
  previous: string,
  next: string,
): Promise<boolean> {
  const rows = await db.query(`UPDATE users SET ${column} = $3 WHERE username = $1 AND ${column} = $2 RETURNING 1`, [
    username,
    previous,
    next,
  ]);
  return rows.length === 1;
}
