// The SQL of authenticate on the users table: the credentials to check, then, on the
// locked row, the outcome (activation, promotion of staged credentials, expiry,
// recovery-code use). Times are the database's (now()).
import type { Queryable } from './database.js';
import type { AccountStatus, CredentialSet, LoginState } from '../lifecycle.js';

export interface CredentialPair {
  passwordHash: string | null;
  sealedSecret: string | null;
}

export interface LoginCredentials {
  current: CredentialPair;
  /** The staged set, complete with its second factor; undefined when there is none. */
  staged: CredentialPair | undefined;
  lastTotpStep: number | null;
  /** Digests of the unused recovery codes in force. */
  recoveryCodeDigests: string[];
}

export async function findLoginCredentials(db: Queryable, username: string): Promise<LoginCredentials | undefined> {
  const [row] = await db.query<{
    password_hash: string | null;
    mfa_secret: string | null;
    staged_password_hash: string | null;
    staged_mfa_secret: string | null;
    last_totp_step: number | null;
    recovery_code_digests: string[];
  }>(
    `SELECT password_hash, mfa_secret, staged_password_hash, staged_mfa_secret, last_totp_step, recovery_code_digests
       FROM users WHERE username = $1`,
    [username],
  );
  if (row === undefined) return undefined;
  return {
    current: { passwordHash: row.password_hash, sealedSecret: row.mfa_secret },
    staged:
      row.staged_mfa_secret === null
        ? undefined
        : { passwordHash: row.staged_password_hash ?? row.password_hash, sealedSecret: row.staged_mfa_secret },
    lastTotpStep: row.last_totp_step,
    recoveryCodeDigests: row.recovery_code_digests,
  };
}

/** How the second factor was proven: a TOTP step of the current or staged secret, or a recovery code. */
export type SecondFactor = { kind: 'totp'; set: CredentialSet; step: number } | { kind: 'recovery'; digest: string };

/**
 * Locks the row and returns its state only if the credentials that were checked are still
 * stored as they were and the second factor is still unused: of two concurrent sign-ins
 * with one TOTP code or one recovery code, exactly one gets a state back. (A staged secret
 * has never been used, so any of its steps is new; promoting it records the step, and a
 * second promotion finds nothing staged. A recovery code signs in only an account that
 * has been active.)
 */
