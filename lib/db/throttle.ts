// Sign-in throttling, in PostgreSQL so every replica sees the same counts (contract §6).
// Three counters, keyed so that an attacker cannot lock an employee out from elsewhere:
//
// - per username and client address: after PAIR_THRESHOLD consecutive failures that
//   address is refused for that username; each further failure doubles the lock, from
//   PAIR_BASE_LOCK_SECONDS up to PAIR_MAX_LOCK_SECONDS. Someone guessing from address A
//   does not stop the employee signing in from B.
// - per username, all addresses (the ceiling, NIST SP 800-63B's 100): after
//   USERNAME_THRESHOLD consecutive failures the username is refused from every address,
//   USERNAME_BASE_LOCK_SECONDS doubling up to USERNAME_MAX_LOCK_SECONDS: a guesser with
//   many addresses still gets no more than 100 tries per lock.
// - per client address, all usernames: more than ADDRESS_LIMIT failures within
//   ADDRESS_WINDOW_SECONDS refuse the address whatever the username (password spraying:
//   one password tried against many names).
//
// An attempt is counted as a failure on all three *before* its password is checked, in
// one transaction that first checks every lock: checking first and counting after the
// (slow) bcrypt would let any number of concurrent guesses through the check before the
// first was counted. A success then takes its count back (reset), so it never stays
// against a right answer. A refused attempt counts nowhere: the transaction is rolled back.
import type { Database, Queryable } from './database.js';

export const PAIR_THRESHOLD = 5;
export const PAIR_BASE_LOCK_SECONDS = 30;
export const PAIR_MAX_LOCK_SECONDS = 15 * 60;
export const USERNAME_THRESHOLD = 100;
export const USERNAME_BASE_LOCK_SECONDS = 15 * 60;
export const USERNAME_MAX_LOCK_SECONDS = 24 * 60 * 60;
export const ADDRESS_LIMIT = 50;
export const ADDRESS_WINDOW_SECONDS = 15 * 60;
/** The per-(username, address) threshold, under the name the tests have always used. */
export const THRESHOLD = PAIR_THRESHOLD;

export interface ThrottleKey {
  username: string;
  clientAddress: string;
}

export type ThrottleScope = 'pair' | 'username' | 'address';

/** An attempt let through and counted as a failure; a success hands it to reset(). */
export interface Attempt extends ThrottleKey {
  /** Its entry among the address's failure times, in PostgreSQL's text form (exact to the µs). */
  failedAt: string;
}

/** The moment this attempt locked the username everywhere (contract §11, account.locked). */
export interface UsernameLock extends ThrottleKey {
  failures: number;
  lockedUntil: Date;
}

export type Claim =
  { claimed: true; attempt: Attempt } | { claimed: false; retryAfter: number; scopes: ThrottleScope[] };

/** Runs inside the claim's transaction, so that what it records commits with the lock. */
export type OnUsernameLocked = (tx: Queryable, lock: UsernameLock) => Promise<void>;

class Refused extends Error {
  override name = 'Refused';
}

/**
 * The failure count and lock of a row of `table` keyed by `keyColumns` ($1…): counts one
 * more failure unless a lock is in force, and locks from the threshold on, doubling each
 * failure after it. Returns no row when the lock refused the attempt (the row is locked by
 * ON CONFLICT all the same, which serialises concurrent claims). `table` and `keyColumns`
 * are this module's constants, never input.
 */
function countingUpsert(table: string, keyColumns: string[]): string {
  const keys = keyColumns.join(', ');
  const values = keyColumns.map((_, i) => `$${i + 1}`).join(', ');
  const [threshold, base, max] = [keyColumns.length + 1, keyColumns.length + 2, keyColumns.length + 3].map(
    (n) => `$${n}`,
  );
  return `INSERT INTO ${table} AS t (${keys}, failures, locked_until)
          VALUES (${values}, 1, CASE WHEN 1 >= ${threshold} THEN now() + make_interval(secs => ${base}) END)
          ON CONFLICT (${keys}) DO UPDATE
             SET failures = t.failures + 1,
                 locked_until = CASE
                   WHEN t.failures + 1 >= ${threshold}
                   THEN now() + make_interval(secs => least(${max}, ${base} * (2 ^ least(t.failures + 1 - ${threshold}, 16))))
                 END
           WHERE t.locked_until IS NULL OR t.locked_until <= now()
          RETURNING failures, locked_until`;
}

const PAIR_CLAIM = countingUpsert('auth_throttle', ['username', 'client_address']);
const USERNAME_CLAIM = countingUpsert('auth_throttle_username', ['username']);

