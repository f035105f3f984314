// SQL of the HR and helpdesk events: invitations, disablement, re-hire, reset tokens, and
// the record of processed deliveries.
import type { Queryable } from './database.js';
import type { AccountStatus, Provenance } from '../lifecycle.js';
import { skeletonOf } from '../usernames.js';

export interface EventKey {
  source: string;
  id: string;
  type: string;
  username: string;
}

/** Records a delivery; returns how many times this event (source + id) has been delivered. */
export async function recordDelivery(db: Queryable, event: EventKey): Promise<number> {
  const [row] = await db.query<{ deliveries: number }>(
    `INSERT INTO processed_events AS p (source, id, type, username)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (source, id) DO UPDATE SET deliveries = p.deliveries + 1
     RETURNING deliveries`,
    [event.source, event.id, event.type, event.username],
  );
  return row?.deliveries ?? 1;
}

export interface Invitation {
  username: string;
  /** skeletonOf(username), from claimSkeleton() in the same transaction (read when the row is new). */
  usernameSkeleton: string;
  invitationTokenHash: string;
  invitationTtl: string;
  email?: string;
  displayName?: string;
}

/**
 * Creates an invited account, or gives a fresh token to one HR invited that has not
 * activated yet (the old token stops working; an enrollment under way goes on). Any
 * other account is left as it is: undefined.
 */
export async function invite(db: Queryable, invitation: Invitation): Promise<InvitationIssued | undefined> {
  const [row] = await db.query<{ invitation_expires_at: Date; email: string | null }>(
    `INSERT INTO users AS u (username, username_skeleton, status, provenance, password_hash, created_at, expired,
                             invitation_token_hash, invitation_expires_at, email, display_name)
     VALUES ($1, $6, 'invited', 'hr', NULL, now(), FALSE, $2, now() + $3::interval, $4, $5)
     ON CONFLICT (username) DO UPDATE
        SET invitation_token_hash = EXCLUDED.invitation_token_hash,
            invitation_expires_at = EXCLUDED.invitation_expires_at,
            email = COALESCE(EXCLUDED.email, u.email),
            display_name = COALESCE(EXCLUDED.display_name, u.display_name)
      WHERE u.status = 'invited'
         OR (u.status = 'pending' AND u.provenance = 'hr' AND u.activated_at IS NULL)
     RETURNING invitation_expires_at, email`,
    [
      invitation.username,
      invitation.invitationTokenHash,
      invitation.invitationTtl,
      invitation.email ?? null,
      invitation.displayName ?? null,
      invitation.usernameSkeleton,
    ],
  );
  return row === undefined
    ? undefined
    : { expiresAt: row.invitation_expires_at, ...(row.email === null ? {} : { email: row.email }) };
}

export interface InvitationIssued {
  expiresAt: Date;
  email?: string;
}

/** Who created an existing account, and its state (for the conflict reply when HR arrives second). */
export async function provenanceOf(
  db: Queryable,
  username: string,
): Promise<{ provenance: Provenance; status: AccountStatus } | undefined> {
  const [row] = await db.query<{ provenance: Provenance; status: AccountStatus }>(
    'SELECT provenance, status FROM users WHERE username = $1',
    [username],
  );
  return row;
}

/**
 * Re-hire: a disabled account becomes invited again, as if new — its old credentials
 * (recovery codes included), staged ones, tokens and activation are gone, and a fresh
 * invitation is issued.
 * undefined when the account is not disabled (nothing changes).
 */
