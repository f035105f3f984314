// SQL of username uniqueness beyond the primary key: confusable skeletons (contract §3).
// users.username_skeleton (migration 005) holds skeletonOf(username) for every row; a new
// account whose skeleton an existing row already has is refused 409 account_exists.
//
// The check and the INSERT run in one transaction, after lockSkeleton(): two concurrent
// creations of `jose.fino` and `jose.fıno` do not conflict on the primary key (the names
// differ), so without the lock both could find the skeleton free and both insert. The lock
// is a transaction-level advisory lock on the skeleton's hash; it is released at COMMIT or
// ROLLBACK, and the second transaction's check (READ COMMITTED, a new snapshot per
// statement) then sees the first one's row.
import type { Queryable } from './database.js';
import { skeletonOf } from '../usernames.js';
import type { Provenance } from '../lifecycle.js';

// The first key of the two-key advisory lock form: this service's namespace for skeleton
// locks ("USER" in ASCII). Two-key locks do not share a key space with one-key locks such
// as the migration lock (lib/db/migrate.ts).
const SKELETON_LOCK_SPACE = 0x55534552;

/** Serialises, until the transaction ends, every transaction that creates this skeleton. */
export async function lockSkeleton(db: Queryable, skeleton: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SKELETON_LOCK_SPACE, skeleton]);
}

/** Some row other than `exceptUsername` (the account being updated, if any) has this skeleton. */
export async function skeletonTaken(db: Queryable, skeleton: string, exceptUsername?: string): Promise<boolean> {
  const [row] = await db.query<{ taken: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM users WHERE username_skeleton = $1 AND username IS DISTINCT FROM $2) AS taken`,
    [skeleton, exceptUsername ?? null],
  );
  return row?.taken === true;
}

/** The account that already has this skeleton (other than `exceptUsername`), for IT's conflict reply. */
export async function skeletonHolder(
  db: Queryable,
  skeleton: string,
  exceptUsername: string,
): Promise<{ username: string; provenance: Provenance } | undefined> {
  const [row] = await db.query<{ username: string; provenance: Provenance }>(
    'SELECT username, provenance FROM users WHERE username_skeleton = $1 AND username <> $2 ORDER BY username LIMIT 1',
    [skeleton, exceptUsername],
  );
  return row;
}

export interface SkeletonClaim {
  /** The value for users.username_skeleton in the INSERT. */
  skeleton: string;
  /** Another account already has it: refuse the creation (409 account_exists). */
  taken: boolean;
}

/**
 * For a transaction about to create the account `username` (normalised and valid): takes
 * the skeleton's lock, then checks it. Call inside db.transaction, right before the INSERT.
 */
export async function claimSkeleton(tx: Queryable, username: string): Promise<SkeletonClaim> {
  const skeleton = skeletonOf(username);
  await lockSkeleton(tx, skeleton);
  return { skeleton, taken: await skeletonTaken(tx, skeleton, username) };
}