// The address keeps the times of its failures within the window: an exact sliding window,
// at most ADDRESS_LIMIT + 1 entries long (sorted whenever it is read: two claims' now()
// may append out of order).
const ADDRESS_CLAIM = `
  INSERT INTO auth_throttle_address AS t (client_address, failed_at)
  VALUES ($1, ARRAY[now()])
  ON CONFLICT (client_address) DO UPDATE
     SET failed_at = ARRAY(SELECT f FROM unnest(t.failed_at) AS f WHERE f > now() - make_interval(secs => $3) ORDER BY f) || now()
   WHERE (SELECT count(*) FROM unnest(t.failed_at) AS f WHERE f > now() - make_interval(secs => $3)) <= $2
  RETURNING now()::text AS failed_at`;

/**
 * Claims one attempt: let through (and counted as a failure on all three counters until
 * a success resets it), or refused with the seconds until every counter that refused it
 * lets it through again. The rows are taken in one order (address, username, pair) by
 * every claim and reset, so two of them never wait on each other crosswise.
 */
export async function claimAttempt(db: Database, key: ThrottleKey, onUsernameLocked: OnUsernameLocked): Promise<Claim> {
  const { username, clientAddress } = key;
  try {
    const attempt = await db.transaction(async (tx) => {
      const [address] = await tx.query<{ failed_at: string }>(ADDRESS_CLAIM, [
        clientAddress,
        ADDRESS_LIMIT,
        ADDRESS_WINDOW_SECONDS,
      ]);
      if (address === undefined) throw new Refused();
      const [ceiling] = await tx.query<{ failures: number; locked_until: Date | null }>(USERNAME_CLAIM, [
        username,
        USERNAME_THRESHOLD,
        USERNAME_BASE_LOCK_SECONDS,
        USERNAME_MAX_LOCK_SECONDS,
      ]);
      if (ceiling === undefined) throw new Refused();
      const [pair] = await tx.query(PAIR_CLAIM, [
        username,
        clientAddress,
        PAIR_THRESHOLD,
        PAIR_BASE_LOCK_SECONDS,
        PAIR_MAX_LOCK_SECONDS,
      ]);
      if (pair === undefined) throw new Refused();
      // A claim gets through only while no lock is in force: a lock in its answer is new.
      if (ceiling.locked_until !== null)
        await onUsernameLocked(tx, { ...key, failures: ceiling.failures, lockedUntil: ceiling.locked_until });
      return { ...key, failedAt: address.failed_at };
    });
    return { claimed: true, attempt };
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
  }
  return { claimed: false, ...(await refusal(db, key)) };
}

/** How long each counter still refuses the key (read after the claim rolled back). */
async function refusal(db: Queryable, key: ThrottleKey): Promise<{ retryAfter: number; scopes: ThrottleScope[] }> {
  const [row] = await db.query<{ pair: number | null; username: number | null; address: number | null }>(
    `SELECT (SELECT extract(epoch FROM locked_until - now())::float8 FROM auth_throttle
              WHERE username = $1 AND client_address = $2) AS pair,
            (SELECT extract(epoch FROM locked_until - now())::float8 FROM auth_throttle_username
              WHERE username = $1) AS username,
            -- the oldest failures must leave the window until no more than the limit remain
            (SELECT extract(epoch FROM w.f[cardinality(w.f) - $3] + make_interval(secs => $4) - now())::float8
               FROM (SELECT ARRAY(SELECT f FROM unnest(failed_at) AS f WHERE f > now() - make_interval(secs => $4) ORDER BY f) AS f
                       FROM auth_throttle_address WHERE client_address = $2) AS w
              WHERE cardinality(w.f) > $3) AS address`,
    [key.username, key.clientAddress, ADDRESS_LIMIT, ADDRESS_WINDOW_SECONDS],
  );
  const waits: Array<[ThrottleScope, number | null | undefined]> = [
    ['pair', row?.pair],
    ['username', row?.username],
    ['address', row?.address],
  ];
  const refusing = waits.filter((wait): wait is [ThrottleScope, number] => typeof wait[1] === 'number' && wait[1] > 0);
  const longest = Math.max(0, ...refusing.map(([, seconds]) => seconds));
  return { retryAfter: Math.max(1, Math.ceil(longest)), scopes: refusing.map(([scope]) => scope) };
}

/**
 * After a success (or a 403: both factors proven), in the sign-in's transaction: the
 * (username, address) count and the username's ceiling start over, and the address's
 * failure entry of this attempt is taken back (its other failures stay: one right answer
 * among many guesses does not clear a spraying address).
 */
