// SQL of the operator's `account` command (contract §10): what an account looks like to IT
// (dates, tokens outstanding, counts — never a hash, secret or token), the row lock its
// changes take, and the audit trail read back page by page.
import type { Database, Queryable } from './database.js';
import type { AccountStatus, Provenance } from '../lifecycle.js';

/** An account as `account show` and `account list` report it. */
export interface AccountView {
  username: string;
  status: AccountStatus;
  provenance: Provenance;
  /** When the password in use was issued; undefined while there is none (invited). */
  createdAt: Date | undefined;
  activatedAt: Date | undefined;
  disabledAt: Date | undefined;
  /** createdAt + CREDENTIAL_MAX_AGE, by PostgreSQL's calendar. */
  expiresAt: Date | undefined;
  /** Flagged expired, or past its age: what a sign-in would find. */
  expired: boolean;
  lastSignIn: Date | undefined;
  email: string | undefined;
  displayName: string | undefined;
  recoveryCodesLeft: number;
  /** New credentials staged by a renewal or a reset, waiting for their first sign-in. */
  staged: boolean;
  invitationValidUntil: Date | undefined;
  resetValidUntil: Date | undefined;
  renewalValidUntil: Date | undefined;
}

export interface AccountFilter {
  username?: string;
  status?: AccountStatus;
  /** A PostgreSQL interval: active accounts whose credentials expire within it (not yet expired). */
  expiringWithin?: string;
}

// A sign-in is any of these: the trail's record of a sign-in with both factors.
const SIGN_IN_TYPES = ['signin.succeeded', 'account.activated', 'credentials.renewed'];

interface AccountRow {
  username: string;
  status: AccountStatus;
  provenance: Provenance;
  created_at: Date | null;
  activated_at: Date | null;
  disabled_at: Date | null;
  expires_at: Date | null;
  expired: boolean;
  last_sign_in: Date | null;
  email: string | null;
  display_name: string | null;
  recovery_codes_left: number;
  staged: boolean;
  invitation_until: Date | null;
  reset_until: Date | null;
  renewal_until: Date | null;
}

/** Accounts matching the filter, by username; the expiry is computed with `maxAge`. */
export async function findAccounts(db: Queryable, filter: AccountFilter, maxAge: string): Promise<AccountView[]> {
  const rows = await db.query<AccountRow>(
    `SELECT u.username, u.status, u.provenance,
            CASE WHEN u.password_hash IS NOT NULL THEN u.created_at END AS created_at,
            u.activated_at, u.disabled_at,
            CASE WHEN u.password_hash IS NOT NULL THEN u.created_at + $4::interval END AS expires_at,
            (u.expired OR (u.password_hash IS NOT NULL AND u.created_at + $4::interval <= now())) AS expired,
            s.last_sign_in,
            u.email, u.display_name,
            COALESCE(cardinality(u.recovery_code_digests), 0) AS recovery_codes_left,
            (u.staged_password_hash IS NOT NULL OR u.staged_mfa_secret IS NOT NULL) AS staged,
            CASE WHEN u.invitation_token_hash IS NOT NULL AND u.invitation_expires_at > now() THEN u.invitation_expires_at END AS invitation_until,
            CASE WHEN u.reset_token_hash IS NOT NULL AND u.reset_expires_at > now() THEN u.reset_expires_at END AS reset_until,
            CASE WHEN u.renewal_token_hash IS NOT NULL AND u.renewal_expires_at > now() THEN u.renewal_expires_at END AS renewal_until
       FROM users u
       LEFT JOIN LATERAL (
         SELECT max(a.time) AS last_sign_in FROM audit_log a
          WHERE a.username = u.username AND a.type = ANY($5::text[])
       ) s ON TRUE
      WHERE ($1::text IS NULL OR u.username = $1)
        AND ($2::text IS NULL OR u.status = $2)
        AND ($3::interval IS NULL OR (
              u.status = 'active' AND u.password_hash IS NOT NULL AND NOT u.expired
              AND u.created_at + $4::interval > now()
              AND u.created_at + $4::interval <= now() + $3::interval))
      ORDER BY u.username`,
    [filter.username ?? null, filter.status ?? null, filter.expiringWithin ?? null, maxAge, SIGN_IN_TYPES],
  );
  return rows.map(viewOf);
}

