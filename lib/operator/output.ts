// How the operator's command prints what it read: `field: value` lines for one account,
// an aligned table or JSON lines for many, JSON lines or CSV for the audit trail. Only
// what lib/db/operator.ts selected reaches here, and it selects no hash, secret or token.
import { stringify } from 'csv-stringify/sync';
import type { AccountView, AuditRecord } from '../db/operator.js';
import type { ThrottleState } from '../db/throttle.js';

/** Times to the second, in UTC: what an operator compares and pastes. */
const when = (date: Date | undefined, absent = '-'): string =>
  date === undefined ? absent : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
const yesNo = (value: boolean): string => (value ? 'yes' : 'no');
const validUntil = (date: Date | undefined): string => (date === undefined ? 'no' : `valid until ${when(date)}`);

export function accountLines(account: AccountView & { throttle: ThrottleState | undefined }): string {
  const fields: Array<[string, string]> = [
    ['username', account.username],
    ['status', account.status],
    ['provenance', account.provenance],
    ['created', when(account.createdAt)],
    ['activated', when(account.activatedAt, 'never')],
    ['expires', when(account.expiresAt)],
    ['expired', yesNo(account.expired)],
    ['disabled', when(account.disabledAt)],
    ['last sign-in', when(account.lastSignIn, 'never')],
    ['email', account.email ?? '-'],
    ['display name', account.displayName ?? '-'],
    ['locked until', when(account.throttle?.lockedUntil)],
    ['failures', String(account.throttle?.failures ?? 0)],
    ['recovery codes left', String(account.recoveryCodesLeft)],
    ['invitation', validUntil(account.invitationValidUntil)],
    ['reset requested', validUntil(account.resetValidUntil)],
    ['renewal offered', validUntil(account.renewalValidUntil)],
    ['staged credentials', yesNo(account.staged)],
  ];
  return fields.map(([field, value]) => `${field}: ${oneLine(value)}\n`).join('');
}

// A display name is HR's free text: a line break in it must not forge a field.
const oneLine = (value: string): string => value.replace(/[\p{Cc}\u2028\u2029]/gu, ' ');

const COLUMNS: ReadonlyArray<[string, (a: AccountView) => string]> = [
  ['USERNAME', (a) => a.username],
  ['STATUS', (a) => a.status],
  ['PROVENANCE', (a) => a.provenance],
  ['CREATED', (a) => when(a.createdAt)],
  ['EXPIRES', (a) => when(a.expiresAt)],
  ['EXPIRED', (a) => yesNo(a.expired)],
  ['LAST SIGN-IN', (a) => when(a.lastSignIn, 'never')],
  ['EMAIL', (a) => a.email ?? '-'],
];

/** Code points, not UTF-16 units: a Cyrillic or accented name lines up like a Latin one. */
const width = (text: string): number => [...text].length;

export function accountTable(accounts: readonly AccountView[]): string {
  const rows = [
    COLUMNS.map(([title]) => title),
    ...accounts.map((account) => COLUMNS.map(([, cell]) => oneLine(cell(account)))),
  ];
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((row) => width(row[column] ?? ''))));
  return rows
    .map(
      (row) =>
        row
          .map((cell, column) =>
            column === row.length - 1 ? cell : cell + ' '.repeat((widths[column] ?? 0) - width(cell)),
          )
          .join('  ')
          .trimEnd() + '\n',
    )
    .join('');
}

const iso = (date: Date | undefined): string | null => date?.toISOString() ?? null;

export function accountJsonLines(accounts: readonly AccountView[]): string {
  return accounts
    .map(
      (a) =>
        JSON.stringify({
          username: a.username,
          status: a.status,
          provenance: a.provenance,
          created_at: iso(a.createdAt),
          activated_at: iso(a.activatedAt),
          expires_at: iso(a.expiresAt),
          expired: a.expired,
          disabled_at: iso(a.disabledAt),
          last_sign_in: iso(a.lastSignIn),
          email: a.email ?? null,
          display_name: a.displayName ?? null,
          recovery_codes_left: a.recoveryCodesLeft,
          staged: a.staged,
          invitation_valid_until: iso(a.invitationValidUntil),
          reset_valid_until: iso(a.resetValidUntil),
          renewal_valid_until: iso(a.renewalValidUntil),
        }) + '\n',
    )
    .join('');
}

export const AUDIT_FIELDS = ['time', 'type', 'username', 'actor', 'request_id', 'client_address', 'details'] as const;

export function auditJsonLines(records: readonly AuditRecord[]): string {
  return records
    .map((record) => JSON.stringify(Object.fromEntries(AUDIT_FIELDS.map((field) => [field, record[field]]))) + '\n')
    .join('');
}

/**
 * RFC 4180 CSV by csv-stringify: details (JSON, full of quotes and commas) and HR's or an
 * operator's free text (a reason with a comma, a quote or a line break) are quoted and
 * escaped by a library that is tested against those cases, not by a regex of ours. An
 * absent value is an empty field; details are their JSON text.
 */
export function auditCsv(records: readonly AuditRecord[], header: boolean): string {
  const rows = records.map((record) =>
    AUDIT_FIELDS.map((field) => (field === 'details' ? JSON.stringify(record.details) : (record[field] ?? ''))),
  );
  return stringify(rows, { header, columns: [...AUDIT_FIELDS], record_delimiter: 'unix' });
}
