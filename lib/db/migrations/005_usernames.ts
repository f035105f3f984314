// Migration 005: the usernames already stored, under the rules of contract §3, applied by
// the very functions the handlers use (lib/usernames.ts), not by a SQL imitation of them:
// migration 002's lower(btrim(normalize(…, NFC))) trims only ASCII spaces, so a seed row
// "  bob\t" stayed unreachable while anyone could register "bob".
//
// Every stored name is normalised. A name that only its own row normalises to is renamed
// to it. Rows that share a normalised name (ALICE, Alice, ａｌｉｃｅ) cannot be merged by a
// program: which of them is the employee is for IT to decide, and the one already spelled
// "alice" may be the newcomer who registered the name that an unreachable seed row held.
// So all of them move, whole, to users_unmerged, and a disabled placeholder keeps the name
// reserved. A row whose normalised name is not a valid username (a space inside, mixed
// scripts) moves there too; no placeholder can be stored under an invalid name, and none is
// needed: nobody can register it.
//
// Then every row gets its UTS #39 confusable skeleton (username_skeleton, NOT NULL,
// indexed, not unique: stored rows that are confusable with each other are existing
// accounts and stay; new accounts are checked against them, lib/db/usernames.ts).
//
// Left alone: auth_throttle and processed_events, keyed by username. Throttle rows under an
// old spelling are never read again and lapse like any other; processed_events is the
// record of deliveries as they were made.
import type { Queryable } from '../database.js';
import type { Logger } from '../../log.js';
import { normaliseUsername, skeletonOf, usernameProblem } from '../../usernames.js';

export type UsernameFate =
  | { kind: 'keep' }
  | { kind: 'rename'; to: string }
  | { kind: 'unmerged'; reason: 'shared' | 'invalid'; normalised: string; detail: string };

/** What happens to each stored username (a pure function of the stored names, for tests). */
export function planUsernames(usernames: readonly string[]): Map<string, UsernameFate> {
  const groups = new Map<string, string[]>();
  for (const username of usernames) {
    const normalised = normaliseUsername(username);
    const group = groups.get(normalised);
    if (group === undefined) groups.set(normalised, [username]);
    else group.push(username);
  }
  const plan = new Map<string, UsernameFate>();
  for (const [normalised, members] of groups) {
    const problem = usernameProblem(normalised);
    for (const username of members) {
      if (problem !== undefined) {
        plan.set(username, {
          kind: 'unmerged',
          reason: 'invalid',
          normalised,
          detail: `the normalised name ${problem}`,
        });
      } else if (members.length > 1) {
        plan.set(username, {
          kind: 'unmerged',
          reason: 'shared',
          normalised,
          detail: `${members.length} stored names normalise to this one; a disabled placeholder holds it`,
        });
      } else {
        plan.set(username, username === normalised ? { kind: 'keep' } : { kind: 'rename', to: normalised });
      }
    }
  }
  return plan;
}

export async function up(db: Queryable, log: Logger): Promise<void> {
  // Writers wait until this commits (readers do not): the names read here stay the names.
  await db.query('LOCK TABLE users IN EXCLUSIVE MODE');
  // original_username: the name as stored before this migration (002 may have lower-cased
  // it); row_data: the whole row as it was, whatever columns earlier migrations added.
  await db.query(`CREATE TABLE users_unmerged (
    original_username   TEXT PRIMARY KEY,
    normalised_username TEXT NOT NULL,
    reason              TEXT NOT NULL CHECK (reason IN ('shared', 'invalid')),
    detail              TEXT NOT NULL,
    moved_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    row_data            JSONB NOT NULL
  )`);

  const stored = (await db.query<{ username: string }>('SELECT username FROM users')).map((row) => row.username);
  const plan = planUsernames(stored);
  const moved = [...plan].flatMap(([username, fate]) => (fate.kind === 'unmerged' ? [{ username, ...fate }] : []));
  const renamed = [...plan].flatMap(([username, fate]) => (fate.kind === 'rename' ? [{ username, to: fate.to }] : []));
  const placeholders = [...new Set(moved.filter((m) => m.reason === 'shared').map((m) => m.normalised))];

  await db.query(
    `WITH moving AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS m(username, normalised, reason, detail)
     ), moved AS (
       DELETE FROM users u USING moving m WHERE u.username = m.username
       RETURNING m.username, m.normalised, m.reason, m.detail, to_jsonb(u) AS row_data
     )
     INSERT INTO users_unmerged (original_username, normalised_username, reason, detail, row_data)
     SELECT username, normalised, reason, detail, row_data FROM moved`,
    [
      moved.map((m) => m.username),
      moved.map((m) => m.normalised),
      moved.map((m) => m.reason),
      moved.map((m) => m.detail),
    ],
  );
  // No target name is held by another row: a row holding it would share its group.
  await db.query(
    `UPDATE users u SET username = r.normalised
       FROM unnest($1::text[], $2::text[]) AS r(username, normalised)
      WHERE u.username = r.username`,
    [renamed.map((r) => r.username), renamed.map((r) => r.to)],
  );
  await insertPlaceholders(db, placeholders);

  await db.query('ALTER TABLE users ADD COLUMN username_skeleton TEXT');
  const names = (await db.query<{ username: string }>('SELECT username FROM users')).map((row) => row.username);
  const skeletons = names.map((name) => skeletonOf(name));
  await db.query(
    `UPDATE users u SET username_skeleton = s.skeleton
       FROM unnest($1::text[], $2::text[]) AS s(username, skeleton)
      WHERE u.username = s.username`,
    [names, skeletons],
  );
  await db.query('ALTER TABLE users ALTER COLUMN username_skeleton SET NOT NULL');
  await db.query('CREATE INDEX users_username_skeleton_idx ON users (username_skeleton)');

  log.info('usernames_migrated', {
    rows: stored.length,
    renamed: renamed.length,
    unmerged_shared: moved.filter((m) => m.reason === 'shared').length,
    unmerged_invalid: moved.filter((m) => m.reason === 'invalid').length,
    placeholders: placeholders.length,
    confusable_skeletons: skeletons.length - new Set(skeletons).size,
  });
}

/**
 * Disabled rows without credentials, so that nobody can register a name that stored rows
 * held. Where an earlier migration added the provenance column (contract §8), they say
 * "seed": made from rows already stored, by the operator's migration, not by a request or
 * an HR event, "seed" is the nearest of the three provenances.
 */
async function insertPlaceholders(db: Queryable, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const [column] = await db.query<{ present: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = 'users' AND column_name = 'provenance') AS present`,
  );
  const provenance = column?.present === true;
  await db.query(
    `INSERT INTO users (username, status, password_hash, created_at, expired, disabled_at${provenance ? ', provenance' : ''})
     SELECT name, 'disabled', NULL, now(), FALSE, now()${provenance ? ", 'seed'" : ''} FROM unnest($1::text[]) AS name`,
    [names],
  );
}
