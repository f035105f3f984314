// SQL of the HR events: invitations, disablement, and the record of processed deliveries.
import type { Queryable } from './database.js';

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
export async function invite(db: Queryable, invitation: Invitation): Promise<Date | undefined> {
  const [row] = await db.query<{ invitation_expires_at: Date }>(
    `INSERT INTO users AS u (username, status, provenance, password_hash, created_at, expired,
                             invitation_token_hash, invitation_expires_at, email, display_name)
     VALUES ($1, 'invited', 'hr', NULL, now(), FALSE, $2, now() + $3::interval, $4, $5)
     ON CONFLICT (username) DO UPDATE
        SET invitation_token_hash = EXCLUDED.invitation_token_hash,
            invitation_expires_at = EXCLUDED.invitation_expires_at,
            email = COALESCE(EXCLUDED.email, u.email),
            display_name = COALESCE(EXCLUDED.display_name, u.display_name)
      WHERE u.status = 'invited'
         OR (u.status = 'pending' AND u.provenance = 'hr' AND u.activated_at IS NULL)
     RETURNING invitation_expires_at`,
    [invitation.username, invitation.invitationTokenHash, invitation.invitationTtl, invitation.email ?? null, invitation.displayName ?? null],
  );
  return row?.invitation_expires_at;
}

/** Disables the account (creating a disabled placeholder if there is none), voids its tokens and any staged credentials. */
export async function disable(db: Queryable, username: string): Promise<void> {
  await db.query(
    `INSERT INTO users AS u (username, status, provenance, password_hash, created_at, expired, disabled_at)
     VALUES ($1, 'disabled', 'hr', NULL, now(), FALSE, now())
     ON CONFLICT (username) DO UPDATE
        SET status = 'disabled',
            disabled_at = COALESCE(u.disabled_at, now()),
            enrollment_token_hash = NULL, enrollment_expires_at = NULL,
            renewal_token_hash = NULL, renewal_expires_at = NULL,
            invitation_token_hash = NULL, invitation_expires_at = NULL,
            staged_password_hash = NULL, staged_mfa_secret = NULL`,
    [username],
  );
}
