// Sign-in throttling per username, in PostgreSQL so every replica sees the same count.
// After THRESHOLD consecutive failures the username is locked; each further failure
// doubles the lock, from BASE_LOCK_SECONDS up to MAX_LOCK_SECONDS. A success deletes it.
//
// An attempt is counted as a failure *before* its password is checked, in the same
// statement that checks the lock: checking first and counting after the (slow) bcrypt
// would let any number of concurrent guesses through the check before the first was
// counted. A success then deletes the count, so it never stays against a right answer.
import type { Queryable } from './database.js';

export const THRESHOLD = 5;
export const BASE_LOCK_SECONDS = 30;
export const MAX_LOCK_SECONDS = 15 * 60;

/**
 * Claims one attempt for the username: undefined when it may go on (and is now counted
 * as a failure until a success resets it), or the seconds until it may try again.
 */
export async function claimAttempt(db: Queryable, username: string): Promise<number | undefined> {
  // The row lock taken by ON CONFLICT serialises concurrent claims; the WHERE refuses a
  // claim while the lock runs, so the attempts let through never exceed the threshold.
  const claimed = await db.query(
    `INSERT INTO auth_throttle AS t (username, failures, locked_until)
     VALUES ($1, 1, CASE WHEN 1 >= $2 THEN now() + make_interval(secs => $3) END)
     ON CONFLICT (username) DO UPDATE
        SET failures = t.failures + 1,
            locked_until = CASE
              WHEN t.failures + 1 >= $2
              THEN now() + make_interval(secs => least($4, $3 * (2 ^ least(t.failures + 1 - $2, 16))))
            END
      WHERE t.locked_until IS NULL OR t.locked_until <= now()
     RETURNING 1`,
    [username, THRESHOLD, BASE_LOCK_SECONDS, MAX_LOCK_SECONDS],
  );
  if (claimed.length === 1) return undefined;
  const [row] = await db.query<{ seconds: number }>(
    `SELECT ceil(extract(epoch FROM locked_until - now()))::integer AS seconds FROM auth_throttle WHERE username = $1`,
    [username],
  );
  return Math.max(1, row?.seconds ?? 1);
}

export async function reset(db: Queryable, username: string): Promise<void> {
  await db.query('DELETE FROM auth_throttle WHERE username = $1', [username]);
}

export interface ThrottleState {
  failures: number;
  /** Set while the username is locked out. */
  lockedUntil: Date | undefined;
}

/** The username's throttle as the operator's `account show` reports it; undefined: none. */
export async function throttleState(db: Queryable, username: string): Promise<ThrottleState | undefined> {
  const [row] = await db.query<{ failures: number; locked_until: Date | null }>(
    `SELECT failures, CASE WHEN locked_until > now() THEN locked_until END AS locked_until
       FROM auth_throttle WHERE username = $1`,
    [username],
  );
  return row === undefined ? undefined : { failures: row.failures, lockedUntil: row.locked_until ?? undefined };
}

/**
 * The operator's `account unlock`: forgets every failure counted against the username, so
 * its next attempt is the first. Returns how many throttle rows were deleted.
 */
export async function unlockUsername(db: Queryable, username: string): Promise<number> {
  const rows = await db.query('DELETE FROM auth_throttle WHERE username = $1 RETURNING 1', [username]);
  return rows.length;
}
