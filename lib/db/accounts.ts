// Every SQL statement on the users table. Time comparisons use the database's clock
// (now()) and PostgreSQL intervals, so "6 months" means calendar months and replicas
// with skewed clocks agree.
import type { Queryable } from './database.js';
import type { AccountStatus, LoginState, PasswordChangeState } from '../lifecycle.js';

export interface TokenDigests {
  invitation?: string;
  renewal?: string;
}

export async function findForPasswordChange(
  db: Queryable,
  username: string,
  maxAge: string,
  tokens: TokenDigests,
  lock: boolean,
): Promise<PasswordChangeState | undefined> {
  const [row] = await db.query<{
    status: AccountStatus;
    is_expired: boolean;
    enrollment_open: boolean;
    invitation_valid: boolean;
    renewal_valid: boolean;
  }>(
    `SELECT status,
            (expired OR created_at + $2::interval <= now()) AS is_expired,
            COALESCE(enrollment_expires_at > now(), FALSE) AS enrollment_open,
            COALESCE(invitation_token_hash = $3 AND invitation_expires_at > now(), FALSE) AS invitation_valid,
            COALESCE(renewal_token_hash = $4 AND renewal_expires_at > now(), FALSE) AS renewal_valid
       FROM users
      WHERE username = $1
      ${lock ? 'FOR UPDATE' : ''}`,
    [username, maxAge, tokens.invitation ?? null, tokens.renewal ?? null],
  );
  if (row === undefined) return undefined;
  return {
    status: row.status,
    isExpired: row.is_expired,
    enrollmentOpen: row.enrollment_open,
    invitationValid: row.invitation_valid,
    renewalValid: row.renewal_valid,
  };
}

export interface NewPassword {
  username: string;
  passwordHash: string;
  enrollmentTokenHash: string;
  enrollmentTtl: string;
}

/** Inserts a pending account; undefined when the username was taken meanwhile. */
export async function insertPending(db: Queryable, p: NewPassword): Promise<Date | undefined> {
  const [row] = await db.query<{ enrollment_expires_at: Date }>(
    `INSERT INTO users (username, password_hash, status, created_at, expired, enrollment_token_hash, enrollment_expires_at)
     VALUES ($1, $2, 'pending', now(), FALSE, $3, now() + $4::interval)
     ON CONFLICT (username) DO NOTHING
     RETURNING enrollment_expires_at`,
    [p.username, p.passwordHash, p.enrollmentTokenHash, p.enrollmentTtl],
  );
  return row?.enrollment_expires_at;
}

/**
 * A new password on an existing row (accepted invitation, lapsed enrollment, renewal):
 * back to pending with the second factor cleared and every other token used up.
 */
export async function resetCredentials(db: Queryable, p: NewPassword): Promise<Date> {
  const [row] = await db.query<{ enrollment_expires_at: Date }>(
    `UPDATE users
        SET password_hash = $2, status = 'pending', created_at = now(), expired = FALSE,
            mfa_secret = NULL, last_totp_step = NULL, activated_at = NULL,
            enrollment_token_hash = $3, enrollment_expires_at = now() + $4::interval,
            renewal_token_hash = NULL, renewal_expires_at = NULL,
            invitation_token_hash = NULL, invitation_expires_at = NULL
      WHERE username = $1
      RETURNING enrollment_expires_at`,
    [p.username, p.passwordHash, p.enrollmentTokenHash, p.enrollmentTtl],
  );
  if (row === undefined) throw new Error('resetCredentials: the locked row disappeared');
  return row.enrollment_expires_at;
}

/**
 * The second factor currently stored for a pending account whose enrollment token is
 * valid (null before the first enrollment); undefined when the token does not open it.
 */
export async function findEnrollment(db: Queryable, username: string, enrollmentTokenHash: string): Promise<{ sealedSecret: string | null } | undefined> {
  const [row] = await db.query<{ mfa_secret: string | null }>(
    `SELECT mfa_secret FROM users
      WHERE username = $1 AND status = 'pending'
        AND enrollment_token_hash = $2 AND enrollment_expires_at > now()`,
    [username, enrollmentTokenHash],
  );
  return row === undefined ? undefined : { sealedSecret: row.mfa_secret };
}

/**
 * Stores a (new) second factor for a pending account whose enrollment token is valid, only
 * if the stored one is still `previous` (compare-and-swap): of concurrent enrollments that
 * read the same state, exactly one is stored, and only its caller is told it succeeded.
 */
