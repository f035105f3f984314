// What authenticate writes in the audit trail (contract §11): each outcome, the refusal
// reasons the answer never reveals, the account.locked moment, and credentials.suspicious
// after three consecutive sign-ins with the right password and a wrong code (the password
// may be known to someone else, and IT should learn it).
import { recordAudit } from './db/audit.js';
import type { Queryable } from './db/database.js';
import type { UsernameLock } from './db/throttle.js';
import type { AuditContext, AuditDetails, AuditType } from './audit.js';

/** Why a sign-in was refused; in the trail only, never in the answer. */
export type RefusalReason = 'unknown_user' | 'password' | 'code' | 'recovery_code' | 'replay';

const SUSPICIOUS_AFTER = 3;

/** Records a refused sign-in (alone: nothing else changed); returns the ids of what it published. */
export async function recordRefusal(
  db: Queryable,
  context: AuditContext,
  username: string,
  reason: RefusalReason,
): Promise<string[]> {
  await recordAudit(db, context, { type: 'signin.failed', username, details: { reason } });
  if (reason !== 'code') return [];
  // The latest outcomes of this account: three wrong codes in a row behind a right password.
  const latest = await db.query<{ type: string; reason: string | null }>(
    `SELECT type, details->>'reason' AS reason FROM audit_log
      WHERE username = $1
        AND type IN ('signin.failed', 'signin.succeeded', 'account.activated', 'credentials.renewed', 'recovery-code.used', 'credentials.expired', 'credentials.suspicious')
      ORDER BY time DESC, id DESC
      LIMIT $2`,
    [username, SUSPICIOUS_AFTER],
  );
  const streak =
    latest.length === SUSPICIOUS_AFTER && latest.every((r) => r.type === 'signin.failed' && r.reason === 'code');
  if (!streak) return [];
  return [
    await recordAudit(db, context, {
      type: 'credentials.suspicious',
      username,
      details: { consecutive_wrong_codes: SUSPICIOUS_AFTER },
    }),
  ];
}

/** Records the moment a username reached the ceiling of failures (inside the throttle's transaction). */
export async function recordLocked(tx: Queryable, context: AuditContext, lock: UsernameLock): Promise<string> {
  return recordAudit(tx, context, {
    type: 'account.locked',
    username: lock.username,
    details: { failures: lock.failures, locked_until: lock.lockedUntil.toISOString() },
  });
}

/** Records a sign-in outcome on the locked row. */
export async function recordOutcome(
  tx: Queryable,
  context: AuditContext,
  username: string,
  type: AuditType,
  details?: AuditDetails,
): Promise<string> {
  return recordAudit(tx, context, { type, username, ...(details === undefined ? {} : { details }) });
}
