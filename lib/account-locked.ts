// The account.locked moment (contract §6, §11): a username reached the ceiling of
// consecutive failures from all addresses together and is now refused everywhere.
// Called by the throttle inside the transaction that set the lock, so that what is
// recorded here commits with the lock or not at all.
//
// Today: a log line for the operators (a warning: an account under a distributed guessing
// attack, or an employee who cannot sign in). Issue 16 (identity events) writes the audit
// record and the outbox event `fr.cofrap.identity.account.locked` here, with `tx`.
import type { Queryable } from './db/database.js';
import type { UsernameLock } from './db/throttle.js';
import type { Logger } from './log.js';

export async function recordAccountLocked(_tx: Queryable, log: Logger, lock: UsernameLock): Promise<void> {
  log.warn('account_locked', {
    username: lock.username,
    failures: lock.failures,
    locked_until: lock.lockedUntil.toISOString(),
    // the address whose failure crossed the ceiling; the others are in the throttle's rows
    client_address: lock.clientAddress,
  });
}
