// Every SQL statement on the users table. Time comparisons use the database's clock
// (now()) and PostgreSQL intervals, so "6 months" means calendar months and replicas
// with skewed clocks agree.
//
// Credentials come in two sets: those in use (password_hash, mfa_secret) and, while a
// renewal is under way, the staged ones (staged_password_hash, staged_mfa_secret) that
// the first sign-in with both promotes (contract §4). A staged set without a password
// keeps the password in use (a new authenticator only).
import type { Queryable } from './database.js';
import type { AccountStatus, CredentialSet, LoginState, PasswordChangeState, Provenance, TokenKind } from '../lifecycle.js';

/** A token as the database knows it: its kind and SHA-256 digest. */
export interface TokenDigest {
  kind: TokenKind;
  hash: string;
}

export async function findForPasswordChange(db: Queryable, username: string, token: TokenDigest | undefined, lock: boolean): Promise<PasswordChangeState | undefined> {
  const [row] = await db.query<{ status: AccountStatus; provenance: Provenance; ever_active: boolean; enrollment_open: boolean; token_valid: boolean }>(
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
            mfa_secret = NULL, last_totp_step = NULL,
            staged_password_hash = NULL, staged_mfa_secret = NULL,
            enrollment_token_hash = $3, enrollment_expires_at = now() + $4::interval
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
        SET staged_password_hash = $2, staged_mfa_secret = NULL,
            enrollment_token_hash = $3, enrollment_expires_at = now() + $4::interval,
            renewal_token_hash = NULL, renewal_expires_at = NULL,
            reset_token_hash = NULL, reset_expires_at = NULL
      WHERE username = $1 AND status = 'active'
      RETURNING enrollment_expires_at`,
    [p.username, p.passwordHash, p.enrollmentTokenHash, p.enrollmentTtl],
  );
  if (row === undefined) throw new Error('stageCredentials: the locked row disappeared or is not active');
  return row.enrollment_expires_at;
}

/**
 * Stores `sealedSecret` as the second factor that the enrollment token opens — the
 * account's own while it is pending, the staged one while it is active — unless one is
 * stored already, and returns the one stored: every call with one token, concurrent
 * ones included, gets the same secret back (the row lock orders them, and each UPDATE
 * re-reads the row the previous one committed). undefined when the token opens nothing.
 */
export async function enrollSecondFactor(db: Queryable, username: string, enrollmentTokenHash: string, sealedSecret: string): Promise<string | undefined> {
  const [row] = await db.query<{ sealed: string }>(
    `UPDATE users
        SET mfa_secret = CASE WHEN status = 'pending' THEN COALESCE(mfa_secret, $3) ELSE mfa_secret END,
            staged_mfa_secret = CASE WHEN status = 'active' THEN COALESCE(staged_mfa_secret, $3) ELSE staged_mfa_secret END
      WHERE username = $1 AND status IN ('pending', 'active')
        AND enrollment_token_hash = $2 AND enrollment_expires_at > now()
      RETURNING CASE WHEN status = 'pending' THEN mfa_secret ELSE staged_mfa_secret END AS sealed`,
    [username, enrollmentTokenHash, sealedSecret],
  );
  return row?.sealed;
}

export interface CredentialPair {
  passwordHash: string | null;
  sealedSecret: string | null;
}

export interface LoginCredentials {
  current: CredentialPair;
  /** The staged set, complete with its second factor; undefined when there is none. */
  staged: CredentialPair | undefined;
  lastTotpStep: number | null;
}

export async function findLoginCredentials(db: Queryable, username: string): Promise<LoginCredentials | undefined> {
  const [row] = await db.query<{
    password_hash: string | null;
    mfa_secret: string | null;
    staged_password_hash: string | null;
    staged_mfa_secret: string | null;
    last_totp_step: number | null;
  }>('SELECT password_hash, mfa_secret, staged_password_hash, staged_mfa_secret, last_totp_step FROM users WHERE username = $1', [username]);
  if (row === undefined) return undefined;
  return {
    current: { passwordHash: row.password_hash, sealedSecret: row.mfa_secret },
    staged:
      row.staged_mfa_secret === null
        ? undefined
        : { passwordHash: row.staged_password_hash ?? row.password_hash, sealedSecret: row.staged_mfa_secret },
    lastTotpStep: row.last_totp_step,
  };
}

/**
 * Locks the row and returns its state only if the credentials that were checked are still
 * stored as they were and, for those in use, the TOTP step is later than the last
 * accepted: of two concurrent sign-ins with one code, exactly one gets a state back.
 * (A staged secret has never been used, so any step of it is new; promoting it records
 * the step, and a second promotion finds nothing staged.)
 */
export async function lockForLogin(db: Queryable, username: string, checked: CredentialPair, proven: CredentialSet, step: number, maxAge: string): Promise<LoginState | undefined> {
  const usable =
    proven === 'current'
      ? 'password_hash = $2 AND mfa_secret = $3 AND (last_totp_step IS NULL OR last_totp_step < $5::integer)'
      : "status = 'active' AND COALESCE(staged_password_hash, password_hash) = $2 AND staged_mfa_secret = $3";
  const params = [username, checked.passwordHash, checked.sealedSecret, maxAge, ...(proven === 'current' ? [step] : [])];
  const [row] = await db.query<{ status: AccountStatus; is_expired: boolean; usable: boolean }>(
    `SELECT status,
            (expired OR created_at + $4::interval <= now()) AS is_expired,
            COALESCE(${usable}, FALSE) AS usable
       FROM users
      WHERE username = $1
        FOR UPDATE`,
    params,
  );
  if (row === undefined || !row.usable) return undefined;
  return { status: row.status, isExpired: row.is_expired };
}

/** Uses up the TOTP step without changing anything else (a disabled account). */
export async function consumeStep(db: Queryable, username: string, step: number): Promise<void> {
  await db.query('UPDATE users SET last_totp_step = $2 WHERE username = $1', [username, step]);
}

/**
 * Both factors proven, but the credentials are too old: flagged expired, with a fresh
 * renewal token. A pending account proved its factors too, so it becomes active (a
 * renewal is staged only on an active account).
 */
export async function markExpired(db: Queryable, username: string, step: number, renewalTokenHash: string, renewalTtl: string): Promise<Date> {
  const [row] = await db.query<{ renewal_expires_at: Date }>(
    `UPDATE users
        SET last_totp_step = $2, expired = TRUE,
            renewal_token_hash = $3, renewal_expires_at = now() + $4::interval,
            status = 'active', activated_at = COALESCE(activated_at, now()),
            enrollment_token_hash = CASE WHEN status = 'pending' THEN NULL ELSE enrollment_token_hash END,
            enrollment_expires_at = CASE WHEN status = 'pending' THEN NULL ELSE enrollment_expires_at END,
            invitation_token_hash = NULL, invitation_expires_at = NULL
      WHERE username = $1
      RETURNING renewal_expires_at`,
    [username, step, renewalTokenHash, renewalTtl],
  );
  if (row === undefined) throw new Error('markExpired: the locked row disappeared');
  return row.renewal_expires_at;
}

/** A successful sign-in with the credentials in use; a pending account becomes active. Returns when they expire. */
export async function signIn(db: Queryable, username: string, step: number, maxAge: string): Promise<Date> {
  const [row] = await db.query<{ expires_at: Date }>(
    `UPDATE users
        SET last_totp_step = $2,
            status = 'active',
            activated_at = COALESCE(activated_at, now()),
            enrollment_token_hash = CASE WHEN status = 'pending' THEN NULL ELSE enrollment_token_hash END,
            enrollment_expires_at = CASE WHEN status = 'pending' THEN NULL ELSE enrollment_expires_at END,
            invitation_token_hash = NULL, invitation_expires_at = NULL
      WHERE username = $1
      RETURNING created_at + $3::interval AS expires_at`,
    [username, step, maxAge],
  );
  if (row === undefined) throw new Error('signIn: the locked row disappeared');
  return row.expires_at;
}

/**
 * The first sign-in with the staged credentials makes them the account's: a staged
 * password restarts the credential age (created_at = now, not expired); the old
 * password, secret and every token of the renewal are gone. Returns when they expire.
 */
export async function promoteStaged(db: Queryable, username: string, step: number, maxAge: string): Promise<Date> {
  const [row] = await db.query<{ expires_at: Date }>(
    `UPDATE users
        SET password_hash = COALESCE(staged_password_hash, password_hash),
            mfa_secret = staged_mfa_secret,
            created_at = CASE WHEN staged_password_hash IS NULL THEN created_at ELSE now() END,
            expired = CASE WHEN staged_password_hash IS NULL THEN expired ELSE FALSE END,
            staged_password_hash = NULL, staged_mfa_secret = NULL,
            last_totp_step = $2,
            enrollment_token_hash = NULL, enrollment_expires_at = NULL,
            renewal_token_hash = NULL, renewal_expires_at = NULL,
            reset_token_hash = NULL, reset_expires_at = NULL
      WHERE username = $1
      RETURNING created_at + $3::interval AS expires_at`,
    [username, step, maxAge],
  );
  if (row === undefined) throw new Error('promoteStaged: the locked row disappeared');
  return row.expires_at;
}

/** The columns that hold a Fernet-sealed TOTP secret. */
export const SEALED_COLUMNS = ['mfa_secret', 'staged_mfa_secret'] as const;
export type SealedColumn = (typeof SEALED_COLUMNS)[number];

/** One batch of sealed secrets of one column, in username order after `after` (for key rotation). */
export async function sealedSecretsAfter(db: Queryable, column: SealedColumn, after: string, limit: number): Promise<Array<{ username: string; sealed: string }>> {
  return db.query<{ username: string; sealed: string }>(
    `SELECT username, ${column} AS sealed FROM users
      WHERE ${column} IS NOT NULL AND username > $1
      ORDER BY username LIMIT $2`,
    [after, limit],
  );
}

/**
 * Replaces a sealed secret only if it is still the one that was read: a concurrent
 * re-enrollment or renewal wins, and the rotation simply skips that row.
 */
export async function resealSecret(db: Queryable, column: SealedColumn, username: string, previous: string, next: string): Promise<boolean> {
  const rows = await db.query(`UPDATE users SET ${column} = $3 WHERE username = $1 AND ${column} = $2 RETURNING 1`, [username, previous, next]);
  return rows.length === 1;
}