export async function lockForLogin(
  db: Queryable,
  username: string,
  checked: CredentialPair,
  factor: SecondFactor,
  maxAge: string,
): Promise<LoginState | undefined> {
  // $1 username, $2 the password hash checked, $3 the second factor's stored value, $4 the maximum age.
  const common = [username, checked.passwordHash];
  let usable: string;
  let params: unknown[];
  if (factor.kind === 'recovery') {
    usable =
      "status <> 'pending' AND activated_at IS NOT NULL AND password_hash = $2 AND $3 = ANY(recovery_code_digests)";
    params = [...common, factor.digest, maxAge];
  } else if (factor.set === 'current') {
    usable = 'password_hash = $2 AND mfa_secret = $3 AND (last_totp_step IS NULL OR last_totp_step < $5::integer)';
    params = [...common, checked.sealedSecret, maxAge, factor.step];
  } else {
    usable = "status = 'active' AND COALESCE(staged_password_hash, password_hash) = $2 AND staged_mfa_secret = $3";
    params = [...common, checked.sealedSecret, maxAge];
  }
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

/**
 * Uses up the second factor that was proven, without changing anything else: the TOTP
 * step, or the recovery code (a disabled or expired account proved both factors too).
 */
export async function consumeFactor(db: Queryable, username: string, factor: SecondFactor): Promise<void> {
  if (factor.kind === 'totp') {
    await db.query('UPDATE users SET last_totp_step = $2 WHERE username = $1', [username, factor.step]);
  } else {
    await db.query(
      'UPDATE users SET recovery_code_digests = array_remove(recovery_code_digests, $2) WHERE username = $1',
      [username, factor.digest],
    );
  }
}

/**
 * Both factors proven, but the credentials are too old: flagged expired, with a fresh
 * renewal token. A pending account proved its factors too, so it becomes active (a
 * renewal is staged only on an active account).
 */
export async function markExpired(
  db: Queryable,
  username: string,
  renewalTokenHash: string,
  renewalTtl: string,
): Promise<Date> {
  const [row] = await db.query<{ renewal_expires_at: Date }>(
    `UPDATE users
        SET expired = TRUE,
            renewal_token_hash = $2, renewal_expires_at = now() + $3::interval,
            status = 'active', activated_at = COALESCE(activated_at, now()),
            enrollment_token_hash = CASE WHEN status = 'pending' THEN NULL ELSE enrollment_token_hash END,
            enrollment_expires_at = CASE WHEN status = 'pending' THEN NULL ELSE enrollment_expires_at END,
            enrollment_recovery_codes = CASE WHEN status = 'pending' THEN NULL ELSE enrollment_recovery_codes END,
            invitation_token_hash = NULL, invitation_expires_at = NULL
      WHERE username = $1
      RETURNING renewal_expires_at`,
    [username, renewalTokenHash, renewalTtl],
  );
  if (row === undefined) throw new Error('markExpired: the locked row disappeared');
  return row.renewal_expires_at;
}

/** After a sign-in: when the credentials expire, and how many recovery codes are left. */
export interface SignedIn {
  expiresAt: Date;
  recoveryCodesLeft: number;
}

const SIGNED_IN = 'created_at + $3::interval AS expires_at, cardinality(recovery_code_digests) AS codes_left';

function signedIn(row: { expires_at: Date; codes_left: number } | undefined, what: string): SignedIn {
  if (row === undefined) throw new Error(`${what}: the locked row disappeared`);
  return { expiresAt: row.expires_at, recoveryCodesLeft: row.codes_left };
}

/** A successful sign-in with the credentials in use and a TOTP code; a pending account becomes active. */
export async function signIn(db: Queryable, username: string, step: number, maxAge: string): Promise<SignedIn> {
  const [row] = await db.query<{ expires_at: Date; codes_left: number }>(
    `UPDATE users
        SET last_totp_step = $2,
            status = 'active',
            activated_at = COALESCE(activated_at, now()),
            enrollment_token_hash = CASE WHEN status = 'pending' THEN NULL ELSE enrollment_token_hash END,
            enrollment_expires_at = CASE WHEN status = 'pending' THEN NULL ELSE enrollment_expires_at END,
            enrollment_recovery_codes = CASE WHEN status = 'pending' THEN NULL ELSE enrollment_recovery_codes END,
            invitation_token_hash = NULL, invitation_expires_at = NULL
      WHERE username = $1
      RETURNING ${SIGNED_IN}`,
    [username, step, maxAge],
  );
  return signedIn(row, 'signIn');
}

/**
 * The first sign-in with the staged credentials makes them the account's: a staged
 * password restarts the credential age (created_at = now, not expired); the staged
 * recovery codes replace the old ones; the old password, secret and every token of the
 * renewal are gone.
 */
export async function promoteStaged(db: Queryable, username: string, step: number, maxAge: string): Promise<SignedIn> {
  const [row] = await db.query<{ expires_at: Date; codes_left: number }>(
    `UPDATE users
        SET password_hash = COALESCE(staged_password_hash, password_hash),
            mfa_secret = staged_mfa_secret,
            recovery_code_digests = COALESCE(staged_recovery_code_digests, recovery_code_digests),
            created_at = CASE WHEN staged_password_hash IS NULL THEN created_at ELSE now() END,
            expired = CASE WHEN staged_password_hash IS NULL THEN expired ELSE FALSE END,
            staged_password_hash = NULL, staged_mfa_secret = NULL, staged_recovery_code_digests = NULL,
            last_totp_step = $2,
            enrollment_token_hash = NULL, enrollment_expires_at = NULL, enrollment_recovery_codes = NULL,
            renewal_token_hash = NULL, renewal_expires_at = NULL,
            reset_token_hash = NULL, reset_expires_at = NULL
      WHERE username = $1
      RETURNING ${SIGNED_IN}`,
    [username, step, maxAge],
  );
  return signedIn(row, 'promoteStaged');
}

/**
 * A sign-in with a recovery code (the phone is lost): the code is used up, and an
 * enrollment token lets generate-2fa stage a new authenticator (and new codes) beside the
 * old ones, which keep working until the new code is first used. Any renewal staged
 * before is replaced.
 */
export async function useRecoveryCode(
  db: Queryable,
  username: string,
  digest: string,
  enrollment: { tokenHash: string; ttl: string },
  maxAge: string,
): Promise<SignedIn & { enrollmentExpiresAt: Date }> {
  const [row] = await db.query<{ expires_at: Date; codes_left: number; enrollment_expires_at: Date }>(
    `UPDATE users
        SET recovery_code_digests = array_remove(recovery_code_digests, $2),
            staged_password_hash = NULL, staged_mfa_secret = NULL, staged_recovery_code_digests = NULL,
            enrollment_token_hash = $4, enrollment_expires_at = now() + $5::interval, enrollment_recovery_codes = NULL
      WHERE username = $1
      RETURNING ${SIGNED_IN}, enrollment_expires_at`,
    [username, digest, maxAge, enrollment.tokenHash, enrollment.ttl],
  );
  if (row === undefined) throw new Error('useRecoveryCode: the locked row disappeared');
  return { ...signedIn(row, 'useRecoveryCode'), enrollmentExpiresAt: row.enrollment_expires_at };
}

/**
 * Inside RENEWAL_WINDOW before expiry, a sign-in offers a renewal token (replacing any
 * earlier one) so the employee may renew before the deadline. undefined outside it.
 */
export async function offerRenewal(
  db: Queryable,
  username: string,
  renewal: { tokenHash: string; ttl: string },
  maxAge: string,
  window: string,
): Promise<Date | undefined> {
  const [row] = await db.query<{ renewal_expires_at: Date }>(
    `UPDATE users
        SET renewal_token_hash = $2, renewal_expires_at = now() + $3::interval
      WHERE username = $1 AND status = 'active' AND created_at + $4::interval - $5::interval <= now()
      RETURNING renewal_expires_at`,
    [username, renewal.tokenHash, renewal.ttl, maxAge, window],
  );
  return row?.renewal_expires_at;
}
