// What the operator's command does to the database (contract §10). Each change locks the
// account's row, checks its state, changes it and records it in the audit trail in one
// transaction: the trail never holds a change that did not happen, nor misses one, and a
// function acting on the same account meanwhile waits for the lock.
import type { Config } from '../config.js';
import type { AuditContext, AuditDetails, AuditEntry } from '../audit.js';
import { recordAudit } from '../db/audit.js';
import type { Database, Queryable } from '../db/database.js';
import { disable, rehire, requestReset } from '../db/employees.js';
import { auditPage, findAccounts, lockAccount, momentOf } from '../db/operator.js';
import type { AccountFilter, AccountView, AuditFilter, AuditRecord, MomentArgument } from '../db/operator.js';
import { throttleState, unlockUsername } from '../db/throttle.js';
import type { ThrottleState } from '../db/throttle.js';
import { issueToken } from '../crypto/tokens.js';
import type { AccountStatus } from '../lifecycle.js';
import { OperatorError, UsageError } from './errors.js';

/** The audit trail's actor for an operator's change. */
export const operatorContext = (by: string): AuditContext => ({ actor: `operator:${by}`, origin: 'account' });

export interface AccountReport extends AccountView {
  throttle: ThrottleState | undefined;
}

export async function showAccount(db: Database, config: Config, username: string): Promise<AccountReport> {
  const [account] = await findAccounts(db, { username }, config.credentialMaxAge);
  if (account === undefined) throw noAccount(username);
  return { ...account, throttle: await throttleState(db, username) };
}

export function listAccounts(
  db: Database,
  config: Config,
  filter: Omit<AccountFilter, 'username'>,
): Promise<AccountView[]> {
  return findAccounts(db, filter, config.credentialMaxAge);
}

/** A token to hand over (printed once, on stdout, by the command) and how long it is valid. */
export interface HandedToken {
  token: string;
  expiresAt: Date;
}

/** As the helpdesk's reset-requested event (§7): a single-use reset token for an active account. */
export function resetAccount(
  db: Database,
  config: Config,
  username: string,
  by: string,
  reason: string | undefined,
): Promise<HandedToken> {
  return change(db, username, by, async (tx, status, record) => {
    if (status !== 'active')
      throw new OperatorError(`account "${username}" is ${status}: only an active account can be reset`);
    const token = issueToken();
    const issued = await requestReset(tx, username, token.hash, config.resetTtl);
    if (issued === undefined) throw new Error('the locked active account took no reset token');
    await record({
      type: 'account.reset-requested',
      details: { reset_expires_at: issued.expiresAt.toISOString(), ...(reason === undefined ? {} : { reason }) },
    });
    return { token: token.token, expiresAt: issued.expiresAt };
  });
}

/** As HR's departed event (§7): disabled, its tokens and staged credentials void. */
export function disableAccount(db: Database, username: string, by: string): Promise<void> {
  return change(db, username, by, async (tx, status, record) => {
    if (status === 'disabled') throw new OperatorError(`account "${username}" is already disabled`);
    await disable(tx, username);
    await record({ type: 'account.disabled', details: { previous_status: status } });
  });
}

/** As HR's rehired event (§7): a disabled account becomes invited, with a fresh invitation. */
export function enableAccount(db: Database, config: Config, username: string, by: string): Promise<HandedToken> {
  return change(db, username, by, async (tx, status, record) => {
    if (status !== 'disabled')
      throw new OperatorError(`account "${username}" is ${status}: only a disabled account can be enabled`);
    const token = issueToken();
    const issued = await rehire(tx, { username, invitationTokenHash: token.hash, invitationTtl: config.invitationTtl });
    if (issued === undefined) throw new Error('the locked disabled account was not re-invited');
    await record({ type: 'account.enabled', details: { invitation_expires_at: issued.expiresAt.toISOString() } });
    return { token: token.token, expiresAt: issued.expiresAt };
  });
}

/** Forgets the username's failed sign-ins; undefined (and nothing recorded) when there were none. */
export function unlockAccount(db: Database, username: string, by: string): Promise<ThrottleState | undefined> {
  return change(db, username, by, async (tx, _status, record) => {
    const cleared = await throttleState(tx, username);
    if ((await unlockUsername(tx, username)) === 0) return undefined;
    const state = cleared ?? { failures: 0, lockedUntil: undefined };
    await record({
      type: 'account.unlocked',
      details: { failures: state.failures, was_locked: state.lockedUntil !== undefined },
    });
    return state;
  });
}

type RecordChange = (entry: Omit<AuditEntry, 'username'> & { details: AuditDetails }) => Promise<string>;

/** One transaction: the account locked, its state checked by `work`, the change and its record. */
function change<T>(
  db: Database,
  username: string,
  by: string,
  work: (tx: Queryable, status: AccountStatus, record: RecordChange) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    const status = await lockAccount(tx, username);
    if (status === undefined) throw noAccount(username);
    return work(tx, status, (entry) => recordAudit(tx, operatorContext(by), { ...entry, username }));
  });
}

const noAccount = (username: string): OperatorError => new OperatorError(`no account "${username}"`);

export interface AuditExport {
  since?: MomentArgument;
  until?: MomentArgument;
  username?: string;
}

const PAGE = 1000;

/** The trail, oldest first, a page at a time; the bounds are read once, before the first page. */
export async function* exportAudit(db: Database, request: AuditExport): AsyncGenerator<AuditRecord[]> {
  const filter: AuditFilter = {
    ...(request.since === undefined ? {} : { since: await moment(db, '--since', request.since) }),
    ...(request.until === undefined ? {} : { until: await moment(db, '--until', request.until) }),
    ...(request.username === undefined ? {} : { username: request.username }),
  };
  let page = await auditPage(db, filter, undefined, PAGE);
  yield page.records;
  while (page.next !== undefined) {
    page = await auditPage(db, filter, page.next, PAGE);
    yield page.records;
  }
}

async function moment(db: Database, option: string, argument: MomentArgument): Promise<Date> {
  const unreadable = new UsageError(
    `${option} is not a time PostgreSQL can read, such as 2026-03-01T08:00:00Z or a span such as 7d`,
  );
  let value: Date;
  try {
    value = await momentOf(db, argument);
  } catch (error) {
    // SQLSTATE class 22, data exception: PostgreSQL could not read it as a time.
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('22')) throw unreadable;
    throw error;
  }
  // 'infinity' is a timestamp to PostgreSQL, not a moment to the driver
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw unreadable;
  return value;
}