export async function reset(tx: Queryable, attempt: Attempt): Promise<void> {
  await tx.query(
    `UPDATE auth_throttle_address
        SET failed_at = failed_at[:array_position(failed_at, $2::timestamptz) - 1] || failed_at[array_position(failed_at, $2::timestamptz) + 1:]
      WHERE client_address = $1 AND array_position(failed_at, $2::timestamptz) IS NOT NULL`,
    [attempt.clientAddress, attempt.failedAt],
  );
  await tx.query('DELETE FROM auth_throttle_username WHERE username = $1', [attempt.username]);
  await tx.query('DELETE FROM auth_throttle WHERE username = $1 AND client_address = $2', [
    attempt.username,
    attempt.clientAddress,
  ]);
}

export interface Pruned {
  pairs: number;
  usernames: number;
  addresses: number;
}

/**
 * What housekeeping (contract §12) removes: rows of usernames without an account once no
 * lock of theirs is in force (they protect nobody, and a guesser trying made-up names
 * would otherwise grow the tables without end), and addresses with no failure left in the
 * window. Rows of real accounts stay until a success resets them. One statement per
 * table, in the claims' order, each its own transaction, so a prune never holds rows of
 * one table while waiting for another's.
 */
export async function prune(db: Queryable): Promise<Pruned> {
  const [addresses] = await db.query<{ n: number }>(
    `WITH gone AS (
       DELETE FROM auth_throttle_address AS a
        WHERE NOT EXISTS (SELECT 1 FROM unnest(a.failed_at) AS f WHERE f > now() - make_interval(secs => $1))
       RETURNING 1)
     SELECT count(*)::integer AS n FROM gone`,
    [ADDRESS_WINDOW_SECONDS],
  );
  const unknownAndUnlocked = `(t.locked_until IS NULL OR t.locked_until <= now())
                              AND NOT EXISTS (SELECT 1 FROM users AS u WHERE u.username = t.username)`;
  const [usernames] = await db.query<{ n: number }>(
    `WITH gone AS (DELETE FROM auth_throttle_username AS t WHERE ${unknownAndUnlocked} RETURNING 1)
     SELECT count(*)::integer AS n FROM gone`,
  );
  const [pairs] = await db.query<{ n: number }>(
    `WITH gone AS (DELETE FROM auth_throttle AS t WHERE ${unknownAndUnlocked} RETURNING 1)
     SELECT count(*)::integer AS n FROM gone`,
  );
  return { pairs: pairs?.n ?? 0, usernames: usernames?.n ?? 0, addresses: addresses?.n ?? 0 };
}

export interface ThrottleState {
  failures: number;
  /** Set while the username is locked out. */
  lockedUntil: Date | undefined;
}

/**
 * The username's throttle as the operator's `account show` reports it: the consecutive
 * failures from all addresses, and the latest lock in force (the username's ceiling, or
 * one address's). undefined: nothing counted.
 */
export async function throttleState(db: Queryable, username: string): Promise<ThrottleState | undefined> {
  const [row] = await db.query<{ counted: boolean; failures: number; locked_until: Date | null }>(
    `SELECT EXISTS (SELECT 1 FROM auth_throttle_username WHERE username = $1)
              OR EXISTS (SELECT 1 FROM auth_throttle WHERE username = $1) AS counted,
            COALESCE((SELECT failures FROM auth_throttle_username WHERE username = $1), 0) AS failures,
            (SELECT max(l) FROM (
               SELECT locked_until AS l FROM auth_throttle_username WHERE username = $1
               UNION ALL SELECT locked_until FROM auth_throttle WHERE username = $1) AS locks
              WHERE l > now()) AS locked_until`,
    [username],
  );
  return row === undefined || !row.counted
    ? undefined
    : { failures: row.failures, lockedUntil: row.locked_until ?? undefined };
}

/**
 * The operator's `account unlock`: forgets every failure counted against the username,
 * from every address, so its next attempt is the first. Returns how many throttle rows
 * were deleted.
 */
export async function unlockUsername(db: Queryable, username: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `WITH pairs AS (DELETE FROM auth_throttle WHERE username = $1 RETURNING 1),
          ceiling AS (DELETE FROM auth_throttle_username WHERE username = $1 RETURNING 1)
     SELECT (SELECT count(*) FROM pairs)::int + (SELECT count(*) FROM ceiling)::int AS n`,
    [username],
  );
  return row?.n ?? 0;
}
