// SQL of the housekeeping tick (contract §12): due expiry reminders, and the pruning of
// what has lapsed. Each statement is safe to run twice at once (ON CONFLICT, idempotent
// deletes) and bounded (LIMIT per tick).
import type { Queryable } from './database.js';

export interface DueReminder {
  username: string;
  email: string | null;
  expiresAt: Date;
  daysLeft: number;
  threshold: string;
}

/**
 * Claims the reminders due now: for each active account inside one of `thresholds` before
 * expiry, the nearest threshold it has reached, once per credential generation. Only the
 * rows this call inserted are returned, so concurrent ticks never publish one twice; the
 * batch skips those already published, so more than `limit` due are all published over
 * as many ticks.
 */
export async function claimDueReminders(
  tx: Queryable,
  thresholds: string[],
  maxAge: string,
  limit: number,
): Promise<DueReminder[]> {
  const rows = await tx.query<{
    username: string;
    email: string | null;
    expires_at: Date;
    days_left: number;
    threshold: string;
  }>(
    `WITH due AS (
       SELECT u.username, u.email, u.created_at AS generation, u.created_at + $2::interval AS expires_at,
              (SELECT min(t) FROM unnest($1::interval[]) AS t WHERE u.created_at + $2::interval - t <= now()) AS threshold
         FROM users u
        WHERE u.status = 'active' AND NOT u.expired AND u.created_at + $2::interval > now()
     ), claimed AS (
       INSERT INTO expiry_reminders (username, generation, threshold)
       SELECT username, generation, threshold FROM due d
        WHERE threshold IS NOT NULL
          -- those published already are not taken again: past them, the batch reaches the rest
          AND NOT EXISTS (SELECT 1 FROM expiry_reminders r WHERE r.username = d.username AND r.generation = d.generation AND r.threshold = d.threshold)
       ORDER BY expires_at LIMIT $3
       ON CONFLICT DO NOTHING
       RETURNING username, threshold
     )
     SELECT d.username, d.email, d.expires_at,
            ceil(extract(epoch FROM d.expires_at - now()) / 86400)::int AS days_left,
            c.threshold::text AS threshold
       FROM claimed c JOIN due d USING (username)`,
    [thresholds, maxAge, limit],
  );
  return rows.map((r) => ({
    username: r.username,
    email: r.email,
    expiresAt: r.expires_at,
    daysLeft: r.days_left,
    threshold: r.threshold,
  }));
}

export interface Pruned {
  processedEvents: number;
  registrations: number;
  audit: number;
  reminders: number;
}

async function count(db: Queryable, text: string, params: unknown[]): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `WITH gone AS (${text} RETURNING 1) SELECT count(*)::int AS n FROM gone`,
    params,
  );
  return row?.n ?? 0;
}

/** Deletes, at most `limit` of each kind, what has lapsed. */
export async function pruneLapsed(db: Queryable, auditRetention: string, limit: number): Promise<Pruned> {
  return {
    processedEvents: await count(
      db,
      `DELETE FROM processed_events WHERE ctid IN (SELECT ctid FROM processed_events WHERE first_seen_at < now() - interval '30 days' LIMIT $1)`,
      [limit],
    ),
    // Self-registered accounts that never activated within 7 days free their name.
    registrations: await count(
      db,
      `DELETE FROM users WHERE username IN (
         SELECT username FROM users
          WHERE status = 'pending' AND provenance = 'self' AND activated_at IS NULL
            AND created_at < now() - interval '7 days'
            AND (enrollment_expires_at IS NULL OR enrollment_expires_at < now())
          LIMIT $1)`,
      [limit],
    ),
    audit: await count(
      db,
      `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE time < now() - $1::interval LIMIT $2)`,
      [auditRetention, limit],
    ),
    // A reminder of a generation that is over (renewed or expired long ago) is no longer needed.
    reminders: await count(
      db,
      `DELETE FROM expiry_reminders r WHERE ctid IN (
         SELECT r2.ctid FROM expiry_reminders r2 LEFT JOIN users u ON u.username = r2.username
          WHERE u.username IS NULL OR u.created_at <> r2.generation LIMIT $1)`,
      [limit],
    ),
  };
}