const optional = <T>(value: T | null): T | undefined => value ?? undefined;

function viewOf(row: AccountRow): AccountView {
  return {
    username: row.username,
    status: row.status,
    provenance: row.provenance,
    createdAt: optional(row.created_at),
    activatedAt: optional(row.activated_at),
    disabledAt: optional(row.disabled_at),
    expiresAt: optional(row.expires_at),
    expired: row.expired,
    lastSignIn: optional(row.last_sign_in),
    email: optional(row.email),
    displayName: optional(row.display_name),
    recoveryCodesLeft: row.recovery_codes_left,
    staged: row.staged,
    invitationValidUntil: optional(row.invitation_until),
    resetValidUntil: optional(row.reset_until),
    renewalValidUntil: optional(row.renewal_until),
  };
}

/**
 * Locks the account's row for the rest of the caller's transaction and returns its
 * status (undefined: no such account), so that the operator's check of the state and
 * the change it allows see the same row, whatever a function does meanwhile.
 */
export async function lockAccount(tx: Queryable, username: string): Promise<AccountStatus | undefined> {
  const [row] = await tx.query<{ status: AccountStatus }>('SELECT status FROM users WHERE username = $1 FOR UPDATE', [
    username,
  ]);
  return row?.status;
}

/** One audit record as `audit export` writes it. */
export interface AuditRecord {
  /** ISO 8601 in UTC, to the microsecond PostgreSQL keeps. */
  time: string;
  type: string;
  username: string | null;
  actor: string;
  request_id: string | null;
  client_address: string | null;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  since?: Date;
  until?: Date;
  username?: string;
}

/** Where the previous page ended: the last record's time (as exported) and id. */
export interface AuditCursor {
  time: string;
  id: string;
}

/**
 * One page of the trail in (time, id) order, after `cursor`. Pages rather than one query:
 * an export of a year's trail neither holds it in memory nor keeps a transaction open.
 * The cursor is the microsecond text, not a JS Date, which would round to milliseconds
 * and skip or repeat records.
 */
export async function auditPage(
  db: Queryable,
  filter: AuditFilter,
  cursor: AuditCursor | undefined,
  limit: number,
): Promise<{ records: AuditRecord[]; next: AuditCursor | undefined }> {
  const rows = await db.query<AuditRecord & { id: string }>(
    `SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS time, id::text AS id,
            type, username, actor, request_id, client_address, details
       FROM audit_log
      WHERE ($1::timestamptz IS NULL OR time >= $1)
        AND ($2::timestamptz IS NULL OR time < $2)
        AND ($3::text IS NULL OR username = $3)
        AND ($4::timestamptz IS NULL OR (time, id) > ($4::timestamptz, $5::uuid))
      ORDER BY time, id
      LIMIT $6`,
    [
      filter.since ?? null,
      filter.until ?? null,
      filter.username ?? null,
      cursor?.time ?? null,
      cursor?.id ?? null,
      limit,
    ],
  );
  const last = rows[rows.length - 1];
  const records = rows.map(({ id: _id, ...record }) => record);
  return { records, next: rows.length === limit && last !== undefined ? { time: last.time, id: last.id } : undefined };
}

/** A moment as the operator gave it: text PostgreSQL reads (UTC unless it says otherwise), or a span before now. */
export type MomentArgument = { at: string } | { ago: string };

/**
 * The moment PostgreSQL reads in `argument`: its own date/time parser, strict about the
 * calendar (no 30 February) and taking an offset or zone name where one is given, with
 * UTC for a time that has none, whatever the server's TimeZone. A text it cannot read
 * throws its data exception (SQLSTATE class 22).
 */
export async function momentOf(db: Database, argument: MomentArgument): Promise<Date> {
  return db.transaction(async (tx) => {
    await tx.query("SET LOCAL TIME ZONE 'UTC'");
    const [row] = await tx.query<{ moment: Date }>(
      'SELECT CASE WHEN $2::interval IS NULL THEN $1::timestamptz ELSE now() - $2::interval END AS moment',
      ['at' in argument ? argument.at : null, 'ago' in argument ? argument.ago : null],
    );
    if (row === undefined) throw new Error('momentOf: no row');
    return row.moment;
  });
}