export async function rehire(
  db: Queryable,
  invitation: Omit<Invitation, 'usernameSkeleton'>,
): Promise<InvitationIssued | undefined> {
  const [row] = await db.query<{ invitation_expires_at: Date; email: string | null }>(
    `UPDATE users AS u
        SET status = 'invited', provenance = 'hr', created_at = now(), expired = FALSE,
            password_hash = NULL, mfa_secret = NULL, last_totp_step = NULL, recovery_code_digests = '{}',
            staged_password_hash = NULL, staged_mfa_secret = NULL, staged_recovery_code_digests = NULL,
            enrollment_recovery_codes = NULL,
            activated_at = NULL, disabled_at = NULL,
            enrollment_token_hash = NULL, enrollment_expires_at = NULL,
            renewal_token_hash = NULL, renewal_expires_at = NULL,
            reset_token_hash = NULL, reset_expires_at = NULL,
            invitation_token_hash = $2, invitation_expires_at = now() + $3::interval,
            email = COALESCE($4, u.email),
            display_name = COALESCE($5, u.display_name)
      WHERE username = $1 AND status = 'disabled'
      RETURNING invitation_expires_at, email`,
    [
      invitation.username,
      invitation.invitationTokenHash,
      invitation.invitationTtl,
      invitation.email ?? null,
      invitation.displayName ?? null,
    ],
  );
  return row === undefined
    ? undefined
    : { expiresAt: row.invitation_expires_at, ...(row.email === null ? {} : { email: row.email }) };
}

export interface ResetIssued {
  expiresAt: Date;
  email?: string;
}

/**
 * The helpdesk's reset: a single-use reset token (replacing any earlier one) on an active
 * account, expired or not. The credentials in use keep working until the reset is used
 * and its staged credentials are promoted. undefined for any other state.
 */
export async function requestReset(
  db: Queryable,
  username: string,
  resetTokenHash: string,
  resetTtl: string,
): Promise<ResetIssued | undefined> {
  const [row] = await db.query<{ reset_expires_at: Date; email: string | null }>(
    `UPDATE users
        SET reset_token_hash = $2, reset_expires_at = now() + $3::interval
      WHERE username = $1 AND status = 'active'
      RETURNING reset_expires_at, email`,
    [username, resetTokenHash, resetTtl],
  );
  return row === undefined
    ? undefined
    : { expiresAt: row.reset_expires_at, ...(row.email === null ? {} : { email: row.email }) };
}

/** What disable() found: no row (a disabled placeholder was created), or the status it had. */
export type DisabledFrom = { previousStatus: AccountStatus | 'none'; changed: boolean };

/**
 * Disables the account (creating a disabled placeholder if there is none), voids its tokens
 * and everything staged: the staged password, secret and recovery codes, and the sealed
 * copy of the codes an enrollment showed (only its now-void enrollment token could show
 * them again). Nothing reads them any more: a re-hire (or the operator's enable) starts
 * over from a fresh invitation. The credentials in use (password hash, secret, recovery
 * code digests, last TOTP step) stay, because whoever proves both factors of a disabled
 * account is told 403 account_disabled rather than 401 (contract §6); they open nothing
 * else, and the re-hire clears them. An account already disabled is left as it is
 * (changed: false), so a departure delivered twice, or for someone already gone, records
 * no second change.
 */
export async function disable(db: Queryable, username: string): Promise<DisabledFrom> {
  const [row] = await db.query<{ previous_status: AccountStatus | null; changed: boolean }>(
    `WITH previous AS (SELECT status FROM users WHERE username = $1 FOR UPDATE),
     changed AS (
       INSERT INTO users AS u (username, username_skeleton, status, provenance, password_hash, created_at, expired, disabled_at)
       VALUES ($1, $2, 'disabled', 'hr', NULL, now(), FALSE, now())
       ON CONFLICT (username) DO UPDATE
          SET status = 'disabled',
              disabled_at = COALESCE(u.disabled_at, now()),
              enrollment_token_hash = NULL, enrollment_expires_at = NULL,
              renewal_token_hash = NULL, renewal_expires_at = NULL,
              invitation_token_hash = NULL, invitation_expires_at = NULL,
              reset_token_hash = NULL, reset_expires_at = NULL,
              staged_password_hash = NULL, staged_mfa_secret = NULL, staged_recovery_code_digests = NULL,
              enrollment_recovery_codes = NULL
        WHERE u.status <> 'disabled'
       RETURNING 1)
     SELECT (SELECT status FROM previous) AS previous_status, EXISTS (SELECT 1 FROM changed) AS changed`,
    [username, skeletonOf(username)],
  );
  return { previousStatus: row?.previous_status ?? 'none', changed: row?.changed ?? false };
}
