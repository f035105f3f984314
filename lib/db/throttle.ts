// Sign-in throttling per username, in PostgreSQL so every replica sees the same count.
// After THRESHOLD consecutive failures the username is locked; each further failure
// doubles the lock, from BASE_LOCK_SECONDS up to MAX_LOCK_SECONDS. A success deletes it.
import type { Queryable } from './database.js';

export const THRESHOLD = 5;
export const BASE_LOCK_SECONDS = 30;
export const MAX_LOCK_SECONDS = 15 * 60;

/** Seconds until the username may try again, or undefined when it is not locked. */
export async function lockedFor(db: Queryable, username: string): Promise<number | undefined> {
  const [row] = await db.query<{ seconds: number }>(
    `SELECT ceil(extract(epoch FROM locked_until - now()))::integer AS seconds
       FROM auth_throttle
      WHERE username = $1 AND locked_until > now()`,
    [username],
  );
  return row === undefined ? undefined : Math.max(1, row.seconds);
}

/** Counts one failure in a single statement, so concurrent failures are all counted. */
export async function recordFailure(db: Queryable, username: string): Promise<void> {
  await db.query(
    `INSERT INTO auth_throttle AS t (username, failures, locked_until)
     VALUES ($1, 1, CASE WHEN 1 >= $2 THEN now() + make_interval(secs => $3) END)
     ON CONFLICT (username) DO UPDATE
        SET failures = t.failures + 1,
            locked_until = CASE
              WHEN t.failures + 1 >= $2
              THEN now() + make_interval(secs => least($4, $3 * (2 ^ least(t.failures + 1 - $2, 16))))
            END`,
    [username, THRESHOLD, BASE_LOCK_SECONDS, MAX_LOCK_SECONDS],
  );
}

export async function reset(db: Queryable, username: string): Promise<void> {
  await db.query('DELETE FROM auth_throttle WHERE username = $1', [username]);
}
