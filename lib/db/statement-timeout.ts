// The server-side bound on every statement the functions send, kept in force behind a
// transaction-mode connection pooler (PgBouncer), where a connection's session settings
// are not ours: a startup parameter is refused by the pooler (`unsupported startup
// parameter`), and a session SET would stay on a server connection that the next
// transaction, of another pod, gets. So the bound comes from two places that a pooler
// cannot lose:
//  - the database's default (ALTER DATABASE … SET statement_timeout), written by the
//    migration command (bin/migrate.ts), which every new server session starts with:
//    it covers the single statements sent outside a transaction;
//  - SET LOCAL at the start of each transaction the code opens (lib/db/database.ts),
//    which ends with the transaction: the process's own bound on the statements that hold
//    row locks, whatever the database's default says.
// Readiness checks that the default is in force (lib/runtime.ts), so a database never
// migrated by this version, or whose default was reset, is seen rather than silently
// unbounded.
import type { Queryable } from './database.js';
import { quoteIdent } from './grants.js';

/** The contract's bound on one statement: a hung database is answered 503, not waited on. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;

/** SET cannot take a parameter: the bound is a whole number of milliseconds, checked here. */
function milliseconds(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms <= 0)
    throw new Error(`a statement timeout must be a positive whole number of milliseconds, got ${ms}`);
  return String(ms);
}

/** The statement that opens a transaction with the bound (one round trip: a simple query). */
export function beginWithTimeout(ms: number): string {
  return `BEGIN; SET LOCAL statement_timeout = ${milliseconds(ms)}`;
}

/** The statement_timeout a new statement outside a transaction runs under, in ms (0: none). */
export async function sessionStatementTimeout(db: Queryable): Promise<number> {
  const [row] = await db.query<{ ms: number }>(
    "SELECT setting::int AS ms FROM pg_settings WHERE name = 'statement_timeout'",
  );
  return row?.ms ?? 0;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** A statement_timeout as ALTER … SET stores it ('10000', '10s', '1min'), in ms; undefined if unreadable. */
export function parseTimeout(value: string): number | undefined {
  const match = /^\s*'?(\d+)\s*(us|ms|s|min|h|d)?'?\s*$/.exec(value);
  if (match?.[1] === undefined) return undefined;
  return Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] as number);
}

/**
 * The statement_timeout a session of this role on this database starts with, from the
 * defaults ALTER ROLE / ALTER DATABASE … SET wrote (the most specific wins, as at login);
 * undefined when none is set there (the server's configuration then applies).
 */
export async function newSessionStatementTimeout(db: Queryable): Promise<number | undefined> {
  const [row] = await db.query<{ value: string }>(
    `SELECT substr(option, length('statement_timeout=') + 1) AS value
       FROM pg_db_role_setting s, unnest(s.setconfig) AS option
      WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
        AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = current_user))
        AND option LIKE 'statement_timeout=%'
      ORDER BY s.setrole <> 0 DESC, s.setdatabase <> 0 DESC
      LIMIT 1`,
  );
  return row === undefined ? undefined : parseTimeout(row.value);
}

const bounded = (value: number | undefined, ms: number): boolean => value !== undefined && value > 0 && value <= ms;

/**
 * Why a statement outside a transaction may run unbounded by `ms`; undefined when it may
 * not. In force means: the session the check ran on has the bound, or the defaults give it
 * to every new session. (A connection opened before the migration set the default keeps
 * its old setting until renewed: the pool's maxLifetimeSeconds, a pooler's server_lifetime.)
 */
export async function statementTimeoutProblem(db: Queryable, ms: number): Promise<string | undefined> {
  const current = await sessionStatementTimeout(db);
  if (bounded(current, ms)) return undefined;
  const next = await newSessionStatementTimeout(db);
  if (bounded(next, ms)) return undefined;
  return `statement_timeout is ${current === 0 ? 'off' : `${current} ms`} on new sessions, expected at most ${ms} ms; run the migrations (they set the database's default)`;
}

// Serialises migration commands that run together: two ALTER DATABASE … SET on the same
// database at once fail with "tuple concurrently updated".
const DEFAULT_LOCK_KEY = 0x434f46524152;

/**
 * Makes `ms` the default statement_timeout of every new session on the current database
 * (the functions' through a pooler included), in the transaction `tx`. Only the database's
 * owner (or a superuser) may; the migration runs as the owner role. Takes effect for
 * sessions opened afterwards: connections opened before keep their setting until they are
 * renewed (the pools' maxLifetimeSeconds, PgBouncer's server_lifetime).
 */
export async function setDatabaseStatementTimeout(tx: Queryable, ms: number): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [DEFAULT_LOCK_KEY]);
  const [where] = await tx.query<{ database: string; owns: boolean }>(
    `SELECT current_database() AS database,
            pg_has_role(current_user, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'MEMBER') AS owns`,
  );
  if (where === undefined) throw new Error('no current database');
  if (!where.owns) {
    // A superuser may have set it already.
    if (bounded(await newSessionStatementTimeout(tx), ms)) return;
    throw new Error(
      `the migration's role does not own database ${where.database}, so it cannot set its statement_timeout; ` +
        `as a superuser: ALTER DATABASE ${quoteIdent(where.database)} SET statement_timeout = ${milliseconds(ms)} (docs/capacity.md)`,
    );
  }
  await tx.query(`ALTER DATABASE ${quoteIdent(where.database)} SET statement_timeout = ${milliseconds(ms)}`);
}
