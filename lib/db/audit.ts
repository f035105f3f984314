// SQL of the audit trail and the outbox: one statement writes the record and, for a
// lifecycle type, its identity event, so neither exists without the other and both
// commit (or roll back) with the change they describe.
import type { Queryable } from './database.js';
import { identityEventType, isPublished } from '../audit.js';
import type { AuditContext, AuditEntry } from '../audit.js';

/** Records one entry; returns its id (the identity event's id when it is published). */
export async function recordAudit(db: Queryable, context: AuditContext, entry: AuditEntry): Promise<string> {
  const details = entry.details ?? {};
  const eventType = isPublished(entry.type) ? identityEventType(entry.type) : null;
  const [row] = await db.query<{ id: string }>(
    `WITH record AS (
       INSERT INTO audit_log (type, username, actor, request_id, client_address, details)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb)
       RETURNING id
     ), event AS (
       INSERT INTO outbox (id, type, source, subject, data)
       SELECT id, $7, $8, $2, $9::jsonb FROM record WHERE $7::text IS NOT NULL
     )
     SELECT id::text FROM record`,
    [
      entry.type,
      entry.username ?? null,
      context.actor,
      context.requestId ?? null,
      context.clientAddress ?? null,
      JSON.stringify(details),
      eventType,
      `/cofrap/identity/${context.origin}`,
      JSON.stringify({ ...(entry.username === undefined ? {} : { username: entry.username }), ...details }),
    ],
  );
  if (row === undefined) throw new Error('recordAudit: no id returned');
  return row.id;
}

export interface PendingEvent {
  id: string;
  type: string;
  source: string;
  subject: string;
  data: Record<string, unknown>;
  createdAt: Date;
  attempts: number;
}

/**
 * Claims up to `limit` pending events whose next attempt is due, skipping rows another
 * deliverer holds (two ticks at once never send one event twice at the same moment),
 * inside the caller's transaction.
 */
export async function claimPending(tx: Queryable, limit: number, ids?: string[]): Promise<PendingEvent[]> {
  const rows = await tx.query<{
    id: string;
    type: string;
    source: string;
    subject: string;
    data: Record<string, unknown>;
    created_at: Date;
    attempts: number;
  }>(
    `SELECT id::text, type, source, subject, data, created_at, attempts
       FROM outbox
      WHERE delivered_at IS NULL AND next_attempt_at <= now()
        AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))
      ORDER BY created_at
      LIMIT $1
        FOR UPDATE SKIP LOCKED`,
    [limit, ids ?? null],
  );
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    source: r.source,
    subject: r.subject,
    data: r.data,
    createdAt: r.created_at,
    attempts: r.attempts,
  }));
}

export async function markDelivered(tx: Queryable, id: string): Promise<void> {
  await tx.query('UPDATE outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = $1', [id]);
}

/** A failed attempt: the next one after 2^attempts seconds, at most an hour. */
export async function markFailed(tx: Queryable, id: string): Promise<void> {
  await tx.query(
    `UPDATE outbox
        SET attempts = attempts + 1,
            next_attempt_at = now() + make_interval(secs => least(3600, 2 ^ least(attempts + 1, 12)))
      WHERE id = $1`,
    [id],
  );
}
