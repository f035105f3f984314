// The account.locked moment (contract §6, §11): a username reached the ceiling of
// consecutive failures from all addresses together and is now refused everywhere.
// Called by the throttle inside the transaction that set the lock, so that what is
// recorded here commits with the lock or not at all.
//
// A log line for the operators (a warning: an account under a distributed guessing
// attack, or an employee who cannot sign in); the audit record and the identity event
// `fr.cofrap.identity.account.locked` are written beside it (lib/sign-in-audit.ts).
import type { UsernameLock } from './db/throttle.js';
import type { Logger } from './log.js';

export function logAccountLocked(log: Logger, lock: UsernameLock): void {
  log.warn('account_locked', {
    username: lock.username,
    failures: lock.failures,
    locked_until: lock.lockedUntil.toISOString(),
    // the address whose failure crossed the ceiling; the others are in the throttle's rows
    client_address: lock.clientAddress,
  });
}