export async function enrollSecondFactor(db: Queryable, username: string, enrollmentTokenHash: string, previous: string | null, sealedSecret: string): Promise<boolean> {
  const rows = await db.query(
    `UPDATE users
        SET mfa_secret = $3, last_totp_step = NULL
      WHERE username = $1 AND status = 'pending'
        AND enrollment_token_hash = $2 AND enrollment_expires_at > now()
        AND mfa_secret IS NOT DISTINCT FROM $4
      RETURNING 1`,
    [username, enrollmentTokenHash, sealedSecret, previous],
  );
  return rows.length === 1;
}

export async function findStatus(db: Queryable, username: string): Promise<AccountStatus | undefined> {
  const [row] = await db.query<{ status: AccountStatus }>('SELECT status FROM users WHERE username = $1', [username]);
  return row?.status;
}

export interface LoginCredentials {
  passwordHash: string | null;
  sealedSecret: string | null;
  lastTotpStep: number | null;
}

export async function findLoginCredentials(db: Queryable, username: string): Promise<LoginCredentials | undefined> {
  const [row] = await db.query<{ password_hash: string | null; mfa_secret: string | null; last_totp_step: number | null }>(
    'SELECT password_hash, mfa_secret, last_totp_step FROM users WHERE username = $1',
    [username],
  );
  if (row === undefined) return undefined;
  return { passwordHash: row.password_hash, sealedSecret: row.mfa_secret, lastTotpStep: row.last_totp_step };
}

/**
 * Locks the row and returns its state only if the credentials that were checked are still
 * the stored ones and the TOTP step is later than the last accepted: of two concurrent
 * sign-ins with one code, exactly one gets a state back.
 */
export async function lockForLogin(
  db: Queryable,
  username: string,
  checked: LoginCredentials,
  step: number,
  maxAge: string,
): Promise<LoginState | undefined> {
  const [row] = await db.query<{ status: AccountStatus; is_expired: boolean; usable: boolean }>(
    `SELECT status,
            (expired OR created_at + $5::interval <= now()) AS is_expired,
            (password_hash = $2 AND mfa_secret = $3 AND (last_totp_step IS NULL OR last_totp_step < $4)) AS usable
       FROM users
      WHERE username = $1
        FOR UPDATE`,
    [username, checked.passwordHash, checked.sealedSecret, step, maxAge],
  );
  if (row === undefined || !row.usable) return undefined;
  return { status: row.status, isExpired: row.is_expired };
}

/** Uses up the TOTP step without changing anything else (a disabled account). */
export async function consumeStep(db: Queryable, username: string, step: number): Promise<void> {
  await db.query('UPDATE users SET last_totp_step = $2 WHERE username = $1', [username, step]);
}

export async function markExpired(db: Queryable, username: string, step: number, renewalTokenHash: string, renewalTtl: string): Promise<Date> {
  const [row] = await db.query<{ renewal_expires_at: Date }>(
    `UPDATE users
        SET last_totp_step = $2, expired = TRUE,
            renewal_token_hash = $3, renewal_expires_at = now() + $4::interval
      WHERE username = $1
      RETURNING renewal_expires_at`,
    [username, step, renewalTokenHash, renewalTtl],
  );
  if (row === undefined) throw new Error('markExpired: the locked row disappeared');
  return row.renewal_expires_at;
}

/** A successful sign-in; a pending account becomes active. Returns when the credentials expire. */
export async function signIn(db: Queryable, username: string, step: number, maxAge: string): Promise<Date> {
  const [row] = await db.query<{ expires_at: Date }>(
    `UPDATE users
        SET last_totp_step = $2,
            status = 'active',
            activated_at = COALESCE(activated_at, now()),
            enrollment_token_hash = NULL, enrollment_expires_at = NULL
      WHERE username = $1
      RETURNING created_at + $3::interval AS expires_at`,
    [username, step, maxAge],
  );
  if (row === undefined) throw new Error('signIn: the locked row disappeared');
  return row.expires_at;
}

/** One batch of stored second factors, in username order after `after` (for key rotation). */
export async function sealedSecretsAfter(db: Queryable, after: string, limit: number): Promise<Array<{ username: string; sealed: string }>> {
  return db.query<{ username: string; sealed: string }>(
    `SELECT username, mfa_secret AS sealed FROM users
      WHERE mfa_secret IS NOT NULL AND username > $1
      ORDER BY username LIMIT $2`,
    [after, limit],
  );
}

/**
 * Replaces a sealed secret only if it is still the one that was read: a concurrent
 * re-enrollment or renewal wins, and the rotation simply skips that row.
 */
export async function resealSecret(db: Queryable, username: string, previous: string, next: string): Promise<boolean> {
  const rows = await db.query('UPDATE users SET mfa_secret = $3 WHERE username = $1 AND mfa_secret = $2 RETURNING 1', [username, previous, next]);
  return rows.length === 1;
}
